/// An HTTP request method. Unknown but well-formed tokens are kept so the server can answer 501.
public enum HTTPMethod: Sendable, Hashable, CustomStringConvertible {
    case get, head, post, put, patch, delete, options
    /// Recognised (so a route answers 405 with `Allow`), never implemented by our handlers.
    case trace, connect
    case other(String)

    /// Parses a method token (case-sensitive, RFC 9110 §9.1).
    public init(token: String) {
        switch token {
        case "GET": self = .get
        case "HEAD": self = .head
        case "POST": self = .post
        case "PUT": self = .put
        case "PATCH": self = .patch
        case "DELETE": self = .delete
        case "OPTIONS": self = .options
        case "TRACE": self = .trace
        case "CONNECT": self = .connect
        default: self = .other(token)
        }
    }

    public var description: String {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .patch: "PATCH"
        case .delete: "DELETE"
        case .options: "OPTIONS"
        case .trace: "TRACE"
        case .connect: "CONNECT"
        case .other(let token): token
        }
    }

    /// Whether the server implements this method at all (anything else gets 501).
    public var isKnown: Bool {
        if case .other = self { return false }
        return true
    }

    /// Safe to retry on a fresh connection when a reused one turned out dead before answering.
    public var isIdempotent: Bool {
        switch self {
        case .get, .head, .put, .delete, .options, .trace: true
        case .post, .patch, .connect, .other: false
        }
    }
}
