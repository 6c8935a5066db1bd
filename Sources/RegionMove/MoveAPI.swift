import Crypto
package import HTTPCore
import Locking
import Telemetry
import JSON
import Postgres
package import RegionSCIM
import SCIMCore

/// The region's internal API for moving a tenant between regions (`/internal/v1/tenants/{id}/move/…`), called only
/// by the gateway's mover over the signed link. The signed tenant is the tenant in the path (the responder checks);
/// mutating calls carry the mover's fencing token (`MoveToken`) in the query. Bodies are small JSON objects, except
/// export answers and import bodies, which are the rows themselves (a JSON array, passed through unparsed).
package struct MoveAPI: Sendable {
    /// One endpoint.
    package enum Operation: String, CaseIterable, Sendable {
        case schema, putFence, removeFence, digests, compare, changed, export, importRows, clear, purge, residue, transactionIDs

        package var method: HTTPMethod {
            switch self {
            case .schema, .residue: .get
            case .putFence: .put
            case .removeFence: .delete
            case .digests, .compare, .changed, .export, .importRows, .clear, .purge, .transactionIDs: .post
            }
        }

        /// The path after `/internal/v1/tenants/:id/move`.
        package var path: String {
            switch self {
            case .schema: "/schema"
            case .putFence, .removeFence: "/fence"
            case .digests: "/digests"
            case .compare: "/compare"
            case .changed: "/changed"
            case .export: "/export"
            case .importRows: "/import"
            case .clear: "/clear"
            case .purge: "/purge"
            case .residue: "/residue"
            case .transactionIDs: "/xid-floor"
            }
        }
    }

    let copy: TenantCopy
    let fence: MoveFence
    /// This region's id (named in answers).
    let region: String
    /// The tenant tables, read again at most every few seconds (a move asks for them on every page; the schema
    /// changes only when a new build migrates it).
    private let cached = Lock<(tables: TenantTables, at: UInt64)?>(nil)

    package init(database: RegionDatabase) {
        copy = TenantCopy(database: database)
        fence = MoveFence(database: database)
        region = database.region
    }

    func tables() throws -> TenantTables {
        let now = Timestamp.monotonicNanos()
        if let entry = cached.withLock({ $0 }), now &- entry.at < 5_000_000_000 { return entry.tables }
        let tables = try copy.tables()
        cached.withLock { $0 = (tables, now) }
        return tables
    }

    /// Largest page a caller may ask for (rows).
    static let maxLimit: Int64 = 50_000

    /// Answers `operation` for `tenant`.
    package func respond(_ operation: Operation, _ request: HTTPRequest, tenant: String) throws -> HTTPResponse {
        do {
            return try perform(operation, request, tenant: tenant)
        } catch let error as PostgresError where error.sqlState == "42501" {
            throw SCIMError(status: 503, detail: "this region's database role may not set session_replication_role; grant it (docs/residency.md)")
        } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
            // Data exceptions: rows or digests that do not fit the table (malformed JSON, a value of the wrong type).
            throw SCIMError.invalidValue("the rows or digests sent do not fit the table")
        }
    }

    func perform(_ operation: Operation, _ request: HTTPRequest, tenant: String) throws -> HTTPResponse {
        switch operation {
        case .schema:
            let tables = try self.tables()
            let facts = try copy.facts()
            var o: JSONObject = ["region": .string(region), "fingerprint": .string(tables.fingerprint),
                                 "schemaVersion": .number(JSONNumber(facts.migration)), "xid": .string(facts.xid),
                                 "horizon": .string(facts.horizon),
                                 "replicationRole": .bool(copy.replicationRoleAllowed())]
            var db: JSONObject = ["name": .string(facts.database)]
            if let a = facts.address { db.set("address", .string(a)) }
            if let p = facts.port { db.set("port", .number(JSONNumber(p))) }
            o.set("database", .object(db))
            o.set("fence", try fence.current(tenant: tenant)?.json ?? .null)
            o.set("tables", tables.json["tables"] ?? .array([]))
            o.set("excluded", tables.json["excluded"] ?? .array([]))
            o.set("problems", tables.json["problems"] ?? .array([]))
            return Self.json(200, .object(o))
        case .putFence:
            let token = try MoveToken(query: request.query)
            let body = try Self.object(request)
            guard let state = body["state"]?.string, let peer = body["peerRegion"]?.string else {
                throw SCIMError.invalidValue("a fence needs 'state' and 'peerRegion'")
            }
            let (holder, drained) = try fence.put(tenant: tenant, token: token, state: state, peerRegion: peer, tables: try tables())
            guard case .object(var o) = holder.json else { return Self.json(200, holder.json) }
            o.set("drainedMillis", .number(JSONNumber(drained)))
            return Self.json(200, .object(o))
        case .removeFence:
            let token = try MoveToken(query: request.query)
            return Self.json(200, ["removed": .bool(try fence.remove(tenant: tenant, token: token))])
        case .digests:
            let body = try Self.object(request)
            let plan = try plan(body["table"]?.string)
            let buckets = try Self.bucketCount(body)
            let (from, to) = try Self.bucketRange(body["from"]?.int, body["to"]?.int, buckets: buckets)
            let only = try Self.bucketList(body["only"], buckets: buckets)
            let digests = try copy.digests(tenant: tenant, plan: plan, buckets: buckets, from: from, to: to, only: only)
            return HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: digests)
        case .compare:
            let query = QueryParameters(request.query ?? "") ?? QueryParameters([])
            let plan = try plan(query["table"])
            guard let b = query["buckets"].flatMap({ Int64($0) }), b >= 1, b <= 1 << 20 else {
                throw SCIMError.invalidValue("'buckets' must be an integer from 1 to 1048576")
            }
            let (from, to) = try Self.bucketRange(query["from"].flatMap({ Int($0) }), query["to"].flatMap({ Int($0) }), buckets: b)
            let answer = try copy.compare(tenant: tenant, plan: plan, buckets: b, from: from, to: to, sourceDigests: request.body)
            return HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: answer)
        case .changed:
            let body = try Self.object(request)
            let plan = try plan(body["table"]?.string)
            let buckets = try Self.bucketCount(body)
            guard let text = body["since"]?.string, let horizon = UInt64(text) else {
                throw SCIMError.invalidValue("'since' must be a horizon from the schema answer (xid8 text)")
            }
            let (list, rows) = try copy.changedBuckets(tenant: tenant, plan: plan, buckets: buckets, horizon: horizon)
            var response = HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: list)
            response.headers.set("X-Move-Rows", String(rows))
            return response
        case .export:
            let body = try Self.object(request)
            let (plan, buckets, after, only, limit) = try pageRequest(body)
            let maxBytes = min(max(body["maxBytes"]?.int ?? 512 * 1024, 1024), 16 << 20)
            let page = try copy.export(tenant: tenant, plan: plan, buckets: buckets, after: after, only: only, limit: limit,
                                       maxBytes: maxBytes)
            var response = HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: page.body)
            response.headers.set("X-Move-Rows", String(page.rows))
            response.headers.set("X-Move-More", page.more ? "1" : "0")
            // The key may hold any text: base64url keeps it a header value.
            if let last = page.last { response.headers.set("X-Move-After", Base64.encode(Array(last.utf8), urlSafe: true)) }
            return response
        case .importRows:
            let token = try MoveToken(query: request.query)
            let plan = try plan(QueryParameters(request.query ?? "")?["table"])
            let inserted = try copy.importRows(tenant: tenant, token: token, plan: plan, rows: request.body)
            return Self.json(200, ["inserted": .number(JSONNumber(inserted))])
        case .clear:
            let token = try MoveToken(query: request.query)
            let body = try Self.object(request)
            let plan = try plan(body["table"]?.string)
            let buckets = try Self.bucketCount(body)
            let only = try Self.bucketList(body["only"], buckets: buckets) ?? []
            let deleted = try copy.clear(tenant: tenant, token: token, plan: plan, buckets: buckets, only: only)
            return Self.json(200, ["deleted": .number(JSONNumber(deleted))])
        case .purge:
            let token = try MoveToken(query: request.query)
            let body = (try? Self.object(request)) ?? JSONObject()
            let limit = min(max(body["limit"]?.int ?? 10_000, 1), 100_000)
            let (deleted, done) = try copy.purge(tenant: tenant, token: token, tables: try tables(), limit: limit)
            return Self.json(200, ["deleted": .number(JSONNumber(deleted)), "done": .bool(done)])
        case .residue:
            let (tables, total) = try copy.residue(tenant: tenant, tables: try self.tables())
            var counts = JSONObject()
            for (name, n) in tables { counts.set(name, .number(JSONNumber(n))) }
            return Self.json(200, ["region": .string(region), "tables": .object(counts), "total": .number(JSONNumber(total))])
        case .transactionIDs:
            let token = try MoveToken(query: request.query)
            let body = try Self.object(request)
            guard let text = body["above"]?.string, let above = UInt64(text) else {
                throw SCIMError.invalidValue("'above' must be a transaction id (xid8 text)")
            }
            let maxBurn = min(max(body["maxBurn"]?.int ?? 200_000, 0), 5_000_000)
            let (xid, burned) = try copy.raiseTransactionIDs(tenant: tenant, token: token, above: above, maxBurn: maxBurn)
            return Self.json(200, ["xid": .string(String(xid)), "burned": .number(JSONNumber(burned)), "reached": .bool(xid > above)])
        }
    }

    // MARK: Request parts

    func plan(_ name: String?) throws(SCIMError) -> TablePlan {
        guard let name, !name.isEmpty else { throw SCIMError.invalidValue("'table' is required") }
        guard let tables = try? self.tables() else { throw SCIMError(status: 503, detail: "the region database is unavailable; retry later") }
        guard let plan = tables.plan(name) else { throw SCIMError.notFound("no copied tenant table named '\(name.prefix(64))'") }
        return plan
    }

    /// `{"table", "buckets", "after"?: [key…], "only"?: [bucket…], "limit"?}` of a hash or export page.
    func pageRequest(_ body: JSONObject) throws -> (TablePlan, Int64, [String]?, [Int64]?, Int64) {
        let plan = try plan(body["table"]?.string)
        let buckets = try Self.bucketCount(body)
        var after: [String]? = nil
        if let value = body["after"], !value.isNull {
            guard let parameters = plan.keyParameters(value) else {
                throw SCIMError.invalidValue("'after' must be the key of a row of \(plan.name) (\(plan.key.count) values)")
            }
            after = parameters
        }
        let only = try Self.bucketList(body["only"], buckets: buckets)
        let limit = Int64(min(max(body["limit"]?.int ?? 10_000, 1), Int(Self.maxLimit)))
        return (plan, buckets, after, only, limit)
    }

    /// `from ..< to` within `0 ..< buckets` (both default to the whole range).
    static func bucketRange(_ from: Int?, _ to: Int?, buckets: Int64) throws(SCIMError) -> (Int64, Int64) {
        let lower = Int64(from ?? 0), upper = to.map(Int64.init) ?? buckets
        guard lower >= 0, lower <= upper, upper <= buckets else { throw SCIMError.invalidValue("'from' and 'to' must satisfy 0 <= from <= to <= buckets") }
        return (lower, upper)
    }

    static func bucketCount(_ body: JSONObject) throws(SCIMError) -> Int64 {
        guard let n = body["buckets"]?.int, n >= 1, n <= 1 << 20 else {
            throw SCIMError.invalidValue("'buckets' must be an integer from 1 to 1048576")
        }
        return Int64(n)
    }

    static func bucketList(_ value: JSONValue?, buckets: Int64) throws(SCIMError) -> [Int64]? {
        guard let value, !value.isNull else { return nil }
        guard case .array(let items) = value, items.count <= 1 << 20 else { throw SCIMError.invalidValue("'only' must be an array of buckets") }
        var out: [Int64] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let b = item.int, b >= 0, Int64(b) < buckets else { throw SCIMError.invalidValue("'only' holds a bucket outside 0..<buckets") }
            out.append(Int64(b))
        }
        return out
    }

    static func object(_ request: HTTPRequest) throws(SCIMError) -> JSONObject {
        guard !request.body.isEmpty else { return JSONObject() }
        guard case .object(let o)? = try? JSONDecoder.decode(request.body) else { throw SCIMError.invalidSyntax("the body must be a JSON object") }
        return o
    }

    static func json(_ status: Int, _ value: JSONValue) -> HTTPResponse {
        HTTPResponse(status: HTTPStatus(code: status), headers: ["Content-Type": "application/json"], body: value.encoded())
    }
}
