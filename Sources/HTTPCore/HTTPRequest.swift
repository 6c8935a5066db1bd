/// A parsed HTTP request. The body is complete (the server never streams bodies to handlers).
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The request target exactly as sent (`/scim/v2/Users?filter=...`).
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: HTTPMethod, target: String, version: HTTPVersion = .http1_1,
                headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// The path part of the target, still percent-encoded.
    public var path: Substring {
        // Byte search: `?` and `#` are ASCII, and Character iteration is far slower.
        if let q = target.utf8.firstIndex(where: { $0 == 0x3F || $0 == 0x23 }) { return target[..<q] }
        return target[...]
    }

    /// The raw query string after `?` (without any fragment), or nil.
    public var query: Substring? {
        let utf8 = target.utf8
        guard let q = utf8.firstIndex(of: 0x3F) else { return nil }
        let start = utf8.index(after: q)
        let end = utf8[start...].firstIndex(of: 0x23) ?? utf8.endIndex
        return target[start..<end]
    }

    /// Whether the connection may stay open after this request (RFC 9112 §9.3).
    public var keepAlive: Bool {
        if headers.hasToken("close", in: "Connection") { return false }
        if version.major == 1 && version.minor >= 1 { return true }
        return headers.hasToken("keep-alive", in: "Connection")
    }
}
