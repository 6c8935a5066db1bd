package import JSON
import Postgres
package import SCIMCore

/// The SQL for one page of one resource type, and how to turn its rows into a ListResponse.
struct ListPlan {
    let kind: ResourceKind
    let query: ListQuery
    var statements: [PostgresStatement] = []
    /// Whether a count statement comes first.
    var counts = false
    /// The count statement on its own (run afterwards when the first page turned out full; see `init`).
    var countStatement: PostgresStatement = .sql("SELECT 0")
    /// Index paging from the first resource: the count is only needed when the page is full, since a short first page
    /// holds every match (the common lookup `filter=userName eq "…"` then costs one statement, not two).
    var countDeferred = false
    var pageSize = 0
    /// Whether a page statement follows.
    var pages = false
    var withRelated = false
    /// Cursor paging: fetch one row more than the page to know whether a next page exists.
    var cursorPageSize: Int? = nil
    var startIndex: Int? = nil
    var fingerprint = ""
    var hasSortKey = false

    /// Builds the statements. `cursorSecret` verifies an incoming cursor.
    init(kind: ResourceKind, query: ListQuery, scope: RequestScope, cursorSecret: [UInt8], now: Int64,
         configuration: ServiceProviderConfiguration, shapes: StatementShapes,
         offsetOverride: (offset: Int, limit: Int)? = nil) throws(SCIMError) {
        self.kind = kind
        self.query = query
        let a = kind.alias
        var sql = FilterSQL(kind: kind, tenant: scope.tenant, baseURL: scope.baseURL)
        var conditions = ["\(a).tenant_id = $1"]
        if kind == .user { conditions.append("\(a).deleted_at IS NULL") }
        if let filter = query.filter { conditions.append(sql.condition(filter)) }
        let filterValues = sql.bindings.values
        withRelated = query.projection.includes(kind.relatedAttribute)
        let from = "FROM \(kind.table) \(a) WHERE "
        let countSQL = "SELECT count(*) " + from + conditions.joined(separator: " AND ")

        let key = query.sortBy.flatMap { sql.sortKey($0) }
        let descending = key != nil && query.sortOrder == .descending
        let order = key.map { k in
            descending ? "\(k.expression) DESC NULLS FIRST, \(a).id DESC" : "\(k.expression) ASC NULLS LAST, \(a).id ASC"
        } ?? "\(a).id ASC"
        var columns = ResourceStore.columns(kind, withRelated: withRelated)

        switch query.pagination {
        case .index(let start, let count):
            countStatement = shapes.statement(countSQL, filterValues)
            startIndex = start
            let (offset, limit) = offsetOverride ?? (start - 1, count)
            pageSize = limit
            if offsetOverride == nil && offset == 0 && limit > 0 {
                countDeferred = true
            } else {
                counts = true
                statements.append(countStatement)
            }
            guard limit > 0 else { return }
            pages = true
            let o = sql.bindings.bind(.int(Int64(offset))), l = sql.bindings.bind(.int(Int64(limit)))
            statements.append(shapes.statement("SELECT \(columns) \(from)\(conditions.joined(separator: " AND ")) ORDER BY \(order) LIMIT \(l) OFFSET \(o)",
                                   sql.bindings.values))
        case .cursor(let token, let count):
            fingerprint = ListCursor.fingerprint(filter: query.filter, sortBy: query.sortBy, sortOrder: query.sortOrder)
            if count == 0 {
                // count=0 asks only for totalResults.
                counts = true
                statements.append(shapes.statement(countSQL, filterValues))
                return
            }
            if let token {
                let cursor: ListCursor
                switch ListCursor.decode(token, secret: cursorSecret, tenant: scope.tenant, nowSeconds: now,
                                         timeoutSeconds: configuration.cursorTimeout) {
                case .success(let c): cursor = c
                case .failure(.expired): throw .expiredCursor
                case .failure(.invalid): throw .invalidCursor
                }
                guard cursor.resourceType == kind.rawValue, cursor.queryFingerprint == fingerprint else { throw .invalidCursor }
                conditions.append(Self.keyset(&sql, cursor: cursor, key: key, descending: descending, alias: a))
            }
            pages = true
            cursorPageSize = count
            if let key {
                hasSortKey = true
                columns += ", (\(key.expression))::text"
            }
            let l = sql.bindings.bind(.int(Int64(count + 1)))
            statements.append(shapes.statement("SELECT \(columns) \(from)\(conditions.joined(separator: " AND ")) ORDER BY \(order) LIMIT \(l)",
                                   sql.bindings.values))
        }
    }

    /// Rows strictly after the cursor's position in (sort key, id) order, with NULL keys last when ascending and
    /// first when descending (PostgreSQL's defaults, which the ORDER BY spells out).
    static func keyset(_ sql: inout FilterSQL, cursor: ListCursor, key: (expression: String, type: FilterSQL.SortKeyType)?,
                       descending: Bool, alias a: String) -> String {
        let id = sql.bindings.bind(.uuid(cursor.lastID))
        guard let key else { return descending ? "\(a).id < \(id)" : "\(a).id > \(id)" }
        let e = key.expression
        if let last = cursor.lastKey {
            let k = sql.bindings.bind(.text(last)) + "::" + key.type.rawValue
            return descending
                ? "(\(e) < \(k) OR (\(e) = \(k) AND \(a).id < \(id)))"
                : "(\(e) > \(k) OR (\(e) = \(k) AND \(a).id > \(id)) OR \(e) IS NULL)"
        }
        return descending ? "((\(e) IS NULL AND \(a).id < \(id)) OR \(e) IS NOT NULL)" : "(\(e) IS NULL AND \(a).id > \(id))"
    }

    /// The total from the count statement, or from a short first page; nil when a deferred count must still run.
    func total(_ results: [PostgresResult]) -> Int? {
        if counts { return results[0].int(row: 0, column: 0).map { Int($0) } }
        if countDeferred, let rows = results.first?.rowCount, rows < pageSize { return rows }
        return nil
    }

    /// Whether `total` needs the count statement run separately.
    func needsCount(_ results: [PostgresResult]) -> Bool { countDeferred && total(results) == nil }

    /// The page's resources, rendered and projected, plus the next cursor.
    func resources(_ results: [PostgresResult], context: TenantContext, scope: RequestScope, cursorSecret: [UInt8], now: Int64)
        throws -> (resources: [JSONValue], nextCursor: String?)
    {
        guard pages else { return ([], nil) }
        let rows = results[counts ? 1 : 0]
        let schema = SCIMService.schema(kind, context)
        var count = rows.rowCount
        var next: String? = nil
        if let size = cursorPageSize, count > size {
            count = size
            let last = size - 1
            if let id = rows.string(row: last, column: 0) {
                let key = hasSortKey ? rows.string(row: last, column: 6) : nil
                next = ListCursor(resourceType: kind.rawValue, queryFingerprint: fingerprint, issuedAt: now, lastID: id,
                                  lastKey: key).encode(secret: cursorSecret, tenant: scope.tenant)
            }
        }
        var out: [JSONValue] = []
        out.reserveCapacity(count)
        let plan = context.renderPlan(kind)
        let selection = plan.selection(query.projection)
        for row in 0..<count {
            let stored = try ResourceStore.decode(kind, rows, row: row, baseURL: scope.baseURL, relatedLoaded: withRelated)
            out.append(.object(query.projection.apply(to: Representation.render(stored, kind, schema, plan: plan, baseURL: scope.baseURL,
                                                                                 selection: selection))))
        }
        return (out, next)
    }
}
