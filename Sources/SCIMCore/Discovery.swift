public import JSON

// Discovery representations (RFC 7643 §5–§7, RFC 7644 §4), generated from the same definitions that drive
// validation, plus the RFC 9865 `pagination` block.

extension AttributeDefinition {
    /// The attribute as it appears in a `/Schemas` representation.
    public var json: JSONValue {
        var o = JSONObject()
        o.appendUnchecked(key: "name", value: .string(name))
        o.appendUnchecked(key: "type", value: .string(type.rawValue))
        o.appendUnchecked(key: "multiValued", value: .bool(multiValued))
        o.appendUnchecked(key: "description", value: .string(description))
        o.appendUnchecked(key: "required", value: .bool(required))
        if type == .string || type == .reference || type == .binary {
            o.appendUnchecked(key: "caseExact", value: .bool(caseExact))
        }
        if !canonicalValues.isEmpty { o.appendUnchecked(key: "canonicalValues", value: .array(canonicalValues.map { .string($0) })) }
        if type == .reference { o.appendUnchecked(key: "referenceTypes", value: .array(referenceTypes.map { .string($0) })) }
        o.appendUnchecked(key: "mutability", value: .string(mutability.rawValue))
        o.appendUnchecked(key: "returned", value: .string(returned.rawValue))
        if type != .complex && type != .boolean { o.appendUnchecked(key: "uniqueness", value: .string(uniqueness.rawValue)) }
        if type == .complex { o.appendUnchecked(key: "subAttributes", value: .array(subAttributes.map(\.json))) }
        return .object(o)
    }
}

/// Joins a base URL and a path without doubling the slash.
func joinURL(_ base: String, _ path: String) -> String {
    base.hasSuffix("/") ? String(base.dropLast()) + path : base + path
}

extension Schema {
    /// URN of the Schema resource schema.
    public static let schemaURN = "urn:ietf:params:scim:schemas:core:2.0:Schema"

    /// The `/Schemas/{id}` representation; `baseURL` is the SCIM base (e.g. `https://host/scim/v2`).
    public func json(baseURL: String) -> JSONValue {
        .object([
            "schemas": [.string(Schema.schemaURN)],
            "id": .string(id),
            "name": .string(name),
            "description": .string(description),
            "attributes": .array(attributes.map(\.json)),
            "meta": ["resourceType": "Schema", "location": .string(joinURL(baseURL, "/Schemas/" + id))],
        ])
    }
}

extension ResourceType {
    /// URN of the ResourceType resource schema.
    public static let schemaURN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"

    /// The `/ResourceTypes/{id}` representation.
    public func json(baseURL: String) -> JSONValue {
        var o = JSONObject()
        o.appendUnchecked(key: "schemas", value: [.string(ResourceType.schemaURN)])
        o.appendUnchecked(key: "id", value: .string(id))
        o.appendUnchecked(key: "name", value: .string(name))
        o.appendUnchecked(key: "endpoint", value: .string(endpoint))
        o.appendUnchecked(key: "description", value: .string(description))
        o.appendUnchecked(key: "schema", value: .string(schema))
        o.appendUnchecked(key: "schemaExtensions", value: .array(schemaExtensions.map {
            .object(["schema": .string($0.schema), "required": .bool($0.required)])
        }))
        o.appendUnchecked(key: "meta", value: ["resourceType": "ResourceType",
                                               "location": .string(joinURL(baseURL, "/ResourceTypes/" + id))])
        return .object(o)
    }
}

extension SchemaRegistry {
    /// Schemas used by resource types, in registry order.
    var resourceSchemas: [Schema] {
        schemas.filter { s in
            resourceTypes.contains { rt in
                asciiCaseInsensitiveEquals(rt.schema, s.id) || rt.schemaExtensions.contains { asciiCaseInsensitiveEquals($0.schema, s.id) }
            }
        }
    }

    /// `GET /Schemas` ListResponse.
    public func schemasListResponse(baseURL: String) -> ListResponse {
        let all = resourceSchemas.map { $0.json(baseURL: baseURL) }
        return ListResponse(totalResults: all.count, startIndex: 1, resources: all)
    }

    /// `GET /Schemas/{id}`; an unknown id is 404.
    public func schemaRepresentation(id: String, baseURL: String) throws(SCIMError) -> JSONValue {
        guard let s = resourceSchemas.first(where: { asciiCaseInsensitiveEquals($0.id, id) }) else {
            throw .notFound("schema not found")
        }
        return s.json(baseURL: baseURL)
    }

    /// `GET /ResourceTypes/{id}`; an unknown id is 404.
    public func resourceTypeRepresentation(id: String, baseURL: String) throws(SCIMError) -> JSONValue {
        guard let rt = resourceTypes.first(where: { asciiCaseInsensitiveEquals($0.id, id) }) else {
            throw .notFound("resource type not found")
        }
        return rt.json(baseURL: baseURL)
    }

    /// `GET /ResourceTypes` ListResponse.
    public func resourceTypesListResponse(baseURL: String) -> ListResponse {
        let all = resourceTypes.map { $0.json(baseURL: baseURL) }
        return ListResponse(totalResults: all.count, startIndex: 1, resources: all)
    }
}

/// An authentication scheme advertised in the ServiceProviderConfig.
public struct AuthenticationScheme: Sendable, Hashable {
    /// Scheme type ("oauthbearertoken").
    public var type: String
    /// Display name.
    public var name: String
    /// Description.
    public var description: String
    /// Specification URL.
    public var specUri: String?
    /// Documentation URL.
    public var documentationUri: String?
    /// Whether this is the primary scheme.
    public var primary: Bool

    /// Creates a scheme.
    public init(type: String, name: String, description: String, specUri: String? = nil, documentationUri: String? = nil, primary: Bool = false) {
        self.type = type
        self.name = name
        self.description = description
        self.specUri = specUri
        self.documentationUri = documentationUri
        self.primary = primary
    }

    /// OAuth 2.0 bearer token (RFC 6750).
    public static let oauthBearerToken = AuthenticationScheme(
        type: "oauthbearertoken", name: "OAuth Bearer Token",
        description: "Authentication scheme using the OAuth Bearer Token Standard",
        specUri: "https://www.rfc-editor.org/info/rfc6750", primary: true)
}

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
