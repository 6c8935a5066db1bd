public import HTTPCore
import Crypto
import Synchronization
import Locking

/// The headers the gateway adds to every request it forwards to a region. All of them are covered by the
/// signature, so a region can trust the tenant id and base URL they carry.
public enum LinkHeader {
    public static let tenant = "X-SCIM-Tenant"
    /// The public SCIM base URL the IdP used (e.g. `https://eu2-api.example.com/scim/v2`), for `Location` and `meta.location`.
    public static let baseURL = "X-SCIM-Base-URL"
    public static let requestID = "X-Request-Id"
    public static let timestamp = "X-SCIM-Timestamp"
    public static let nonce = "X-SCIM-Nonce"
    public static let keyID = "X-SCIM-Key-Id"
    public static let signature = "X-SCIM-Signature"

    /// In signing order. Changing this list is a protocol change: bump `LinkSignature.version`.
    public static let signed = [tenant, baseURL, requestID, timestamp, nonce, keyID]
}

/// HMAC-SHA-256 over method, target, the signed headers and the body digest.
public enum LinkSignature {
    public static let version = "scim-link-1"

    /// The exact bytes that are MACed.
    public static func canonical(method: String, target: String, headers: HTTPHeaders, body: [UInt8]) -> [UInt8] {
        var text = version + "\n" + method + "\n" + target + "\n"
        for name in LinkHeader.signed {
            text += (headers[name] ?? "") + "\n"
        }
        text += Hex.encode(SHA256.hash(body))
        return Array(text.utf8)
    }

    /// Adds the link headers and the signature to a request about to be forwarded.
    public static func sign(_ request: inout HTTPRequest, tenant: String, baseURL: String, requestID: String,
                            key: Key, nowSeconds: Int) {
        for name in LinkHeader.signed + [LinkHeader.signature] { request.headers.remove(name) }
        request.headers.add(LinkHeader.tenant, tenant)
        request.headers.add(LinkHeader.baseURL, baseURL)
        request.headers.add(LinkHeader.requestID, requestID)
        request.headers.add(LinkHeader.timestamp, String(nowSeconds))
        request.headers.add(LinkHeader.nonce, UniqueID.next())
        request.headers.add(LinkHeader.keyID, key.id)
        let mac = key.mac.mac(canonical(method: request.method.description, target: request.target,
                                        headers: request.headers, body: request.body))
        request.headers.add(LinkHeader.signature, Hex.encode(mac))
    }
}

/// Why a region refused a request as not coming from the gateway. The reasons are fixed phrases.
public enum LinkRejection: Error, Sendable, Equatable, CustomStringConvertible {
    case unsigned
    case unknownKey
    case badSignature
    case stale
    case replayed
    case malformed

    public var description: String {
        switch self {
        case .unsigned: "request is not signed by the gateway"
        case .unknownKey: "unknown signing key id"
        case .badSignature: "signature does not match"
        case .stale: "timestamp outside the accepted window"
        case .replayed: "request replayed"
        case .malformed: "malformed signature headers"
        }
    }
}

/// What a verified request tells the region.
public struct LinkContext: Sendable, Equatable {
    public var tenant: String
    public var baseURL: String
    public var requestID: String
    public var keyID: String
}

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

/// Nonces seen within the replay window, expired in arrival order.
struct NonceCache: Sendable {
    private var expiries: [String: Int] = [:]
    private var order: [(String, Int)] = []
    private var head = 0

    /// False when `nonce` was already seen and has not expired.
    mutating func insert(_ nonce: String, expires: Int, now: Int) -> Bool {
        while head < order.count, order[head].1 < now {
            if expiries[order[head].0] == order[head].1 { expiries[order[head].0] = nil }
            head += 1
        }
        if head > 4096 && head * 2 > order.count {
            order.removeSubrange(0..<head)
            head = 0
        }
        if let e = expiries[nonce], e >= now { return false }
        expiries[nonce] = expires
        order.append((nonce, expires))
        return true
    }
}
