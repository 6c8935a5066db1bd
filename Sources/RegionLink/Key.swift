public import Crypto

/// One secret key with an id. `secret` never appears in `description`.
public struct Key: Sendable, Equatable, CustomStringConvertible {
    public static func == (a: Key, b: Key) -> Bool {
        a.purpose == b.purpose && a.id == b.id && a.secret == b.secret && a.state == b.state
    }

    public enum State: String, Sendable {
        /// Used to sign (link) or to hash new tokens (pepper). Exactly one per purpose.
        case current
        /// Still accepted / still able to verify, never used for new signatures or hashes.
        case previous
        /// Accepted by verifiers, not yet used by signers (first step of a zero-downtime rotation).
        case next
    }
    public enum Purpose: String, Sendable {
        /// Gateway↔region request signing.
        case link
        /// Token-hash pepper (HMAC key over token secrets).
        case pepper
        /// Seals webhook signing secrets at rest in a region's database (AES-256-GCM; regions only).
        case webhook
    }

    public var purpose: Purpose
    public var id: String
    public private(set) var secret: [UInt8]
    public var state: State
    /// The secret prepared for HMAC (pads absorbed once, not per request).
    public private(set) var mac: HMACKey

    public init(purpose: Purpose, id: String, secret: [UInt8], state: State) {
        self.purpose = purpose
        self.id = id
        self.secret = secret
        self.state = state
        self.mac = HMACKey(secret)
    }

    public var description: String { "\(purpose.rawValue) key \(id) (\(state.rawValue))" }

    /// A new random 256-bit key.
    public static func generate(purpose: Purpose, id: String, state: State) -> Key {
        Key(purpose: purpose, id: id, secret: SecureRandom.bytes(32), state: state)
    }
}
