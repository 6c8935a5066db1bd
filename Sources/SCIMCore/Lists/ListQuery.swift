public import JSON

// List and search parameters (RFC 7644 §3.4.2, §3.4.3; RFC 9865 cursors), from a query string or a SearchRequest.
//
// Rules: startIndex < 1 means 1 and a negative count means 0 (RFC 7644 §3.4.2.4); count above maxPageSize is
// capped; no count means defaultPageSize. `cursor` selects cursor paging (empty = first page), `startIndex`
// index paging, neither the configured defaultPaginationMethod; both at once is `400 invalidValue`.
// A cursor must consist of RFC 3986 unreserved characters, else `400 invalidCursor` (RFC 9865).

/// A parsed, resolved list/search request.
public struct ListQuery: Sendable {
    /// The resolved filter, if any.
    public var filter: ResolvedFilter?
    /// The resolved sort attribute, if any.
    public var sortBy: ResolvedPath?
    /// Sort direction (ascending unless given).
    public var sortOrder: SortOrder
    /// Paging.
    public var pagination: Pagination
    /// The projection for each returned resource.
    public var projection: Projection
    /// The IdP quirks the request needed (unquoted filter values, a value filter in `attributes`).
    public var quirks = QuirkSet()

    /// Parses a raw URL query string (`filter=userName+eq+%22x%22&startIndex=1&count=100`).
    /// `defaultProjection`, when given, is used as is when the query asks for no `attributes`/`excludedAttributes`
    /// (a caller that caches it saves building one per request).
    public init(queryString: String, schema: ResourceSchema, configuration: ServiceProviderConfiguration,
                filterLimits: FilterLimits = .default, defaultProjection: Projection? = nil) throws(SCIMError) {
        try self.init(parameters: QueryString.decode(queryString), schema: schema, configuration: configuration,
                      filterLimits: filterLimits, defaultProjection: defaultProjection)
    }

    /// Builds a query from decoded parameters (names matched case-insensitively; the first occurrence wins).
    public init(parameters: [(name: String, value: String)], schema: ResourceSchema,
                configuration: ServiceProviderConfiguration, filterLimits: FilterLimits = .default,
                defaultProjection: Projection? = nil) throws(SCIMError) {
        func param(_ name: String) -> String? {
            parameters.first { asciiCaseInsensitiveEquals($0.name, name) }?.value
        }
        func integer(_ name: String) throws(SCIMError) -> Int? {
            guard let text = param(name) else { return nil }
            guard let v = Int(text.trimmingSpacesString()) else { throw .invalidValue("'\(name)' must be an integer") }
            return v
        }
        try self.init(filter: param("filter"), sortBy: param("sortBy"), sortOrder: param("sortOrder"),
                      startIndex: try integer("startIndex"), count: try integer("count"), cursor: param("cursor"),
                      attributes: param("attributes"), excludedAttributes: param("excludedAttributes"),
                      schema: schema, configuration: configuration, filterLimits: filterLimits,
                      defaultProjection: defaultProjection)
    }

    /// Parses a `POST /.search` SearchRequest body (RFC 7644 §3.4.3).
    public init(searchRequest body: JSONValue, schema: ResourceSchema, configuration: ServiceProviderConfiguration,
                filterLimits: FilterLimits = .default, defaultProjection: Projection? = nil) throws(SCIMError) {
        guard case .object(let o) = body else { throw .invalidSyntax("the SearchRequest must be a JSON object") }
        func string(_ key: String) throws(SCIMError) -> String? {
            switch o[caseInsensitive: key] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: throw .invalidValue("'\(key)' must be a string")
            }
        }
        func list(_ key: String) throws(SCIMError) -> String? {
            switch o[caseInsensitive: key] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            case .array(let a)?:
                var names: [String] = []
                for e in a {
                    guard case .string(let s) = e else { throw .invalidValue("'\(key)' must be a list of attribute names") }
                    names.append(s)
                }
                return names.joined(separator: ",")
            default: throw .invalidValue("'\(key)' must be a list of attribute names")
            }
        }
        func integer(_ key: String) throws(SCIMError) -> Int? {
            switch o[caseInsensitive: key] {
            case nil, .null?: return nil
            case .number(let n)?:
                guard let v = n.int else { throw .invalidValue("'\(key)' must be an integer") }
                return v
            default: throw .invalidValue("'\(key)' must be an integer")
            }
        }
        try self.init(filter: try string("filter"), sortBy: try string("sortBy"), sortOrder: try string("sortOrder"),
                      startIndex: try integer("startIndex"), count: try integer("count"), cursor: try string("cursor"),
                      attributes: try list("attributes"), excludedAttributes: try list("excludedAttributes"),
                      schema: schema, configuration: configuration, filterLimits: filterLimits,
                      defaultProjection: defaultProjection)
    }

    init(filter: String?, sortBy: String?, sortOrder: String?, startIndex: Int?, count: Int?, cursor: String?,
         attributes: String?, excludedAttributes: String?, schema: ResourceSchema,
         configuration c: ServiceProviderConfiguration, filterLimits: FilterLimits,
         defaultProjection: Projection? = nil) throws(SCIMError) {
        if let f = filter, !f.trimmingSpacesString().isEmpty {
            guard c.filterSupported else { throw SCIMError(status: 501, detail: "filtering is not supported") }
            self.filter = try schema.parseFilter(f, limits: filterLimits, quirks: &quirks)
        } else {
            self.filter = nil
        }
        if let s = sortBy, !s.isEmpty {
            self.sortBy = try schema.resolveSortBy(s)
        } else {
            self.sortBy = nil
        }
        switch sortOrder.map({ $0.lowercased() }) {
        case nil, "", "ascending"?: self.sortOrder = .ascending
        case "descending"?: self.sortOrder = .descending
        default: throw .invalidValue("sortOrder must be 'ascending' or 'descending'")
        }
        let size = min(max(count ?? c.defaultPageSize, 0), c.maxPageSize)
        switch (startIndex, cursor) {
        case (_?, _?):
            throw .invalidValue("use either 'startIndex' or 'cursor', not both")
        case (let s?, nil):
            guard c.indexPagination else { throw .invalidValue("index paging is not supported; use 'cursor'") }
            pagination = .index(startIndex: max(s, 1), count: size)
        case (nil, let cur?):
            guard c.cursorPagination else { throw .invalidValue("cursor paging is not supported") }
            guard cur.utf8.allSatisfy(QueryString.isUnreserved) else { throw .init(status: 400, scimType: .invalidCursor, detail: "the cursor is not valid") }
            pagination = .cursor(cur.isEmpty ? nil : cur, count: size)
        case (nil, nil):
            if c.defaultPaginationMethod == "cursor" && c.cursorPagination {
                pagination = .cursor(nil, count: size)
            } else {
                pagination = .index(startIndex: 1, count: size)
            }
        }
        if let defaultProjection, (attributes ?? "").isEmpty, (excludedAttributes ?? "").isEmpty {
            projection = defaultProjection
        } else {
            projection = Projection(schema: schema, attributes: attributes, excludedAttributes: excludedAttributes)
            quirks.formUnion(projection.quirks)
        }
    }
}
