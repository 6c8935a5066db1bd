public import HTTPCore
import Crypto
import Synchronization
import Locking

/// Verifies signed requests on the region side: known key id (current, previous or next), constant-time MAC
/// comparison, timestamp within `window` seconds, and each nonce accepted once within that window.
public final class LinkVerifier: Sendable {
    private let keyring: Lock<Keyring>
    public let windowSeconds: Int
    private let seen = Lock<NonceCache>(NonceCache())

    public init(keyring: Keyring, windowSeconds: Int = 60) {
        self.keyring = Lock(keyring)
        self.windowSeconds = windowSeconds
    }

    /// Swaps in a reloaded keyring (key rotation without restart).
    public func update(_ keyring: Keyring) { self.keyring.withLock { $0 = keyring } }

    public func verify(_ request: HTTPRequest, nowSeconds: Int) -> Result<LinkContext, LinkRejection> {
        let h = request.headers
        guard let signatureHex = h[LinkHeader.signature], let keyID = h[LinkHeader.keyID] else { return .failure(.unsigned) }
        guard let tenant = h[LinkHeader.tenant], !tenant.isEmpty, let timestampText = h[LinkHeader.timestamp],
              let timestamp = Int(timestampText), let nonce = h[LinkHeader.nonce], nonce.utf8.count >= 16,
              let signature = Hex.decode(signatureHex), signature.count == 32 else {
            return .failure(.malformed)
        }
        guard let key = keyring.withLock({ $0.key(.link, id: keyID) }) else { return .failure(.unknownKey) }
        let expected = key.mac.mac(LinkSignature.canonical(
            method: request.method.description, target: request.target, headers: h, body: request.body))
        guard constantTimeEquals(expected, signature) else { return .failure(.badSignature) }
        guard abs(nowSeconds - timestamp) <= windowSeconds else { return .failure(.stale) }
        let fresh = seen.withLock { $0.insert(nonce, expires: timestamp + windowSeconds, now: nowSeconds) }
        guard fresh else { return .failure(.replayed) }
        return .success(LinkContext(tenant: tenant, baseURL: h[LinkHeader.baseURL] ?? "",
                                    requestID: h[LinkHeader.requestID] ?? "", keyID: keyID))
    }
}
