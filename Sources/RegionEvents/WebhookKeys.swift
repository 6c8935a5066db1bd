import Crypto
import JSON
import Postgres
package import RegionLink
import SCIMCore
import Synchronization
import Locking
import RegionSCIM

/// The keyring's `webhook` keys, as this process currently knows them (updated when the keyring file changes).
/// Endpoint secrets are sealed under the current key; any key still in the keyring opens what it sealed.
package final class WebhookKeys: Sendable {
    private let keyring: Lock<Keyring>

    /// Keys from `keyring` (only its `webhook` entries are used).
    package init(_ keyring: Keyring = Keyring()) { self.keyring = Lock(keyring) }

    /// Takes the keys of a reloaded keyring.
    package func update(_ keyring: Keyring) { self.keyring.withLock { $0 = keyring } }

    var current: Key? { keyring.withLock { $0.current(.webhook) } }

    func key(id: String) -> Key? { keyring.withLock { $0.key(.webhook, id: id) } }

    /// The AES key for a keyring secret: derived, so the raw keyring secret is never used for two things.
    static func sealingKey(_ key: Key) -> [UInt8] { key.mac.mac("scim-gateway webhook secret sealing v1") }

    /// Associated data: a sealed secret only opens for the tenant it was sealed for.
    static func associatedData(tenant: String) -> [UInt8] { Array("webhook-secret\n\(tenant)".utf8) }

    /// Seals an endpoint secret; nil when the keyring has no current webhook key.
    func seal(_ secret: String, tenant: String) -> (keyID: String, sealed: [UInt8])? {
        guard let key = current else { return nil }
        return (key.id, SecretBox.seal(Array(secret.utf8), key: Self.sealingKey(key), associatedData: Self.associatedData(tenant: tenant)))
    }

    /// Opens a sealed secret; nil when the key is gone from the keyring or the value does not open.
    func open(_ sealed: [UInt8], keyID: String, tenant: String) -> String? {
        guard let key = key(id: keyID),
              let plain = SecretBox.open(sealed, key: Self.sealingKey(key), associatedData: Self.associatedData(tenant: tenant))
        else { return nil }
        return String(decoding: plain, as: UTF8.self)
    }
}
