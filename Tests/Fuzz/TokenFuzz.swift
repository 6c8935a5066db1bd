// libFuzzer target: the bearer-token parser (Sources/GatewayApp/TokenFormat.swift, compiled into this target as
// is: it is pure apart from Crypto's CRC-32/Base62) and the Authorization header reader in front of it.
// Properties:
// - Whatever is accepted is canonical: the credential prints back to exactly the presented text (`scim_…` form or
//   Profit.co's `id:secret` form), with a base62 id and secret of the fixed lengths.
// - A tenant token is never an admin credential and vice versa.
// - Bytes the fuzzer turns into a well-formed token (checksum computed) are always accepted; flipping any one
//   character of it is always refused.
// - `bearerToken` is idempotent: `Bearer <what it returned>` returns the same thing.
import Crypto

func checkAccepted(_ text: String, kind: TokenCredential.Kind) {
    guard case .success(let c) = TokenCredential.parse(text, kind: kind) else { return }
    if c.kind != kind { fatalError("parsed as the wrong kind") }
    if c.id.utf8.count != TokenCredential.idLength || c.secret.utf8.count != TokenCredential.secretLength
        || !Base62.isBase62(Substring(c.id)) || !Base62.isBase62(Substring(c.secret)) {
        fatalError("accepted a credential with a malformed id or secret")
    }
    if c.token != text && c.keyPairForm != text { fatalError("accepted text is not the credential's canonical form") }
    if c.keyPairForm == text && kind == .admin { fatalError("admin credential accepted in the key-pair form") }
    let other: TokenCredential.Kind = kind == .tenant ? .admin : .tenant
    if c.token == text, case .success = TokenCredential.parse(text, kind: other) { fatalError("token accepted as both kinds") }
}

/// Builds a well-formed credential from fuzz bytes (each byte picks a base62 character).
func credential(from bytes: ArraySlice<UInt8>, kind: TokenCredential.Kind) -> TokenCredential? {
    guard bytes.count >= TokenCredential.idLength + TokenCredential.secretLength else { return nil }
    let chars = bytes.prefix(TokenCredential.idLength + TokenCredential.secretLength)
        .map { Character(Unicode.Scalar(Base62.alphabet[Int($0) % 62])) }
    return TokenCredential(kind: kind, id: String(chars.prefix(TokenCredential.idLength)),
                           secret: String(chars.dropFirst(TokenCredential.idLength)))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzToken(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)

    checkAccepted(text, kind: .tenant)
    checkAccepted(text, kind: .admin)

    if let presented = bearerToken(fromAuthorization: text) {
        if presented.isEmpty { fatalError("empty bearer token returned") }
        if bearerToken(fromAuthorization: "Bearer " + presented) != presented { fatalError("bearerToken is not idempotent") }
        checkAccepted(presented, kind: .tenant)
    }

    let kind: TokenCredential.Kind = (bytes.first ?? 0) & 1 == 0 ? .tenant : .admin
    if let c = credential(from: bytes.dropFirst(), kind: kind) {
        guard TokenCredential.parse(c.token, kind: kind) == .success(c) else { fatalError("well-formed token refused") }
        if kind == .tenant, TokenCredential.parse(c.keyPairForm, kind: .tenant) != .success(c) {
            fatalError("well-formed key pair refused")
        }
        // One substituted character (position and replacement from the input) must be refused.
        var chars = Array(c.token.utf8)
        let position = Int(bytes.count > 50 ? bytes[49] : 0) % chars.count
        let replacement = Base62.alphabet[Int(bytes.count > 51 ? bytes[50] : 1) % 62]
        if chars[position] != replacement {
            chars[position] = replacement
            if case .success = TokenCredential.parse(String(decoding: chars, as: UTF8.self), kind: kind) {
                // CRC-32 catches every single-symbol substitution of a 60-byte message.
                fatalError("a token with one substituted character was accepted")
            }
        }
    }
    return 0
}
