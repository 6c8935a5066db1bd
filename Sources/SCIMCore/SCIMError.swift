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

/// A ListResponse envelope (RFC 7644 §3.4.2; RFC 9865 cursors).
public struct ListResponse: Sendable, Hashable {
    /// Total number of results, omitted when unknown (RFC 9865 allows it with cursors).
    public var totalResults: Int?
    /// 1-based index of the first result (index paging).
    public var startIndex: Int?
    /// Number of resources in this page.
    public var itemsPerPage: Int { resources.count }
    /// The resources of this page, already projected.
    public var resources: [JSONValue]
    /// RFC 9865 cursor of the next page (absent on the last page).
    public var nextCursor: String?
    /// RFC 9865 cursor of the previous page.
    public var previousCursor: String?

    /// Creates a list response.
    public init(totalResults: Int?, startIndex: Int? = 1, resources: [JSONValue],
                nextCursor: String? = nil, previousCursor: String? = nil) {
        self.totalResults = totalResults
        self.startIndex = startIndex
        self.resources = resources
        self.nextCursor = nextCursor
        self.previousCursor = previousCursor
    }

    /// The ListResponse message schema URN.
    public static let schemaURN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

    /// The envelope; `Resources` with a capital R, integers as numbers.
    public var json: JSONValue {
        var o = JSONObject()
        o.reserveCapacity(7)
        o.appendUnchecked(key: "schemas", value: .array([.string(Self.schemaURN)]))
        if let t = totalResults { o.appendUnchecked(key: "totalResults", value: .number(JSONNumber(t))) }
        if let s = startIndex { o.appendUnchecked(key: "startIndex", value: .number(JSONNumber(s))) }
        o.appendUnchecked(key: "itemsPerPage", value: .number(JSONNumber(itemsPerPage)))
        if let c = nextCursor { o.appendUnchecked(key: "nextCursor", value: .string(c)) }
        if let c = previousCursor { o.appendUnchecked(key: "previousCursor", value: .string(c)) }
        o.appendUnchecked(key: "Resources", value: .array(resources))
        return .object(o)
    }
}

/// Weak entity tags derived from a resource version.
public enum ETag {
    /// `W/"<version>"`.
    public static func weak(version: String) -> String { "W/\"\(version)\"" }

    /// The version inside an entity tag (`W/"v"` or `"v"`), or nil if malformed.
    public static func version(fromTag tag: String) -> String? {
        var s = Substring(tag)
        if s.hasPrefix("W/") { s = s.dropFirst(2) }
        guard s.count >= 2, s.first == "\"", s.last == "\"" else { return nil }
        return String(s.dropFirst().dropLast())
    }

    /// Whether an `If-Match` header value matches the current version (weak comparison; `*` matches anything).
    public static func ifMatch(_ header: String, currentVersion: String) -> Bool {
        for part in header.split(separator: ",") {
            let tag = part.trimmingSpaces()
            if tag == "*" { return true }
            if let v = version(fromTag: String(tag)), v == currentVersion { return true }
        }
        return false
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
