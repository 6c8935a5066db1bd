public import JSON

/// Our real capabilities, rendered as `/ServiceProviderConfig` (RFC 7643 §5, RFC 9865 §4 `pagination`).
public struct ServiceProviderConfiguration: Sendable, Hashable {
    /// Help URL.
    public var documentationUri: String?
    /// PATCH supported.
    public var patchSupported: Bool
    /// Bulk supported.
    public var bulkSupported: Bool
    /// Maximum operations in one Bulk request.
    public var bulkMaxOperations: Int
    /// Maximum Bulk payload in bytes.
    public var bulkMaxPayloadSize: Int
    /// Filtering supported.
    public var filterSupported: Bool
    /// Maximum resources a filtered list returns.
    public var filterMaxResults: Int
    /// Password change supported (we do not store passwords).
    public var changePasswordSupported: Bool
    /// sortBy supported.
    public var sortSupported: Bool
    /// ETags supported.
    public var etagSupported: Bool
    /// Authentication schemes.
    public var authenticationSchemes: [AuthenticationScheme]
    /// RFC 9865: cursor paging supported.
    public var cursorPagination: Bool
    /// RFC 9865: index (startIndex/count) paging supported.
    public var indexPagination: Bool
    /// RFC 9865: "index" or "cursor", used when a request names neither.
    public var defaultPaginationMethod: String
    /// RFC 9865: page size when `count` is absent.
    public var defaultPageSize: Int
    /// RFC 9865: largest page served.
    public var maxPageSize: Int
    /// RFC 9865: seconds a cursor stays valid (omitted when nil).
    public var cursorTimeout: Int?

    /// Creates a configuration with our defaults.
    public init(documentationUri: String? = nil, patchSupported: Bool = true, bulkSupported: Bool = true,
                bulkMaxOperations: Int = 1000, bulkMaxPayloadSize: Int = 1_048_576, filterSupported: Bool = true,
                filterMaxResults: Int = 1000, changePasswordSupported: Bool = false, sortSupported: Bool = true,
                etagSupported: Bool = true, authenticationSchemes: [AuthenticationScheme] = [.oauthBearerToken],
                cursorPagination: Bool = true, indexPagination: Bool = true, defaultPaginationMethod: String = "index",
                defaultPageSize: Int = 100, maxPageSize: Int = 1000, cursorTimeout: Int? = 3600) {
        self.documentationUri = documentationUri
        self.patchSupported = patchSupported
        self.bulkSupported = bulkSupported
        self.bulkMaxOperations = bulkMaxOperations
        self.bulkMaxPayloadSize = bulkMaxPayloadSize
        self.filterSupported = filterSupported
        self.filterMaxResults = filterMaxResults
        self.changePasswordSupported = changePasswordSupported
        self.sortSupported = sortSupported
        self.etagSupported = etagSupported
        self.authenticationSchemes = authenticationSchemes
        self.cursorPagination = cursorPagination
        self.indexPagination = indexPagination
        self.defaultPaginationMethod = defaultPaginationMethod
        self.defaultPageSize = defaultPageSize
        self.maxPageSize = maxPageSize
        self.cursorTimeout = cursorTimeout
    }

    /// URN of the ServiceProviderConfig schema.
    public static let schemaURN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

    /// The `/ServiceProviderConfig` representation.
    public func json(baseURL: String) -> JSONValue {
        var o = JSONObject()
        o.appendUnchecked(key: "schemas", value: [.string(Self.schemaURN)])
        if let d = documentationUri { o.appendUnchecked(key: "documentationUri", value: .string(d)) }
        o.appendUnchecked(key: "patch", value: ["supported": .bool(patchSupported)])
        o.appendUnchecked(key: "bulk", value: ["supported": .bool(bulkSupported),
                                               "maxOperations": .number(JSONNumber(bulkMaxOperations)),
                                               "maxPayloadSize": .number(JSONNumber(bulkMaxPayloadSize))])
        o.appendUnchecked(key: "filter", value: ["supported": .bool(filterSupported),
                                                 "maxResults": .number(JSONNumber(filterMaxResults))])
        o.appendUnchecked(key: "changePassword", value: ["supported": .bool(changePasswordSupported)])
        o.appendUnchecked(key: "sort", value: ["supported": .bool(sortSupported)])
        o.appendUnchecked(key: "etag", value: ["supported": .bool(etagSupported)])
        var pagination = JSONObject()
        pagination.appendUnchecked(key: "cursor", value: .bool(cursorPagination))
        pagination.appendUnchecked(key: "index", value: .bool(indexPagination))
        pagination.appendUnchecked(key: "defaultPaginationMethod", value: .string(defaultPaginationMethod))
        pagination.appendUnchecked(key: "defaultPageSize", value: .number(JSONNumber(defaultPageSize)))
        pagination.appendUnchecked(key: "maxPageSize", value: .number(JSONNumber(maxPageSize)))
        if let t = cursorTimeout { pagination.appendUnchecked(key: "cursorTimeout", value: .number(JSONNumber(t))) }
        o.appendUnchecked(key: "pagination", value: .object(pagination))
        o.appendUnchecked(key: "authenticationSchemes", value: .array(authenticationSchemes.map { s in
            var a = JSONObject()
            a.appendUnchecked(key: "type", value: .string(s.type))
            a.appendUnchecked(key: "name", value: .string(s.name))
            a.appendUnchecked(key: "description", value: .string(s.description))
            if let u = s.specUri { a.appendUnchecked(key: "specUri", value: .string(u)) }
            if let u = s.documentationUri { a.appendUnchecked(key: "documentationUri", value: .string(u)) }
            a.appendUnchecked(key: "primary", value: .bool(s.primary))
            return .object(a)
        }))
        o.appendUnchecked(key: "meta", value: ["resourceType": "ServiceProviderConfig",
                                               "location": .string(joinURL(baseURL, "/ServiceProviderConfig"))])
        return .object(o)
    }
}
