import HTTPCore
import JSON
import Postgres
import Telemetry

/// The residency report of one tenant, for auditors: where its data lives (the home region's database as the region
/// file names it — host, port, database, never a user or password — and as the region itself reports its live
/// connection), how many rows it holds there per table (request log included), that no other region holds any, where
/// its request log is kept and under which policy, and its move history from the move records and the audit log.
struct ResidencyReport {
    let store: ControlStore
    let directory: RegionDirectory
    let regions: RegionInternalClient

    func build(_ tenant: Tenant, requestID: String) throws(ControlPlaneError) -> JSONValue {
        var o: JSONObject = ["tenantId": .string(tenant.id), "tenantName": .string(tenant.name), "homeRegion": .string(tenant.homeRegion)]
        o.set("scimBaseURL", directory.routes[tenant.homeRegion].map { .string($0.configuration.publicBaseURL) } ?? .null)
        o.set("generatedAt", .string(Timestamp.iso8601(epochMillis: Timestamp.nowEpochMillis())))
        var stored: [JSONValue] = []
        for id in directory.ids {
            guard let route = directory.routes[id] else { continue }
            stored.append(regionEntry(route, tenant: tenant, home: id == tenant.homeRegion, requestID: requestID))
        }
        o.set("regions", .array(stored))
        // Where the request log (every SCIM request's record, PII included) is kept: in the home region's database
        // only, under the tenant's request-log policy; the rows each region holds are in `regions`.
        var requestLog: JSONObject = ["storedIn": .string(tenant.homeRegion)]
        requestLog.set("policy", tenant.settings["requestLog"] ?? .object(JSONObject()))
        var logRows = JSONObject()
        for entry in stored { if let id = entry["region"]?.string { logRows.set(id, entry["requestLogRows"] ?? .null) } }
        requestLog.set("rowsByRegion", .object(logRows))
        o.set("requestLog", .object(requestLog))
        let moves = try store.moves(tenantID: tenant.id)
        o.set("moves", .array(moves.map(Self.moveEntry)))
        let audit = try store.auditLog(tenantID: tenant.id, afterID: nil, limit: 1000)
            .filter { $0.action == "tenant.create" || $0.action == "tenant.delete" || $0.action.hasPrefix("tenant.move.") }
        o.set("auditTrail", .array(audit.map { e in
            ["id": .number(JSONNumber(e.id)), "at": .string(e.at), "actor": .string(e.actor), "action": .string(e.action), "detail": e.detail]
        }))
        return .object(o)
    }

    /// One region: its database as configured, and what it holds of the tenant (asked live; null when it did not answer).
    func regionEntry(_ route: RegionRoute, tenant: Tenant, home: Bool, requestID: String) -> JSONValue {
        let config = route.configuration
        var o: JSONObject = ["region": .string(config.id), "displayName": .string(config.displayName), "home": .bool(home),
                             "configuredIn": .string(config.source)]
        var database = JSONObject()
        if let parsed = try? PostgresConfiguration(url: config.databaseURL) {
            database.set("host", parsed.host.map { .string($0) } ?? .null)
            database.set("port", parsed.port.map { .number(JSONNumber($0)) } ?? .null)
            database.set("name", parsed.database.map { .string($0) } ?? .null)
        }
        if let env = config.databaseURLEnv { database.set("overriddenBy", .string(env)) }
        o.set("database", .object(database))
        let base = "/internal/v1/tenants/\(tenant.id)/move"
        if let r = try? regions.send(.get, base + "/residue", tenant: tenant.id, body: [], on: route, requestID: requestID, key: nil),
           r.status.code == 200, let residue = try? JSONDecoder.decode(r.body) {
            o.set("rows", residue["tables"] ?? .null)
            o.set("totalRows", residue["total"] ?? .null)
            o.set("requestLogRows", residue["tables"]?["request_log"] ?? .null)
        } else {
            o.set("rows", .null)
            o.set("totalRows", .null)
            o.set("unreachable", true)
        }
        if home, let r = try? regions.send(.get, base + "/schema", tenant: tenant.id, body: [], on: route, requestID: requestID, key: nil),
           r.status.code == 200, let schema = try? JSONDecoder.decode(r.body) {
            // What the region's own database connection says it is (an address, not a password).
            o.set("observedDatabase", schema["database"] ?? .null)
        }
        return .object(o)
    }

