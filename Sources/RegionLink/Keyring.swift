public import Crypto

/// The secrets a process holds: link keys and token peppers, loaded from a keyring file kept outside the repo.
///
/// File format, one key per line (`#` comments and blank lines ignored):
///
///     link   l-2026-11-23  <base64 secret, ≥ 32 bytes>  current
///     link   l-2026-08-01  <base64 secret>              previous
///     pepper p-2026-11-23  <base64 secret>              current
///     webhook w-2026-11-23 <base64 secret>              current
public struct Keyring: Sendable, Equatable {
    public private(set) var keys: [Key]

    public init(keys: [Key] = []) { self.keys = keys }

    /// Parses keyring text. Errors name the line number and the problem, never a secret.
    public init(text: String) throws(KeyringError) {
        var keys: [Key] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            let lineNumber = index + 1
            guard fields.count == 4 else {
                throw KeyringError("line \(lineNumber): expected 'purpose id secret state'")
            }
            guard let purpose = Key.Purpose(rawValue: String(fields[0])) else {
                throw KeyringError("line \(lineNumber): purpose must be 'link', 'pepper' or 'webhook'")
            }
            let id = String(fields[1])
            guard !id.isEmpty, id.utf8.count <= 64,
                  id.utf8.allSatisfy({ Base62.isBase62(Substring(decoding: [$0], as: UTF8.self)) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E })
            else {
                throw KeyringError("line \(lineNumber): key id must be 1-64 characters of [A-Za-z0-9._-]")
            }
            guard let secret = Base64.decode(String(fields[2])), secret.count >= 32 else {
                throw KeyringError("line \(lineNumber): secret must be base64 of at least 32 bytes")
            }
            guard let state = Key.State(rawValue: String(fields[3])) else {
                throw KeyringError("line \(lineNumber): state must be current, previous or next")
            }
            if keys.contains(where: { $0.purpose == purpose && $0.id == id }) {
                throw KeyringError("line \(lineNumber): duplicate \(purpose.rawValue) key id \(id)")
            }
            keys.append(Key(purpose: purpose, id: id, secret: secret, state: state))
        }
        self.keys = keys
        for purpose in [Key.Purpose.link, .pepper, .webhook] {
            let current = keys.filter { $0.purpose == purpose && $0.state == .current }.count
            if current > 1 { throw KeyringError("more than one current \(purpose.rawValue) key") }
        }
    }

    /// The keyring as file text.
    public var text: String {
        var lines = ["# SCIM gateway keyring: purpose id secret(base64) state. Keep this file secret."]
        for key in keys {
            lines.append("\(key.purpose.rawValue) \(key.id) \(Base64.encode(key.secret)) \(key.state.rawValue)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func current(_ purpose: Key.Purpose) -> Key? {
        keys.first { $0.purpose == purpose && $0.state == .current }
    }

    /// A key of `purpose` by id, whatever its state (verification accepts current, previous and next).
    public func key(_ purpose: Key.Purpose, id: String) -> Key? {
        keys.first { $0.purpose == purpose && $0.id == id }
    }

    public func keys(_ purpose: Key.Purpose) -> [Key] { keys.filter { $0.purpose == purpose } }

    public mutating func add(_ key: Key) { keys.append(key) }

    public mutating func remove(_ purpose: Key.Purpose, id: String) {
        keys.removeAll { $0.purpose == purpose && $0.id == id }
    }

    public mutating func setState(_ purpose: Key.Purpose, id: String, _ state: Key.State) {
        for i in keys.indices where keys[i].purpose == purpose && keys[i].id == id { keys[i].state = state }
    }
}
