import Crypto

/// An OAuth client's credentials (docs/oauth.md): a public `client_id` (`scimcli_` + 16 base62) and a
/// `client_secret` (`scimsec_` + 32 base62 + a 6-character CRC-32 checksum, so a pasted fragment or junk is refused
/// before any lookup and a leaked secret is recognisable to scanners). Only HMAC(pepper, id and secret) is stored.
struct OAuthClientCredential: Sendable, Equatable {
    static let idPrefix = "scimcli_"
    static let secretPrefix = "scimsec_"
    static let idLength = 16
    static let secretLength = 32
    static let checkLength = 6

    /// The full `client_id`, prefix included.
    var clientID: String
    /// The random part of the secret (no prefix, no checksum).
    var secret: String

    static func generate() -> OAuthClientCredential {
        OAuthClientCredential(clientID: idPrefix + Base62.random(idLength), secret: Base62.random(secretLength))
    }

    /// A new secret for the same client (rotation).
    func withNewSecret() -> OAuthClientCredential {
        OAuthClientCredential(clientID: clientID, secret: Base62.random(Self.secretLength))
    }

    /// The `client_secret` as shown once.
    var clientSecret: String {
        let body = Self.secretPrefix + secret
        return body + Base62.encode32(CRC32.checksum(body.utf8))
    }

    /// Whether `s` looks like one of our client ids (no lookup for anything else).
    static func isClientID(_ s: String) -> Bool {
        let b = Array(s.utf8), p = Array(idPrefix.utf8)
        guard b.count == p.count + idLength, b.starts(with: p) else { return false }
        return b[p.count...].allSatisfy(Base62.isDigit)
    }

    /// Recognises a presented `client_secret` for `clientID`; nil for anything malformed or with a bad checksum.
    static func parse(clientID: String, clientSecret: String) -> OAuthClientCredential? {
        guard isClientID(clientID) else { return nil }
        let b = Array(clientSecret.utf8), p = Array(secretPrefix.utf8)
        guard b.count == p.count + secretLength + checkLength, b.starts(with: p) else { return nil }
        let secret = b[p.count..<(p.count + secretLength)], check = b[(p.count + secretLength)...]
        guard secret.allSatisfy(Base62.isDigit), check.allSatisfy(Base62.isDigit),
              check.elementsEqual(Base62.encode32(CRC32.checksum(b[..<(p.count + secretLength)])).utf8) else { return nil }
        return OAuthClientCredential(clientID: clientID, secret: String(decoding: secret, as: UTF8.self))
    }

    /// What is stored and compared: HMAC-SHA-256 under a pepper that lives outside the database.
    func hash(pepper: HMACKey) -> [UInt8] {
        pepper.mac("scim-oauth-client-v1:" + clientID + ":" + secret)
    }

    func hash(pepper: [UInt8]) -> [UInt8] { hash(pepper: HMACKey(pepper)) }
}
