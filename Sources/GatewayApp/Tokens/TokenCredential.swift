import Crypto

/// The bearer credentials we issue, and how a presented one is recognised without touching the database.
///
/// `scim_<id:16>_<secret:32><check:6>`: a recognisable prefix (secret scanners and humans spot a leaked token),
/// a public id (looked up in the control plane), a secret (only its HMAC is stored) and a CRC-32 checksum in
/// base62, so typos and junk are refused before any lookup. Admin credentials use the prefix `scimadm_`, OAuth
/// access tokens (issued by the token endpoint, short-lived) `scimat_`.
/// Profit.co's client sends `API_KEY:SCIM_KEY`; we accept `<id>:<secret>` as the same credential.
struct TokenCredential: Sendable, Equatable {
    enum Kind: String, Sendable {
        case tenant = "scim_"
        case admin = "scimadm_"
        case access = "scimat_"
        /// A setup link's credential (the last path segment of the link).
        case setup = "scimsetup_"

        /// The kind a presented SCIM credential claims by its prefix: an OAuth access token or a tenant token.
        static func scim(_ presented: String) -> Kind {
            presented.utf8.starts(with: Kind.access.rawValue.utf8) ? .access : .tenant
        }
    }

    static let idLength = 16
    static let secretLength = 32
    static let checkLength = 6

    var kind: Kind
    var id: String
    var secret: String

    /// A fresh random credential.
    static func generate(_ kind: Kind) -> TokenCredential {
        TokenCredential(kind: kind, id: Base62.random(idLength), secret: Base62.random(secretLength))
    }

    /// The full token string, shown once.
    var token: String {
        let body = kind.rawValue + id + "_" + secret
        return body + Base62.encode32(CRC32.checksum(body.utf8))
    }

    /// The `API_KEY:SCIM_KEY` form for clients that ask for two fields (Profit.co).
    var keyPairForm: String { id + ":" + secret }

    /// Why a presented credential was refused before any lookup. Fixed phrases: never echo the input.
    enum ParseFailure: Error, Sendable, Equatable {
        case missing
        case malformed
        case badChecksum
    }

    /// Recognises a presented token of `kind` (tenant tokens also in the `id:secret` form). Works on bytes: it runs
    /// for every request, before any lookup.
    static func parse(_ presented: String, kind: Kind) -> Result<TokenCredential, ParseFailure> {
        let bytes = Array(presented.utf8)
        if bytes.isEmpty { return .failure(.missing) }
        let prefix = Array(kind.rawValue.utf8)
        func isBase62(_ range: Range<Int>) -> Bool {
            for i in range {
                let c = bytes[i]
                if !((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)) { return false }
            }
            return true
        }
        func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        if bytes.count > prefix.count && bytes[0..<prefix.count].elementsEqual(prefix) {
            let p = prefix.count
            guard bytes.count == p + idLength + 1 + secretLength + checkLength else { return .failure(.malformed) }
            let id = p..<(p + idLength)
            let secret = (p + idLength + 1)..<(p + idLength + 1 + secretLength)
            let check = secret.upperBound..<bytes.count
            guard bytes[id.upperBound] == 0x5F, isBase62(id), isBase62(secret), isBase62(check) else {
                return .failure(.malformed)
            }
            let expected = Array(Base62.encode32(CRC32.checksum(bytes[0..<check.lowerBound])).utf8)
            guard bytes[check].elementsEqual(expected) else { return .failure(.badChecksum) }
            return .success(TokenCredential(kind: kind, id: text(id), secret: text(secret)))
        }
        if kind == .tenant, let colon = bytes.firstIndex(of: 0x3A) {
            let id = 0..<colon, secret = (colon + 1)..<bytes.count
            guard id.count == idLength, secret.count == secretLength, isBase62(id), isBase62(secret) else {
                return .failure(.malformed)
            }
            return .success(TokenCredential(kind: kind, id: text(id), secret: text(secret)))
        }
        return .failure(.malformed)
    }

    /// The stored hash under a prepared pepper key (the per-request path).
    func hash(pepper: HMACKey) -> [UInt8] {
        pepper.mac("scim-token-v1:" + kind.rawValue + id + ":" + secret)
    }

    /// What is stored: HMAC-SHA-256 under a pepper key that lives outside the database.
    func hash(pepper: [UInt8]) -> [UInt8] {
        hash(pepper: HMACKey(pepper))
    }
}

/// Extracts the credential from an `Authorization` header value: `Bearer <token>` (scheme case-insensitive).
/// Okta's "HTTP Header" mode pastes the raw token and adds `Bearer ` itself; some admins paste `Bearer …` into it,
/// giving `Bearer Bearer …`, which we accept too.
func bearerToken(fromAuthorization value: String?) -> String? {
    guard let value else { return nil }
    var bytes = Substring(value).utf8[...]
    var found = false
    // "bearer" followed by spaces, possibly repeated (case-insensitive), compared as bytes.
    while bytes.count > 7, let first = bytes.first, first | 0x20 == 0x62 {
        let word = bytes.prefix(6)
        guard word.count == 6, zip(word, "bearer".utf8).allSatisfy({ ($0 | 0x20) == $1 }),
              bytes.dropFirst(6).first == 0x20 else { break }
        bytes = bytes.dropFirst(7).drop(while: { $0 == 0x20 })
        found = true
    }
    guard found else { return nil }
    while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
    return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
}
