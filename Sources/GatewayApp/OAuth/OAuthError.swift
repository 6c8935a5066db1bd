import HTTPCore
import JSON

/// A token-endpoint refusal in the shape of RFC 6749 §5.2: `{"error": <code>, "error_description": …}`, with
/// `Cache-Control: no-store`. The description never echoes what the client sent.
struct OAuthError: HTTPResponseError {
    var status: Int
    var code: String
    var description: String
    var retryAfterSeconds: Int? = nil
    var responseHeaders: [(String, String)] = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]

    func responseBody(accept: String?) -> (contentType: String, body: [UInt8]) {
        ("application/json", JSONValue.object(["error": .string(code), "error_description": .string(description)]).encoded())
    }

    static func invalidRequest(_ d: String) -> OAuthError { OAuthError(status: 400, code: "invalid_request", description: d) }

    /// 401 with a `Basic` challenge (RFC 6749 §5.2: required when the client tried the Authorization header, and
    /// harmless otherwise).
    static func invalidClient(_ d: String = "client authentication failed") -> OAuthError {
        var e = OAuthError(status: 401, code: "invalid_client", description: d)
        e.responseHeaders.append(("WWW-Authenticate", "Basic realm=\"scim-oauth\", charset=\"UTF-8\""))
        return e
    }

    static func unsupportedGrantType() -> OAuthError {
        OAuthError(status: 400, code: "unsupported_grant_type", description: "only grant_type=client_credentials is supported")
    }

    static func unauthorizedClient(_ d: String) -> OAuthError { OAuthError(status: 400, code: "unauthorized_client", description: d) }

    /// 429 or 503 with `Retry-After`. RFC 6749 has no code for either; `temporarily_unavailable` is the registered
    /// code that says "try again later" (RFC 6749 §4.1.2.1) and is what clients log sensibly.
    static func unavailable(status: Int, _ d: String, retryAfter: Int) -> OAuthError {
        OAuthError(status: status, code: "temporarily_unavailable", description: d, retryAfterSeconds: retryAfter)
    }

    static func misdirected(_ d: String) -> OAuthError { OAuthError(status: 421, code: "invalid_request", description: d) }

    static func methodNotAllowed() -> OAuthError {
        var e = OAuthError(status: 405, code: "invalid_request", description: "the token endpoint takes POST")
        e.responseHeaders.append(("Allow", "POST"))
        return e
    }
}
