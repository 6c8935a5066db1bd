public import Crypto

/// A browser session, carried in a signed cookie (no server-side session store, so any gateway replica can serve
/// any request): what kind of session, whose (an admin key id or a setup link id), which tenant, until when, and a
/// random nonce from which the CSRF token is derived. The signature is HMAC-SHA-256 under a key derived from the
/// keyring; the cookie is `HttpOnly; SameSite=Strict` and `Secure` except on loopback development.
///
/// Whoever uses a session must still check its subject on every request (the admin key or the link may have been
/// revoked since the cookie was made): the signature proves only that we issued it.
public struct WebSession: Sendable, Equatable {
    public enum Kind: String, Sendable { case console = "c", setup = "s" }

    public var kind: Kind
    public var subject: String
    public var tenant: String
    public var issuedAt: Int64
    public var expiresAt: Int64
    public var nonce: String

    public init(kind: Kind, subject: String, tenant: String, issuedAt: Int64, expiresAt: Int64,
                nonce: String = Base62.random(22)) {
        self.kind = kind
        self.subject = subject
        self.tenant = tenant
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.nonce = nonce
    }

    /// The cookie value: `v1.<payload base64url>.<mac base64url>`.
    public func sealed(with key: HMACKey) -> String {
        let payload = Array([kind.rawValue, subject, tenant, String(issuedAt), String(expiresAt), nonce].joined(separator: "|").utf8)
        return "v1." + Base64.encode(payload, urlSafe: true) + "." + Base64.encode(key.mac(payload), urlSafe: true)
    }

    /// The session in a cookie value, if one of `keys` signed it, it is of `kind`, and it has not expired.
    public static func open(_ value: String, keys: [HMACKey], kind: Kind, nowSeconds: Int64) -> WebSession? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", parts[1].utf8.count <= 1024,
              let payload = Base64.decode(String(parts[1])), let mac = Base64.decode(String(parts[2])), mac.count == 32,
              keys.contains(where: { constantTimeEquals($0.mac(payload), mac) }),
              let text = String(validating: payload, as: UTF8.self) else { return nil }
        let f = text.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard f.count == 6, f[0] == kind.rawValue, let issued = Int64(f[3]), let expires = Int64(f[4]),
              expires > nowSeconds, issued <= nowSeconds + 60 else { return nil }
        return WebSession(kind: kind, subject: f[1], tenant: f[2], issuedAt: issued, expiresAt: expires, nonce: f[5])
    }

    /// The CSRF token every form of this session carries (and every POST must return).
    public func csrfToken(with key: HMACKey) -> String {
        Base64.encode(key.mac("csrf|" + kind.rawValue + "|" + subject + "|" + nonce), urlSafe: true)
    }

    /// Constant-time check of a submitted CSRF token against any of `keys`.
    public func acceptsCSRF(_ presented: String?, keys: [HMACKey]) -> Bool {
        guard let presented, let bytes = Base64.decode(presented), bytes.count == 32 else { return false }
        return keys.contains { constantTimeEquals($0.mac("csrf|" + kind.rawValue + "|" + subject + "|" + nonce), bytes) }
    }

    /// The key sessions are signed with, derived from a keyring secret (so rotating that secret ends old sessions
    /// once the previous secret is retired).
    public static func key(from secret: [UInt8]) -> HMACKey {
        HMACKey(HMACKey(secret).mac("scim-web-session-v1"))
    }
}