    /// Who processed the tenant's requests in a window (`since` inclusive, `until` exclusive; RFC 3339 times, either
    /// may be left out): from the request log in the home region, where every record names the process that wrote it
    /// (`written_by`, `<region>/<host>/<pid>`, kept when the record moves with its tenant). Requests a region answered
    /// are counted per region and per process; those a gateway refused itself (no region read or wrote anything) are
    /// counted apart. `dataHeldIn`: the regions whose database holds rows of the tenant now (from `regions`).
    /// Throws `badRequest` for a window the region refuses.
    func processing(_ tenant: Tenant, since: String?, until: String?, regions stored: [JSONValue], requestID: String) throws(AdminError) -> JSONValue {
        var o: JSONObject = ["since": since.map { .string($0) } ?? .null, "until": until.map { .string($0) } ?? .null,
                             "from": .string("the request log in \(tenant.homeRegion)")]
        o.set("dataHeldIn", .array(stored.compactMap { entry in
            guard let id = entry["region"]?.string, (entry["totalRows"]?.int ?? 0) > 0 else { return nil }
            return .string(id)
        }))
        guard let route = directory.routes[tenant.homeRegion] else {
            o.set("unreachable", true)
            return .object(o)
        }
        var query = "recent=0&since=" + PercentEncoding.encode(since ?? "1970-01-01T00:00:00Z")
        if let until { query += "&until=" + PercentEncoding.encode(until) }
        guard let r = try? regions.send(.get, "/internal/v1/tenants/\(tenant.id)/request-log/summary?\(query)", tenant: tenant.id, body: [],
                                        on: route, requestID: requestID, key: nil) else {
            o.set("unreachable", true)
            return .object(o)
        }
        let answer = try? JSONDecoder.decode(r.body)
        if r.status.code == 400 { throw .badRequest(answer?["detail"]?.string ?? "the region refused the window") }
        guard r.status.code == 200, let answer else {
            // 404: the region keeps no request log (--request-log off); else unavailable.
            o.set(r.status.code == 404 ? "requestLogOff" : "unreachable", true)
            return .object(o)
        }
        var byRegion: [String: (requests: Int, processes: [JSONValue])] = [:]
        var refused = 0, unattributed = 0, refusedBy: [JSONValue] = []
        for p in answer["processes"]?.array ?? [] {
            let n = p["requests"]?.int ?? 0
            let gateway = p["source"]?.string == "gateway"
            var entry: JSONObject = [gateway ? "storedBy" : "process": p["writtenBy"] ?? .null, "requests": .number(JSONNumber(n))]
            entry.set("first", p["first"] ?? .null)
            entry.set("last", p["last"] ?? .null)
            if gateway {
                refused += n
                refusedBy.append(.object(entry))
            } else if let region = p["region"]?.string {
                byRegion[region, default: (0, [])].requests += n
                byRegion[region, default: (0, [])].processes.append(.object(entry))
            } else {
                unattributed += n
            }
        }
        o.set("total", answer["total"] ?? .number(JSONNumber(0)))
        o.set("byRegion", .array(byRegion.keys.sorted().map { id in
            ["region": .string(id), "requests": .number(JSONNumber(byRegion[id]!.requests)), "processes": .array(byRegion[id]!.processes)]
        }))
        o.set("refusedByGateway", ["requests": .number(JSONNumber(refused)), "records": .array(refusedBy)])
        o.set("unattributed", .number(JSONNumber(unattributed)))
        return .object(o)
    }

    static func moveEntry(_ m: TenantMove) -> JSONValue {
        func text(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        var o: JSONObject = ["id": .string(m.id), "from": .string(m.sourceRegion), "to": .string(m.targetRegion), "state": .string(m.state.rawValue),
                             "requestedBy": .string(m.requestedBy), "requestedAt": .string(m.createdAt)]
        o.set("frozenAt", text(m.frozenAt))
        o.set("cutOverAt", text(m.cutOverAt))
        o.set("finishedAt", text(m.finishedAt))
        o.set("pauseMillis", m.progress["pauseMillis"] ?? .null)
        o.set("verified", m.progress["verified"] ?? .null)
        o.set("sourceResidue", m.progress["sourceResidue"] ?? .null)
        o.set("error", text(m.lastError))
        return .object(o)
    }
}
