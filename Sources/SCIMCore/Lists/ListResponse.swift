public import JSON

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
