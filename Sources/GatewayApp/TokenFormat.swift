import Crypto

/// The bearer credentials we issue, and how a presented one is recognised without touching the database.
///
/// `scim_<id:16>_<secret:32><check:6>`: a recognisable prefix (secret scanners and humans spot a leaked token),
/// a public id (looked up in the control plane), a secret (only its HMAC is stored) and a CRC-32 checksum in
/// base62, so typos and junk are refused before any lookup. Admin credentials use the prefix `scimadm_`.
/// Profit.co's client sends `API_KEY:SCIM_KEY`; we accept `<id>:<secret>` as the same credential.
struct TokenCredential: Sendable, Equatable {
    enum Kind: String, Sendable {
        case tenant = "scim_"
        case admin = "scimadm_"
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

    /// Recognises a presented token of `kind` (tenant tokens also in the `id:secret` form).
    static func parse(_ presented: String, kind: Kind) -> Result<TokenCredential, ParseFailure> {
        let text = Substring(presented)
        if text.isEmpty { return .failure(.missing) }
        if text.hasPrefix(kind.rawValue) {
            let rest = text.dropFirst(kind.rawValue.count)
            let expected = idLength + 1 + secretLength + checkLength
            guard rest.utf8.count == expected else { return .failure(.malformed) }
            let id = rest.prefix(idLength)
            let underscore = rest.dropFirst(idLength).prefix(1)
            let secret = rest.dropFirst(idLength + 1).prefix(secretLength)
            let check = rest.suffix(checkLength)
            guard underscore == "_", Base62.isBase62(id), Base62.isBase62(secret), Base62.isBase62(check) else {
                return .failure(.malformed)
            }
            let body = text.dropLast(checkLength)
            guard Base62.encode32(CRC32.checksum(body.utf8)) == check else { return .failure(.badChecksum) }
            return .success(TokenCredential(kind: kind, id: String(id), secret: String(secret)))
        }
        if kind == .tenant, let colon = text.firstIndex(of: ":") {
            let id = text[..<colon]
            let secret = text[text.index(after: colon)...]
            guard id.utf8.count == idLength, secret.utf8.count == secretLength,
                  Base62.isBase62(id), Base62.isBase62(secret) else { return .failure(.malformed) }
            return .success(TokenCredential(kind: kind, id: String(id), secret: String(secret)))
        }
        return .failure(.malformed)
    }

    /// What is stored: HMAC-SHA-256 under a pepper key that lives outside the database.
    func hash(pepper: [UInt8]) -> [UInt8] {
        HMAC.sha256(key: pepper, message: "scim-token-v1:" + kind.rawValue + id + ":" + secret)
    }
}

/// Extracts the credential from an `Authorization` header value: `Bearer <token>` (scheme case-insensitive).
/// Okta's "HTTP Header" mode pastes the raw token and adds `Bearer ` itself; some admins paste `Bearer …` into it,
/// giving `Bearer Bearer …`, which we accept too.
func bearerToken(fromAuthorization value: String?) -> String? {
    guard let value else { return nil }
    var rest = Substring(value)
    var found = false
    while let space = rest.firstIndex(of: " "), rest[..<space].lowercased() == "bearer" {
        rest = rest[rest.index(after: space)...].drop(while: { $0 == " " })
        found = true
    }
    guard found else { return nil }
    let token = rest.trimmingSuffix()
    return token.isEmpty ? nil : String(token)
}

extension Substring {
    func trimmingSuffix() -> Substring {
        var s = self
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return s
    }
}
