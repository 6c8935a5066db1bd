public import HTTPCore

/// A SCIM error is answered as the RFC 7644 §3.12 envelope, in the media type the client accepts
/// (`ResponseMediaType`), with `Retry-After` on 429/503 and `WWW-Authenticate` when it carries a challenge.
extension SCIMError: HTTPResponseError {
    public var responseHeaders: [(String, String)] { headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }

    public func responseBody(accept: String?) -> (contentType: String, body: [UInt8]) {
        (ResponseMediaType.negotiate(accept: accept).contentType, body)
    }
}
