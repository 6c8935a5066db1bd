public import JSON

/// A SCIM protocol error (RFC 7644 §3.12) that renders as the Error envelope.
///
/// `description` names only status and scimType; `detail` goes to the client body and never into logs by default.
public struct SCIMError: Error, Sendable, Hashable, CustomStringConvertible {
    /// RFC 7644 §3.12 scimType keywords, plus RFC 9865 cursor errors.
    public enum SCIMType: String, Sendable, Hashable, CaseIterable {
        case invalidFilter, tooMany, uniqueness, mutability, invalidSyntax, invalidPath, noTarget
        case invalidValue, invalidVers, sensitive
        case invalidCursor, expiredCursor, invalidCount
    }

    /// The HTTP status code.
    public var status: Int
    /// The SCIM error keyword, if any.
    public var scimType: SCIMType?
    /// Human-readable detail for the client.
    public var detail: String?
    /// Seconds the client should wait before retrying (429, 503); nil: the default (see `HTTPResponseError`).
    public var retryAfterSeconds: Int?
    /// Headers the answer carries besides the body's (`WWW-Authenticate` on 401, `Allow` on 405).
    public var headers: [String: String]

    /// Creates an error.
    public init(status: Int, scimType: SCIMType? = nil, detail: String? = nil, retryAfterSeconds: Int? = nil,
                challenge: String? = nil) {
        self.status = status
        self.scimType = scimType
        self.detail = detail
        self.retryAfterSeconds = retryAfterSeconds
        self.headers = challenge.map { ["WWW-Authenticate": $0] } ?? [:]
    }

    /// The same error answering 405 with the methods the resource allows.
    public func allowing(_ methods: String) -> SCIMError {
        var copy = self
        copy.headers["Allow"] = methods
        return copy
    }

    public var description: String {
        if let t = scimType { return "SCIMError(\(status) \(t.rawValue))" }
        return "SCIMError(\(status))"
    }

    /// The Error message schema URN.
    public static let schemaURN = "urn:ietf:params:scim:api:messages:2.0:Error"

    /// The Error envelope (`status` as a string, per RFC 7644 §3.12).
    public var json: JSONValue {
        var o = JSONObject()
        o.appendUnchecked(key: "schemas", value: .array([.string(Self.schemaURN)]))
        o.appendUnchecked(key: "status", value: .string(String(status)))
        if let t = scimType { o.appendUnchecked(key: "scimType", value: .string(t.rawValue)) }
        if let d = detail { o.appendUnchecked(key: "detail", value: .string(d)) }
        return .object(o)
    }

    /// The encoded Error envelope.
    public var body: [UInt8] { json.encoded() }

    // MARK: Factories

    /// 400 invalidFilter.
    public static func invalidFilter(_ detail: String) -> SCIMError { .init(status: 400, scimType: .invalidFilter, detail: detail) }
    /// 400 invalidSyntax.
    public static func invalidSyntax(_ detail: String) -> SCIMError { .init(status: 400, scimType: .invalidSyntax, detail: detail) }
    /// 400 invalidPath.
    public static func invalidPath(_ detail: String) -> SCIMError { .init(status: 400, scimType: .invalidPath, detail: detail) }
    /// 400 noTarget.
    public static func noTarget(_ detail: String) -> SCIMError { .init(status: 400, scimType: .noTarget, detail: detail) }
    /// 400 invalidValue.
    public static func invalidValue(_ detail: String) -> SCIMError { .init(status: 400, scimType: .invalidValue, detail: detail) }
    /// 400 mutability.
    public static func mutability(_ detail: String) -> SCIMError { .init(status: 400, scimType: .mutability, detail: detail) }
    /// 400 tooMany.
    public static func tooMany(_ detail: String) -> SCIMError { .init(status: 400, scimType: .tooMany, detail: detail) }
    /// 409 uniqueness.
    public static func uniqueness(_ detail: String) -> SCIMError { .init(status: 409, scimType: .uniqueness, detail: detail) }
    /// 404 without scimType.
    public static func notFound(_ detail: String) -> SCIMError { .init(status: 404, detail: detail) }
    /// 400 for a body that is not valid JSON; the JSON error's offset is kept, its text carries no content.
    public static func malformedJSON(_ error: JSONError) -> SCIMError {
        .invalidSyntax("request body is not valid JSON: \(error.description)")
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
