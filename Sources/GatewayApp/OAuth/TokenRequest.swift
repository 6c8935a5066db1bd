import Crypto
import HTTPCore

/// A client credentials token request (RFC 6749 §4.4.2), checked before anything is looked up: a form body, each
/// parameter at most once (§3.2), `grant_type=client_credentials`, and the client's credentials by exactly one
/// method: HTTP Basic (`client_secret_basic`, §2.3.1: id and secret form-encoded, then base64) or the body
/// (`client_secret_post`). Pure: no I/O, fuzzable.
struct TokenRequest: Sendable, Equatable {
    enum Method: String, Sendable { case basic = "client_secret_basic", post = "client_secret_post" }

    /// A client credentials request is a few short parameters; anything longer is not one.
    static let maxBodyBytes = 4096

    var clientID: String
    var clientSecret: String
    var method: Method
    var scope: String?

    static func parse(_ request: HTTPRequest) -> Result<TokenRequest, OAuthError> {
        let contentType = request.headers["Content-Type"] ?? ""
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: " \t") } ?? ""
        guard asciiCaseInsensitiveEquals(mediaType, "application/x-www-form-urlencoded") else {
            return .failure(.invalidRequest("the body must be application/x-www-form-urlencoded"))
        }
        guard request.body.count <= maxBodyBytes else {
            return .failure(.invalidRequest("the request body is larger than \(maxBodyBytes) bytes"))
        }
        guard let text = String(validating: request.body, as: UTF8.self), let form = QueryParameters(text) else {
            return .failure(.invalidRequest("the body is not valid form encoding"))
        }
        if let query = request.query, let q = QueryParameters(query), q.count(of: "client_secret") > 0 {
            return .failure(.invalidRequest("client_secret must not be sent in the URL"))
        }
        for name in ["grant_type", "client_id", "client_secret", "scope"] where form.count(of: name) > 1 {
            return .failure(.invalidRequest("parameter \(name) is repeated"))
        }
        guard let grant = form["grant_type"], !grant.isEmpty else {
            return .failure(.invalidRequest("grant_type is required"))
        }
        guard grant == "client_credentials" else { return .failure(.unsupportedGrantType()) }
        let scope = form["scope"]

        if let authorization = request.headers["Authorization"] {
            guard let (id, secret) = basicCredentials(authorization) else {
                return .failure(.invalidClient("the Authorization header must be HTTP Basic with the client id and secret"))
            }
            if form["client_secret"] != nil {
                return .failure(.invalidRequest("use one client authentication method: HTTP Basic or client_secret in the body, not both"))
            }
            if let bodyID = form["client_id"], bodyID != id {
                return .failure(.invalidRequest("client_id in the body differs from the one in the Authorization header"))
            }
            return .success(TokenRequest(clientID: id, clientSecret: secret, method: .basic, scope: scope))
        }
        guard let id = form["client_id"], !id.isEmpty, let secret = form["client_secret"], !secret.isEmpty else {
            return .failure(.invalidClient("client authentication required: HTTP Basic, or client_id and client_secret in the body"))
        }
        return .success(TokenRequest(clientID: id, clientSecret: secret, method: .post, scope: scope))
    }

    /// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1; a plain `id:secret` decodes the same).
    static func basicCredentials(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, asciiCaseInsensitiveEquals(parts[0], "basic"),
              let bytes = Base64.decode(parts[1].trimmingCharacters(in: " \t")),
              let text = String(validating: bytes, as: UTF8.self), let colon = text.firstIndex(of: ":"),
              let id = PercentEncoding.decode(text[..<colon], plusAsSpace: true),
              let secret = PercentEncoding.decode(text[text.index(after: colon)...], plusAsSpace: true),
              !id.isEmpty, !secret.isEmpty else { return nil }
        return (id, secret)
    }
}

extension StringProtocol {
    /// The text without leading and trailing characters from `set` (ASCII only).
    fileprivate func trimmingCharacters(in set: String) -> String {
        let drop = Set(set.utf8)
        var bytes = Substring(self).utf8[...]
        while let f = bytes.first, drop.contains(f) { bytes = bytes.dropFirst() }
        while let l = bytes.last, drop.contains(l) { bytes = bytes.dropLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
