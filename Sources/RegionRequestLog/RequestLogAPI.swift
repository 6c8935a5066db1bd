import Crypto
package import JSON
package import Postgres
package import RegionSCIM
import SCIMCore
import Telemetry

/// The request log's internal API (signed, tenant-scoped like the events API; relayed by the gateway's admin API):
///
///     GET  /internal/v1/tenants/{id}/request-log           records, newest first, filtered, cursor-paged
///     GET  /internal/v1/tenants/{id}/request-log/summary   counts of the last minutes, the last request, the last few
///     POST /internal/v1/tenants/{id}/request-log           records of requests the gateway refused itself (batches)
///
/// Reads run on the request log's own connections (`pool`, with a short lock timeout), so reading the log never
/// takes a connection the SCIM service needs, and a locked log table costs the reader a quick 503, nothing more.
package final class RequestLogAPI: Sendable {
    let pool: PostgresPool
    let database: RegionDatabase
    package let writer: RequestLogWriter
    let region: String

    /// The API over the request log's `pool`; gateway records go to `writer`.
    package init(pool: PostgresPool, database: RegionDatabase, writer: RequestLogWriter, region: String) {
        self.pool = pool
        self.database = database
        self.writer = writer
        self.region = region
    }

    static let columns = """
        xid::text, seq, at, request_id, source, idp, user_agent, method, route, resource_type, resource_id, user_name,
        external_id, display_name, query, status, scim_type, detail, outcome, array_to_json(quirks)::text, duration_ms,
        results, request_bytes, request_truncated, request_omitted, response_bytes, response_truncated, response_omitted
        """
    static let columnCount = 28
    static let tenantExists = PreparedStatement("SELECT 1 FROM tenants WHERE id = $1::uuid")

    // MARK: Listing

    /// A page of records: `{"records": [...], "next": cursor|null, "newer": cursor|null, "hasMore": bool}`.
    ///
    /// Without a cursor: the newest records first; `next` continues with older ones (null at the end), `newer`
    /// returns, later, the records that arrived since (oldest first; its answer's `newer` continues following).
    /// Only rows of finished transactions older than every running one are listed, so following never skips a row
    /// that commits late.
    package func list(tenant: String, query text: String?) throws -> JSONValue {
        let query = try RequestLogQuery.parse(text)
        let secret = try database.cursorSecret()
        var cursor: RequestLogCursor? = nil
        if let token = query.cursor {
            guard let decoded = RequestLogCursor.decode(token, secret: secret, tenant: tenant) else {
                throw SCIMError(status: 400, scimType: .invalidCursor, detail: "'cursor' is not a cursor of this tenant's request log")
            }
            guard decoded.fingerprint == query.fingerprint else {
                throw SCIMError(status: 400, scimType: .invalidCursor,
                                detail: "'cursor' belongs to a listing with other filters; repeat that listing's filters")
            }
            cursor = decoded
        }
        let newerFirst = cursor?.direction != .newer
        var values: [PostgresValue] = [.uuid(tenant)]
        var conditions = query.conditions(&values)
        if let cursor {
            values.append(.text(String(cursor.xid)))
            values.append(.int(cursor.seq))
            conditions += " AND (xid, seq) \(newerFirst ? "<" : ">") ($\(values.count - 1)::xid8, $\(values.count))"
        }
        values.append(.int(Int64(query.limit + 1)))
        let order = newerFirst ? "xid DESC, seq DESC" : "xid, seq"
        let bodies = query.bodies ? "request_body, response_body" : "NULL::text, NULL::text"
        // The LEFT JOIN yields one row of NULLs when nothing matches, so the horizon is always read.
        let sql = """
            WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon)
            SELECT r.*, h.horizon::text FROM h LEFT JOIN LATERAL (
                SELECT \(Self.columns), \(bodies) FROM request_log
                WHERE tenant_id = $1 AND xid < h.horizon\(conditions)
                ORDER BY \(order) LIMIT $\(values.count)) r ON true
            """
        let results = try read(tenant, [.sql(sql, values)])
        let rows = results[0]
        var records: [JSONValue] = []
        var positions: [(UInt64, Int64)] = []
        var horizon: UInt64 = 0
        for row in 0..<rows.rowCount {
            if let h = rows.string(row: row, column: Self.columnCount + 2).flatMap({ UInt64($0) }) { horizon = h }
            if rows.isNull(row: row, column: 0) { continue }
            guard let xid = rows.string(row: row, column: 0).flatMap({ UInt64($0) }), let seq = rows.int(row: row, column: 1) else { continue }
            positions.append((xid, seq))
            records.append(Self.record(rows, row, bodyColumn: Self.columnCount))
        }
        let hasMore = records.count > query.limit
        if hasMore {
            records.removeLast()
            positions.removeLast()
        }
        let fingerprint = query.fingerprint
        func token(_ direction: RequestLogCursor.Direction, _ position: (UInt64, Int64)) -> JSONValue {
            .string(RequestLogCursor(direction: direction, xid: position.0, seq: position.1, fingerprint: fingerprint)
                .encode(secret: secret, tenant: tenant))
        }
        var next: JSONValue = .null, newer: JSONValue = .null
        if newerFirst {
            if hasMore, let last = positions.last { next = token(.older, last) }
            // Following starts where this listing began: at the horizon (every row below it is listed or older).
            if cursor == nil {
                newer = token(.newer, (horizon, 0))
            }
        } else if let cursor {
            var position = (cursor.xid, cursor.seq)
            if let last = positions.last { position = last }
            if !hasMore && (horizon, 0) > position { position = (horizon, 0) }
            newer = token(.newer, position)
        }
        return ["records": .array(records), "next": next, "newer": newer, "hasMore": .bool(hasMore)]
    }

    // MARK: Summary

    /// A live connection check's view: `{"tenantId", "windowMinutes", "since", "total", "byClass": {"2xx": n, …},
    /// "byOutcome": {"rate-limited": n, …}, "lastRequestAt": time|null, "recent": [records without bodies]}`.
    /// Parameters: `minutes` (1 to 1440, default 15) and `recent` (0 to 50, default 5), nothing else.
    package func summary(tenant: String, query text: String?) throws -> JSONValue {
        var minutes = 15, recent = 5
        var since: PostgresTimestamp? = nil, until: PostgresTimestamp? = nil
        for (name, value) in QueryString.decode(text ?? "") {
            switch name {
            case "minutes":
                guard let n = Int(value), (1...1440).contains(n) else { throw SCIMError.invalidValue("'minutes' must be an integer from 1 to 1440") }
                minutes = n
            case "recent":
                guard let n = Int(value), (0...50).contains(n) else { throw SCIMError.invalidValue("'recent' must be an integer from 0 to 50") }
                recent = n
            case "since": since = try RequestLogQuery.time(value, "since")
            case "until": until = try RequestLogQuery.time(value, "until")
            default:
                throw SCIMError.invalidValue("unknown parameter '\(name.prefix(40))' (minutes, since, until, recent)")
            }
        }
        // The window: [since, until) when given (since defaults to `minutes` before until, or before now), else the
        // last `minutes`.
        let untilMillis = until.map { $0.microsecondsSinceEpoch / 1000 }
        let sinceMillis = since.map { $0.microsecondsSinceEpoch / 1000 } ?? ((untilMillis ?? Timestamp.nowEpochMillis()) - Int64(minutes) * 60_000)
        if let untilMillis, untilMillis <= sinceMillis { throw SCIMError.invalidValue("'until' must be later than 'since'") }
        let from = PostgresTimestamp(microsecondsSinceEpoch: sinceMillis * 1000)
        // Without `until`, a bound no record reaches (the year 9999).
        let to = PostgresTimestamp(microsecondsSinceEpoch: (untilMillis ?? 253_402_300_799_000) * 1000)
        let window = "tenant_id = $1 AND at >= $2 AND at < $3"
        let results = try read(tenant, [
            .sql("SELECT status / 100, count(*) FROM request_log WHERE \(window) GROUP BY 1",
                 [.uuid(tenant), .timestamp(from), .timestamp(to)]),
            .sql("""
                SELECT outcome, count(*) FROM request_log WHERE \(window) AND outcome IS NOT NULL
                GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20
                """, [.uuid(tenant), .timestamp(from), .timestamp(to)]),
            .sql("SELECT max(at) FROM request_log WHERE tenant_id = $1", [.uuid(tenant)]),
            .sql("SELECT \(Self.columns) FROM request_log WHERE tenant_id = $1 ORDER BY at DESC, seq DESC LIMIT $2",
                 [.uuid(tenant), .int(Int64(recent))]),
            // Who processed the requests of the window: per source (a region answered it, or a gateway refused it)
            // and per process that wrote the record (`written_by`, migration 10; null for older records).
            .sql("""
                SELECT source, written_by, count(*), min(at), max(at) FROM request_log WHERE \(window)
                GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 200
                """, [.uuid(tenant), .timestamp(from), .timestamp(to)]),
        ])
        var byClass = JSONObject()
        var counts = [Int64](repeating: 0, count: 6)
        var total: Int64 = 0
        for row in 0..<results[0].rowCount {
            guard let c = results[0].int(row: row, column: 0), let n = results[0].int(row: row, column: 1) else { continue }
            if (1...5).contains(c) { counts[Int(c)] += n }
            total += n
        }
        for c in 2...5 { byClass.appendUnchecked(key: "\(c)xx", value: .number(JSONNumber(counts[c]))) }
        var byOutcome = JSONObject()
        for row in 0..<results[1].rowCount {
            guard let outcome = results[1].string(row: row, column: 0), let n = results[1].int(row: row, column: 1) else { continue }
            byOutcome.appendUnchecked(key: outcome, value: .number(JSONNumber(n)))
        }
        let last = results[2].timestamp(row: 0, column: 0)
        let records = (0..<results[3].rowCount).map { Self.record(results[3], $0, bodyColumn: nil) }
        var processes: [JSONValue] = []
        for row in 0..<results[4].rowCount {
            var p: JSONObject = ["source": .string(results[4].string(row: row, column: 0) ?? "")]
            let writer = results[4].string(row: row, column: 1)
            p.set("writtenBy", writer.map { .string($0) } ?? .null)
            // The region is the first part of the writer's name (`us/host/pid`).
            p.set("region", writer.flatMap { $0.split(separator: "/").first.map { .string(String($0)) } } ?? .null)
            p.set("requests", .number(JSONNumber(results[4].int(row: row, column: 2) ?? 0)))
            p.set("first", results[4].timestamp(row: row, column: 3).map { .string($0.iso8601) } ?? .null)
            p.set("last", results[4].timestamp(row: row, column: 4).map { .string($0.iso8601) } ?? .null)
            processes.append(.object(p))
        }
        var o: JSONObject = ["tenantId": .string(tenant),
                             "windowMinutes": .number(JSONNumber(since == nil && until == nil ? Int64(minutes)
                                                                 : ((untilMillis ?? Timestamp.nowEpochMillis()) - sinceMillis + 59_999) / 60_000)),
                             "since": .string(Timestamp.iso8601(epochMillis: sinceMillis))]
        o.set("until", untilMillis.map { .string(Timestamp.iso8601(epochMillis: $0)) } ?? .null)
        o.set("total", .number(JSONNumber(total)))
        o.set("byClass", .object(byClass))
        o.set("byOutcome", .object(byOutcome))
        o.set("lastRequestAt", last.map { .string($0.iso8601) } ?? .null)
        o.set("recent", .array(records))
        o.set("processes", .array(processes))
        return .object(o)
    }

    /// Runs `statements` for `tenant` in one read-only snapshot on the log's connections; 404 for an unknown tenant.
    func read(_ tenant: String, _ statements: [PostgresStatement]) throws -> [PostgresResult] {
        let results: [PostgresResult]
        do {
            results = try pool.withConnection { connection in
                try connection.pipeline([.sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
                                         .prepared(RegionDatabase.setTenant, [.text(tenant)]),
                                         .prepared(Self.tenantExists, [.text(tenant)])]
                                        + statements + [.sql("COMMIT")])
            }
        } catch let error as PostgresError where error.kind == .queryCanceled || error.sqlState == "55P03" {
            // lock_timeout (55P03) or statement_timeout: the log table is busy (e.g. locked by maintenance).
            throw SCIMError(status: 503, detail: "the request log is busy; retry later", retryAfterSeconds: 2)
        }
        guard results[2].rowCount == 1 else { throw SCIMError.tenantNotProvisioned(region: region) }
        return Array(results[3..<(3 + statements.count)])
    }

    /// A record as the API shows it (`bodyColumn`: where the two body columns are, nil to leave bodies out).
    static func record(_ r: PostgresResult, _ row: Int, bodyColumn: Int?) -> JSONValue {
        func text(_ c: Int) -> JSONValue { r.string(row: row, column: c).map { .string($0) } ?? .null }
        func int(_ c: Int) -> JSONValue { r.int(row: row, column: c).map { .number(JSONNumber($0)) } ?? .null }
        var o = JSONObject()
        o.reserveCapacity(24)
        o.appendUnchecked(key: "id", value: .string(String(r.int(row: row, column: 1) ?? 0)))
        o.appendUnchecked(key: "at", value: r.timestamp(row: row, column: 2).map { .string($0.iso8601) } ?? .null)
        for (key, c) in [("requestId", 3), ("source", 4), ("idp", 5), ("userAgent", 6), ("method", 7), ("route", 8),
                         ("resourceType", 9), ("resourceId", 10), ("userName", 11), ("externalId", 12), ("displayName", 13),
                         ("query", 14)] {
            o.appendUnchecked(key: key, value: text(c))
        }
        o.appendUnchecked(key: "status", value: int(15))
        o.appendUnchecked(key: "scimType", value: text(16))
        o.appendUnchecked(key: "detail", value: text(17))
        o.appendUnchecked(key: "outcome", value: text(18))
        o.appendUnchecked(key: "quirks", value: r.string(row: row, column: 19).flatMap { try? JSONDecoder.decode($0) } ?? .array([]))
        o.appendUnchecked(key: "durationMs", value: r.double(row: row, column: 20).map { .number(JSONNumber($0)) } ?? .null)
        o.appendUnchecked(key: "results", value: int(21))
        if let bodyColumn {
            for (key, first, body) in [("request", 22, bodyColumn), ("response", 25, bodyColumn + 1)] {
                var b = JSONObject()
                b.appendUnchecked(key: "bytes", value: int(first))
                b.appendUnchecked(key: "truncated", value: .bool(r.bool(row: row, column: first + 1) ?? false))
                b.appendUnchecked(key: "omitted", value: text(first + 2))
                b.appendUnchecked(key: "body", value: text(body))
                o.appendUnchecked(key: key, value: .object(b))
            }
        }
        return .object(o)
    }

    // MARK: Records from the gateway

    /// `POST …/request-log`: `{"records": [...]}` of requests the gateway answered itself (at most 500). Each is
    /// queued like the region's own (redacted and written by the writer); answers `{"accepted": n, "dropped": n}`.
    package func ingest(tenant: String, body: JSONValue) throws -> JSONValue {
        guard case .array(let items)? = body["records"], items.count <= 500 else {
            throw SCIMError.invalidValue("the body must be {\"records\": [...]} with at most 500 records")
        }
        let entries = try items.enumerated().map { i, item throws(SCIMError) in try Self.entry(item, tenant: tenant, index: i) }
        var accepted = 0
        for entry in entries {
            let offer = writer.buffer.offer(entry)
            writer.count(offer)
            if offer == .queued { accepted += 1 }
        }
        return ["accepted": .number(JSONNumber(accepted)), "dropped": .number(JSONNumber(entries.count - accepted))]
    }

    /// One gateway record: `{"at": epochMillis, "requestId", "method", "route", "path", "query"?, "userAgent"?,
    /// "status", "scimType"?, "detail"?, "outcome", "durationMs", "bodyBytes", "body"? (base64)}`.
    static func entry(_ value: JSONValue, tenant: String, index i: Int) throws(SCIMError) -> RequestLogEntry {
        func string(_ key: String, max: Int, required: Bool = true) throws(SCIMError) -> String? {
            guard let v = value[key], !v.isNull else {
                if required { throw .invalidValue("records[\(i)].\(key) is required") }
                return nil
            }
            guard let s = v.string, s.utf8.count <= max else { throw .invalidValue("records[\(i)].\(key) must be a string of at most \(max) bytes") }
            return s
        }
        guard case .object = value else { throw .invalidValue("records[\(i)] must be an object") }
        guard let at = value["at"]?.int64, at > 0 else { throw .invalidValue("records[\(i)].at must be epoch milliseconds") }
        guard let status = value["status"]?.int, (100...599).contains(status) else {
            throw .invalidValue("records[\(i)].status must be an HTTP status")
        }
        let method = try string("method", max: 16)!
        guard RequestLogQuery.methods.contains(method) else { throw .invalidValue("records[\(i)].method is not a SCIM method") }
        let route = try string("route", max: 200)!
        let path = try string("path", max: 2048)!
        let duration = value["durationMs"]?.double ?? 0
        guard duration >= 0, duration < 86_400_000 else { throw .invalidValue("records[\(i)].durationMs is out of range") }
        let bodyBytes = value["bodyBytes"]?.int ?? 0
        guard bodyBytes >= 0 else { throw .invalidValue("records[\(i)].bodyBytes must not be negative") }
        var body: [UInt8] = []
        if let encoded = try string("body", max: 96 * 1024, required: false) {
            guard let decoded = Base64.decode(encoded) else { throw .invalidValue("records[\(i)].body must be base64") }
            body = decoded
        }
        var error: SCIMError? = nil
        if status >= 400 {
            error = SCIMError(status: status, scimType: try string("scimType", max: 64, required: false).flatMap(SCIMError.SCIMType.init(rawValue:)),
                              detail: try string("detail", max: 1024, required: false))
        }
        let (type, id) = Self.resource(route: route, path: path)
        return RequestLogEntry(tenant: tenant, atMillis: at, requestID: try string("requestId", max: 128)!, source: .gateway,
                               method: method, route: route, resourceType: type, resourceID: id,
                               query: try string("query", max: 4096, required: false),
                               userAgent: try string("userAgent", max: 512, required: false), status: status, error: error,
                               outcome: try string("outcome", max: 64, required: false), durationMillis: duration,
                               requestBody: body, requestBytes: max(bodyBytes, body.count),
                               responseBytes: error.map { $0.body.count } ?? 0)
    }

    /// The resource type a route names (`/scim/v2/Users…` → `User`) and, for `…/:id` routes, the id in the path.
    static func resource(route: String, path: String) -> (String?, String?) {
        let segments = route.split(separator: "/")
        guard segments.count >= 3 else { return (nil, nil) }
        let type: String? = segments[2] == "Users" ? "User" : segments[2] == "Groups" ? "Group" : nil
        guard type != nil, segments.last == ":id", let last = path.split(separator: "/").last else { return (type, nil) }
        return (type, QueryString.unescape(last))
    }
}
