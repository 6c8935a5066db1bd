// libFuzzer target: the token endpoint's request checks (Sources/GatewayApp/OAuth/TokenRequest.swift, with
// OAuthError.swift and OAuthClientCredential.swift, compiled into this target as they are: pure apart from
// HTTPCore, JSON and Crypto). The fuzz input is split into a Content-Type choice, an Authorization header and a body.
// Properties:
// - Never a crash; every refusal is a 400 or 401 with one of RFC 6749 §5.2's codes.
// - Whatever is accepted has a non-empty client id and secret, used exactly one authentication method (Basic iff an
//   Authorization header was sent), and said grant_type=client_credentials exactly once.
// - The client-secret parser accepts only the canonical form: what it accepts prints back to the same text.
import Crypto
import HTTPCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOAuth(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let rest = bytes.dropFirst()
    // Up to the first newline: the Authorization header value (when the selector's bit 1 says so); then the body.
    let newline = rest.firstIndex(of: 0x0A) ?? rest.endIndex
    let header = String(decoding: rest[rest.startIndex..<newline], as: UTF8.self)
    let body = Array(rest[min(newline + 1, rest.endIndex)...])
    var request = HTTPRequest(method: .post, target: selector & 4 == 0 ? "/oauth/token" : "/oauth/token?" + header, body: body)
    let types = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8",
                 "APPLICATION/X-WWW-FORM-URLENCODED", "application/json"]
    request.headers.add("Content-Type", types[Int(selector & 3)])
    let withAuthorization = selector & 2 != 0 && !header.isEmpty && !header.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F })
    if withAuthorization { request.headers.add("Authorization", header) }

    switch TokenRequest.parse(request) {
    case .failure(let e):
        let allowed: Set<String> = ["invalid_request", "invalid_client", "unsupported_grant_type"]
        if !allowed.contains(e.code) || !(e.status == 400 || e.status == 401) { fatalError("unexpected refusal \(e.status) \(e.code)") }
        if (e.code == "invalid_client") != (e.status == 401) { fatalError("invalid_client must be 401 and only it") }
    case .success(let r):
        if r.clientID.isEmpty || r.clientSecret.isEmpty { fatalError("accepted empty credentials") }
        if (r.method == .basic) != withAuthorization { fatalError("authentication method does not match the request") }
        guard let form = QueryParameters(String(decoding: body, as: UTF8.self)) else { fatalError("accepted an unparseable body") }
        if form["grant_type"] != "client_credentials" || form.count(of: "grant_type") != 1 { fatalError("accepted without the grant") }
        if r.method == .basic && form["client_secret"] != nil { fatalError("accepted two authentication methods") }
        if let c = OAuthClientCredential.parse(clientID: r.clientID, clientSecret: r.clientSecret) {
            if c.clientSecret != r.clientSecret || c.clientID != r.clientID { fatalError("client secret accepted in a non-canonical form") }
        }
    }
    return 0
}
