package import JSON
import Postgres
package import SCIMCore

/// A list request as it arrived: a query string (GET) or a SearchRequest body (POST /.search).
package enum ListSource: Sendable {
    case queryString(String)
    case searchRequest(JSONValue)

    func parse(_ schema: ResourceSchema, _ configuration: ServiceProviderConfiguration,
               defaultProjection: Projection) throws(SCIMError) -> ListQuery {
        switch self {
        case .queryString(let q):
            return try ListQuery(queryString: q, schema: schema, configuration: configuration, defaultProjection: defaultProjection)
        case .searchRequest(let body):
            return try ListQuery(searchRequest: body, schema: schema, configuration: configuration,
                                 defaultProjection: defaultProjection)
        }
    }
}

extension SCIMService {
    /// GET /Users, GET /Groups, POST /Users/.search, POST /Groups/.search.
    package func list(_ kind: ResourceKind, source: ListSource, scope: RequestScope) throws -> SCIMOutcome {
        let secret = try database.cursorSecret()
        let now = clock()
        var plan: ListPlan? = nil
        defer { if let plan { note(plan.query.quirks, scope) } }
        return try database.read(tenant: scope.tenant, { context in
            let query = try source.parse(Self.schema(kind, context), configuration,
                                         defaultProjection: kind == .user ? context.defaultUserProjection : context.defaultGroupProjection)
            let built = try ListPlan(kind: kind, query: query, scope: scope, cursorSecret: secret, now: now,
                                     configuration: configuration, shapes: database.shapes)
            plan = built
            return built.statements
        }, decode: { context, results -> SCIMOutcome in
            guard let plan else { preconditionFailure("statements run before decode") }
            let (resources, next) = try plan.resources(results, context: context, scope: scope, cursorSecret: secret, now: now)
            var total = plan.total(results)
            if plan.needsCount(results) {
                total = try database.read(tenant: scope.tenant, { _ in [plan.countStatement] }, decode: { _, counted in
                    counted[0].int(row: 0, column: 0).map { Int($0) }
                })
            }
            return .list(ListResponse(totalResults: total, startIndex: plan.startIndex, resources: resources, nextCursor: next))
        })
    }

    /// POST /.search across Users then Groups (index paging; a filter applies to the types it can resolve against).
    package func searchAll(body: JSONValue, scope: RequestScope) throws -> SCIMOutcome {
        let secret = try database.cursorSecret()
        let now = clock()
        // Pass 1: counts per type.
        var queries: [(ResourceKind, ListQuery)] = []
        let totals: [Int] = try database.read(tenant: scope.tenant, { context in
            queries = []
            var firstError: SCIMError? = nil
            for kind in ResourceKind.allCases {
                do throws(SCIMError) {
                    queries.append((kind, try ListSource.searchRequest(body).parse(Self.schema(kind, context), configuration,
                        defaultProjection: kind == .user ? context.defaultUserProjection : context.defaultGroupProjection)))
                } catch {
                    firstError = firstError ?? error
                }
            }
            if queries.isEmpty, let firstError { throw firstError }
            if case .cursor? = queries.first?.1.pagination {
                throw SCIMError.invalidValue("cursor paging is not supported when searching across resource types")
            }
            var statements: [PostgresStatement] = []
            for (kind, query) in queries {
                var countOnly = query
                countOnly.pagination = .index(startIndex: 1, count: 0)
                statements += try ListPlan(kind: kind, query: countOnly, scope: scope, cursorSecret: secret, now: now,
                                           configuration: configuration, shapes: database.shapes).statements
            }
            return statements
        }, decode: { _, results in results.map { Int($0.int(row: 0, column: 0) ?? 0) } })
        guard case .index(let start, let count)? = queries.first?.1.pagination else { preconditionFailure("index paging") }
        // Pass 2: the page, taken from the concatenation Users ++ Groups.
        var plans: [ListPlan] = []
        var remainingOffset = start - 1
        var remaining = count
        for ((kind, query), total) in zip(queries, totals) {
            let offset = min(remainingOffset, total)
            let limit = min(remaining, total - offset)
            remainingOffset -= offset
            if limit > 0 {
                plans.append(try ListPlan(kind: kind, query: query, scope: scope, cursorSecret: secret, now: now,
                                          configuration: configuration, shapes: database.shapes, offsetOverride: (offset, limit)))
                remaining -= limit
            }
        }
        let resources: [JSONValue] = try database.read(tenant: scope.tenant, { _ in plans.flatMap(\.statements) }, decode: {
            context, results in
            var out: [JSONValue] = []
            var index = 0
            for plan in plans {
                let slice = Array(results[index..<(index + plan.statements.count)])
                index += plan.statements.count
                out += try plan.resources(slice, context: context, scope: scope, cursorSecret: secret, now: now).resources
            }
            return out
        })
        return .list(ListResponse(totalResults: totals.reduce(0, +), startIndex: start, resources: resources))
    }
}
