/// A failure that renders itself as an HTTP answer: the one error protocol of the three servers. The SCIM surfaces
/// (gateway proxy, region) throw `SCIMError`, which renders the RFC 7644 §3.12 envelope in the media type the
/// client accepts; the admin API throws `AdminError`, which renders its JSON error object. Every server turns a
/// failure into a response with `HTTPResponse(error:accept:)`, so status, headers and `Retry-After` are decided in
/// one place.
public protocol HTTPResponseError: Error, Sendable {
    /// The HTTP status code.
    var status: Int { get }
    /// Seconds for `Retry-After` on a 429 or 503 (a limiter's refill time, an open breaker's remaining time); nil
    /// means the default of one second.
    var retryAfterSeconds: Int? { get }
    /// Headers this failure carries besides the body's (`WWW-Authenticate`, `Allow`).
    var responseHeaders: [(String, String)] { get }
    /// The body and its `Content-Type`, for a request that sent `accept`.
    func responseBody(accept: String?) -> (contentType: String, body: [UInt8])
}

extension HTTPResponseError {
    public var retryAfterSeconds: Int? { nil }
    public var responseHeaders: [(String, String)] { [] }
}

extension HTTPResponse {
    /// The answer to a failure. Every 429 and 503 carries `Retry-After` (the error's own value, else 1 s), and no
    /// other status does.
    public init(error: some HTTPResponseError, accept: String? = nil) {
        let (contentType, body) = error.responseBody(accept: accept)
        self.init(status: HTTPStatus(code: error.status), headers: ["Content-Type": contentType], body: body)
        for (name, value) in error.responseHeaders { headers.add(name, value) }
        if error.status == 429 || error.status == 503 {
            headers.set("Retry-After", String(max(1, error.retryAfterSeconds ?? 1)))
        }
    }
}
