#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import NetIO
import Postgres
import Synchronization
import TestSupport
import Lifecycle

// What the tenant-move suites share: bulk loading a tenant with SQL, an IdP-like writer that keeps a model of every
// acknowledged write, row dumps of a tenant's tables, and waiting on a move.

/// Loads a tenant directly into a region's database (as the region writes them: the derived columns filled the same
/// way, triggers on, so events and member counts are there too), far faster than SCIM. Like scripts/load-users.sh:
/// user i gets id 018f0000-0000-7000-8000-<i>, userName user<i>@example.com.
enum TenantLoad {
    static func userID(_ i: Int) -> String {
        let hex = String(i, radix: 16)
        return "018f0000-0000-7000-8000-" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
    }

    static func load(_ d: Deployment, region: String, tenant: String, users: Int, groups: Int, bigGroupMembers: Int) throws {
        let c = try PostgresConnection(configuration: d.regionDatabases[region]!.appConfiguration)
        func inTenant(_ sql: String, _ parameters: [PostgresValue]) throws {
            try c.executeScript("BEGIN")
            _ = try c.query("SELECT set_config('app.tenant_id', $1, true)", [.text(tenant)])
            _ = try c.query(sql, parameters)
            try c.executeScript("COMMIT")
        }
        var from = 1
        while from <= users {
            let to = min(from + 20_000 - 1, users)
            try inTenant("""
                INSERT INTO users (tenant_id, id, user_name, user_name_key, external_id, display_name, display_name_key, active,
                                   resource, created_at, last_modified)
                SELECT $1::uuid, ('018f0000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
                       'user' || i || '@example.com', 'user' || i || '@example.com', 'ext-' || i, 'User ' || i, 'user ' || i, true,
                       jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
                                          'userName', 'user' || i || '@example.com',
                                          'name', jsonb_build_object('givenName', 'Given' || i, 'familyName', 'Family' || i),
                                          'displayName', 'User ' || i,
                                          'emails', jsonb_build_array(jsonb_build_object('value', 'user' || i || '@example.com', 'type', 'work', 'primary', true)),
                                          'externalId', 'ext-' || i, 'active', true),
                       date_trunc('milliseconds', now()), date_trunc('milliseconds', now())
                FROM generate_series($2::bigint, $3::bigint) AS i
                """, [.uuid(tenant), .int(Int64(from)), .int(Int64(to))])
            try inTenant("""
                INSERT INTO user_emails (tenant_id, user_id, email_key)
                SELECT $1::uuid, ('018f0000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'user' || i || '@example.com'
                FROM generate_series($2::bigint, $3::bigint) AS i
                """, [.uuid(tenant), .int(Int64(from)), .int(Int64(to))])
            from = to + 1
        }
        // Groups g1…gN (g1 is the big one), ids 018f0000-0000-7000-9000-<j>; each small group gets 10 members.
        try inTenant("""
            INSERT INTO groups (tenant_id, id, display_name, display_name_key, resource, created_at, last_modified)
            SELECT $1::uuid, ('018f0000-0000-7000-9000-' || lpad(to_hex(j), 12, '0'))::uuid, 'Group ' || j, 'group ' || j,
                   jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:Group'), 'displayName', 'Group ' || j),
                   date_trunc('milliseconds', now()), date_trunc('milliseconds', now())
            FROM generate_series(1, $2::bigint) AS j
            """, [.uuid(tenant), .int(Int64(groups))])
        try inTenant("""
            INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
            SELECT $1::uuid, '018f0000-0000-7000-9000-000000000001'::uuid, ('018f0000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'User'
            FROM generate_series(1, $2::bigint) AS i
            """, [.uuid(tenant), .int(Int64(bigGroupMembers))])
        if groups > 1 {
            try inTenant("""
                INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
                SELECT $1::uuid, ('018f0000-0000-7000-9000-' || lpad(to_hex(j), 12, '0'))::uuid,
                       ('018f0000-0000-7000-8000-' || lpad(to_hex(1 + ((j * 7919 + k) % $3::bigint)), 12, '0'))::uuid, 'User'
                FROM generate_series(2, $2::bigint) AS j, generate_series(1, 10) AS k
                ON CONFLICT DO NOTHING
                """, [.uuid(tenant), .int(Int64(groups)), .int(Int64(users))])
        }
        // A webhook endpoint and a quirk count: the move carries them too.
        try inTenant("""
            INSERT INTO webhook_endpoints (tenant_id, url, secret_key_id, secret_sealed, cursor_xid, next_attempt_at)
            VALUES ($1::uuid, 'https://hooks.example.com/move-test', 'webhook-test', '\\x0102'::bytea, '1'::xid8, now() + interval '1 day')
            """, [.uuid(tenant)])
        try inTenant("INSERT INTO idp_quirks (tenant_id, quirk, count, first_seen, last_seen) VALUES ($1::uuid, 'entraBooleanStrings', 3, now(), now())",
                     [.uuid(tenant)])
        try c.executeScript("ANALYZE")
    }
}

/// Every row of a tenant in every tenant table of a region database (tables found in information_schema: every table
/// with a tenant_id column, and tenants), as record text, per table; read as the superuser.
func tenantRows(_ d: Deployment, region: String, tenant: String) throws -> [String: Set<String>] {
    let c = try d.regionAdmin(region)
    _ = try c.query("SET TimeZone = 'UTC'")
    let tables = try c.query("""
        SELECT DISTINCT table_name::text FROM information_schema.columns
        WHERE table_schema = 'public' AND (column_name = 'tenant_id' OR table_name = 'tenants')
        """)
    var out: [String: Set<String>] = [:]
    for row in 0..<tables.rowCount {
        guard let table = tables.string(row: row, column: 0) else { continue }
        let column = table == "tenants" ? "id" : "tenant_id"
        // Names from information_schema, quoted.
        let r = try c.query("SELECT t::text FROM \"\(table)\" t WHERE \"\(column)\" = $1::uuid", [.uuid(tenant)])
        out[table] = Set((0..<r.rowCount).compactMap { r.string(row: $0, column: 0) })
    }
    return out
}

/// The moves API of a deployment.
extension Deployment {
    func move(_ tenant: String, gateway: Int = 0) throws -> JSONValue {
        let (status, json) = try admin(.get, "/admin/v1/tenants/\(tenant)/move", gateway: gateway)
        guard status == 200, let json else { throw RawError.failed("move status answered \(status)") }
        return json
    }

    /// Polls the move every 20 ms until `done(state)`; returns the move, or throws after `timeoutSeconds`.
    @discardableResult
    func waitForMove(_ tenant: String, timeoutSeconds: Int = 180, gateway: Int = 0, until done: (String) -> Bool) throws -> JSONValue {
        let deadline = monotonicMillis() + timeoutSeconds * 1000
        while true {
            if let m = try? move(tenant, gateway: gateway), let state = m["state"]?.string, done(state) { return m }
            if monotonicMillis() > deadline {
                throw RawError.failed("move of \(tenant) did not reach the expected state: \((try? move(tenant, gateway: gateway)).map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "-")")
            }
            usleep(20_000)
        }
    }

    /// Runs `scimctl` against gateway `gateway`'s admin listener; returns (exit status, output).
    func scimctl(_ arguments: [String], gateway: Int = 0, timeoutMillis: Int = 60_000) throws -> (Int32?, String) {
        let log = directory + "/scimctl-\(monotonicMillis())-\(Int.random(in: 0..<1_000_000)).out"
        let process = try ChildProcess(executable: binaryDirectory() + "/scimctl",
                                       arguments: ["--url", "http://127.0.0.1:\(gateways[gateway].adminPort)",
                                                   "--admin-token-file", directory + "/admin-token"] + arguments,
                                       logPath: log)
        let status = process.wait(timeoutMillis: timeoutMillis)
        return (status, process.log)
    }

    /// The tenant's rows in a region's `users` table (superuser: no row-level security).
    func userRows(_ region: String, _ tenant: String) throws -> Int {
        Int(try regionAdmin(region).query("SELECT count(*) FROM users WHERE tenant_id = $1::uuid", [.uuid(tenant)]).int(row: 0, column: 0) ?? 0)
    }

    /// The tenant's rows in a region's `tenant_moves` (a region's write fence).
    func fenceRows(_ region: String, _ tenant: String) throws -> Int {
        Int(try regionAdmin(region).query("SELECT count(*) FROM tenant_moves WHERE tenant_id = $1::uuid", [.uuid(tenant)]).int(row: 0, column: 0) ?? 0)
    }

    /// The control plane's audit entries of a tenant's moves (`tenant.move.*`), oldest first.
    func moveAudit(_ tenant: String, gateway: Int = 0) throws -> [(action: String, detail: JSONValue)] {
        let (_, json) = try admin(.get, "/admin/v1/audit?tenant=\(tenant)&limit=500", gateway: gateway)
        return (json?["entries"]?.array ?? []).compactMap { e in
            guard let a = e["action"]?.string, a.hasPrefix("tenant.move.") else { return nil }
            return (a, e["detail"] ?? .null)
        }
    }
}

/// What every finished move must show: the source holds nothing of the tenant in any table; the target holds every
/// row the source had before the move that the IdP did not touch, unchanged; every write the IdP was told succeeded
/// is there exactly once. `before` is `tenantRows` of the source before the move.
func expectMovedEndState(_ d: Deployment, tenant: String, from source: String, to target: String, before: [String: Set<String>],
                         _ outcome: IdPWriter.Outcome, hardDeletes: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let left = try tenantRows(d, region: source, tenant: tenant)
    for (table, rows) in left {
        #expect(rows.count == 0, "\(source) still holds \(rows.count) rows of the tenant in \(table)", sourceLocation: sourceLocation)
    }
    let after = try tenantRows(d, region: target, tenant: tenant)
    #expect(Set(after.keys) == Set(before.keys), sourceLocation: sourceLocation)
    for (table, rows) in before {
        let touched = table == "users" ? outcome.touchedLoaded : []
        let missing = rows.filter { row in !after[table, default: []].contains(row) && !touched.contains { row.contains($0) } }
        #expect(missing.count == 0, "\(table): \(missing.count) of \(rows.count) rows did not arrive unchanged, e.g. \(missing.first?.prefix(200) ?? "")",
                sourceLocation: sourceLocation)
    }
    let checked = try expectWritesApplied(d, region: target, tenant: tenant, outcome, hardDeletes: hardDeletes, sourceLocation: sourceLocation)
    #expect(checked >= outcome.acknowledged / 2, sourceLocation: sourceLocation)
    #expect(try d.fenceRows(source, tenant) == 0 && d.fenceRows(target, tenant) == 0, "no fence left in either region",
            sourceLocation: sourceLocation)
}

/// An IdP that keeps provisioning one tenant while it moves: creates users, patches them and loaded ones, deletes
/// its own, on a few threads,
/// honouring 503 + Retry-After, and records every write the service acknowledged. Each thread works on its own
/// users, so the expected end state of each user is exact: created or not, deleted or not, its displayName and its
/// version (one per acknowledged write). A write without an answer (a killed process) is recorded as unknown and
/// its user is left alone afterwards.
final class IdPWriter: Sendable {
    struct Outcome: Sendable {
        var creates: [String: String] = [:]          // id → userName, acknowledged 201
        var versions: [String: Int] = [:]            // id → version after the last acknowledged write
        var displayNames: [String: String] = [:]     // id → displayName of the last acknowledged patch
        var deleted: Set<String> = []                // acknowledged 204
        var unknown: Set<String> = []                // ids (or userNames) with a write of unknown outcome
        var touchedLoaded: Set<String> = []          // loaded users this writer patched (or tried to)
        var paused: [(start: Int, end: Int)] = []    // 503s with X-Scim-Write-Pause (ms since the writer started)
        var otherFailures: [String] = []
        var acknowledged = 0
        /// When each acknowledged write was answered (ms since the writer started).
        var acks: [Int] = []

        /// The longest time between two acknowledged writes (any thread) after `from` (ms since the writer started):
        /// how long the IdP could not write, Retry-After waits included.
        func longestStall(from: Int = 0) -> Int {
            let times = acks.filter { $0 >= from }.sorted()
            return zip(times, times.dropFirst()).map { $1 - $0 }.max() ?? 0
        }
    }

    let client: SCIMClient
    let stop = StopFlag()
    let outcomes = Mutex<[Outcome]>([])
    let started = monotonicMillis()
    let threads: Int
    /// Acknowledged writes so far (all threads), for waiting on the writer while it runs.
    let acknowledgedSoFar = Atomic<Int>(0)
    private let handles = Mutex<[ThreadHandle]>([])

    /// `loaded`: how many users were loaded with SQL (thread t patches and deletes loaded users t, t+threads, …).
    init(port: Int, token: String, threads: Int = 3) {
        client = SCIMClient(port: port, token: token)
        self.threads = threads
    }

    func start(loaded: Int, prefix: String) {
        let list = (0..<threads).map { t in
            ThreadHandle.start(name: "idp-\(t)") { [self] in
                let o = run(thread: t, loaded: loaded, prefix: prefix)
                outcomes.withLock { $0.append(o) }
            }
        }
        handles.withLock { $0 = list }
    }

    /// Stops the writer and returns every thread's outcome merged.
    func finish() -> Outcome {
        stop.raise()
        for h in handles.withLock({ $0 }) { h.join() }
        var all = Outcome()
        for o in outcomes.withLock({ $0 }) {
            all.creates.merge(o.creates) { a, _ in a }
            all.versions.merge(o.versions) { a, _ in a }
            all.displayNames.merge(o.displayNames) { a, _ in a }
            all.deleted.formUnion(o.deleted)
            all.unknown.formUnion(o.unknown)
            all.touchedLoaded.formUnion(o.touchedLoaded)
            all.paused += o.paused
            all.otherFailures += o.otherFailures
            all.acknowledged += o.acknowledged
            all.acks += o.acks
        }
        return all
    }

    /// Sends until acknowledged (2xx, or 404 for a target that is gone), retrying after Retry-After on a pause or a
    /// gateway 503 that reached no region; nil when the outcome is unknown (no answer).
    private func send(_ o: inout Outcome, _ method: HTTPMethod, _ target: String, _ body: JSONValue?) -> HTTPResponse? {
        while true {
            let (response, exchange) = client.send(method, target, body: body, timeout: .seconds(30))
            guard let response else { return nil }
            if response.status.code == 503 {
                let pause = response.headers["X-Scim-Write-Pause"] != nil
                if pause { o.paused.append((exchange.startMillis - started, exchange.endMillis - started)) }
                // A 503 that certainly changed nothing: the tenant's pause, or the gateway refusing before any region.
                if pause || response.headers["X-Scim-Region"] == "none" {
                    let wait = min(Int(response.headers["Retry-After"] ?? "1") ?? 1, 5)
                    usleep(UInt32(wait) * 1_000_000)
                    if stop.isRaised && !pause { return nil }
                    continue
                }
                return nil
            }
            return response
        }
    }

    private func run(thread t: Int, loaded: Int, prefix: String) -> Outcome {
        var o = Outcome()
        var mine: [String] = []       // users this thread created and still owns
        var n = 0
        var nextLoaded = 1 + t
        while !stop.isRaised {
            n += 1
            switch n % 4 {
            case 0, 1:
                let name = "\(prefix)-\(t)-\(n)@idp.example"
                guard let r = send(&o, .post, "/scim/v2/Users", userBody(name)) else { o.unknown.insert(name); continue }
                if r.status.code == 201, let id = (try? JSONDecoder.decode(r.body))?["id"]?.string {
                    o.creates[id] = name
                    o.versions[id] = 1
                    o.acknowledged += 1
                    o.acks.append(monotonicMillis() - started)
                    acknowledgedSoFar.add(1, ordering: .relaxed)
                    mine.append(id)
                } else {
                    o.otherFailures.append("POST \(r.status.code) \(r.bodyText.prefix(120))")
                }
            case 2:
                // Patch a user: alternately one of mine and a loaded one.
                let id: String
                if n % 8 == 2, let last = mine.last {
                    id = last
                } else {
                    guard nextLoaded <= loaded else { continue }
                    id = TenantLoad.userID(nextLoaded)
                    nextLoaded += threads
                    o.touchedLoaded.insert(id)
                    if o.versions[id] == nil { o.versions[id] = 1 }
                }
                if o.unknown.contains(id) || o.deleted.contains(id) { continue }
                let name = "Patched \(t)-\(n)"
                let body: JSONValue = ["schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                       "Operations": [["op": "replace", "path": "displayName", "value": .string(name)]]]
                guard let r = send(&o, .patch, "/scim/v2/Users/\(id)", body) else { o.unknown.insert(id); continue }
                if r.status.code == 200 || r.status.code == 204 {
                    o.versions[id, default: 1] += 1
                    o.displayNames[id] = name
                    o.acknowledged += 1
                    o.acks.append(monotonicMillis() - started)
                    acknowledgedSoFar.add(1, ordering: .relaxed)
                } else {
                    o.otherFailures.append("PATCH \(r.status.code) \(r.bodyText.prefix(120))")
                }
            default:
                // Delete one of mine (not the newest). Loaded users are only patched, so the loaded groups and their
                // members stay exactly as loaded (a deleted user leaves its groups).
                guard mine.count > 1 else { continue }
                let id = mine.removeFirst()
                guard let r = send(&o, .delete, "/scim/v2/Users/\(id)", nil) else { o.unknown.insert(id); continue }
                if r.status.code == 204 {
                    o.deleted.insert(id)
                    o.acknowledged += 1
                    o.acks.append(monotonicMillis() - started)
                    acknowledgedSoFar.add(1, ordering: .relaxed)
                } else {
                    o.otherFailures.append("DELETE \(r.status.code) \(r.bodyText.prefix(120))")
                }
            }
            usleep(20_000)
        }
        return o
    }
}

/// Checks the tenant's users in `region` against what the IdP writer was told: every acknowledged create exactly
/// once, every acknowledged patch applied exactly once (version = 1 + acknowledged writes), every acknowledged
/// delete a tombstone. Returns the number of users checked.
@discardableResult
func expectWritesApplied(_ d: Deployment, region: String, tenant: String, _ o: IdPWriter.Outcome, hardDeletes: Bool = false,
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
    let c = try d.regionAdmin(region)
    let r = try c.query("SELECT id::text, user_name, display_name, version, deleted_at IS NOT NULL FROM users WHERE tenant_id = $1::uuid",
                        [.uuid(tenant)])
    var rows: [String: (name: String, display: String?, version: Int, deleted: Bool)] = [:]
    var names: [String: Int] = [:]
    for i in 0..<r.rowCount {
        let id = r.string(row: i, column: 0)!, name = r.string(row: i, column: 1)!
        let deleted = r.bool(row: i, column: 4) ?? false
        rows[id] = (name, r.string(row: i, column: 2), Int(r.int(row: i, column: 3) ?? 0), deleted)
        if !deleted { names[name, default: 0] += 1 }
    }
    var checked = 0
    for (id, name) in o.creates where !o.unknown.contains(id) && !(hardDeletes && o.deleted.contains(id)) {
        guard let row = rows[id] else {
            Issue.record("acknowledged create of \(name) (\(id)) is missing in \(region)", sourceLocation: sourceLocation)
            continue
        }
        #expect(row.name == name, sourceLocation: sourceLocation)
        if !row.deleted { #expect(names[name] == 1, "userName \(name) held by \(names[name] ?? 0) live users", sourceLocation: sourceLocation) }
        checked += 1
    }
    for (id, version) in o.versions where !o.unknown.contains(id) && !o.deleted.contains(id) {
        guard let row = rows[id] else {
            Issue.record("user \(id) written by the IdP is missing in \(region)", sourceLocation: sourceLocation)
            continue
        }
        #expect(row.version == version, "user \(id): version \(row.version), acknowledged writes say \(version) (lost or doubled)",
                sourceLocation: sourceLocation)
        if let name = o.displayNames[id] {
            #expect(row.display == name, "user \(id): displayName \(row.display ?? "nil"), last acknowledged \(name)", sourceLocation: sourceLocation)
        }
        #expect(!row.deleted, sourceLocation: sourceLocation)
        checked += 1
    }
    for id in o.deleted where !o.unknown.contains(id) {
        if hardDeletes {
            #expect(rows[id] == nil, "acknowledged (hard) delete of \(id) not applied in \(region)", sourceLocation: sourceLocation)
        } else {
            #expect(rows[id]?.deleted == true, "acknowledged delete of \(id) not applied in \(region)", sourceLocation: sourceLocation)
        }
        checked += 1
    }
    // No create of the writer applied twice (a retried POST would make a second user of the same name).
    let writerNames = Set(o.creates.values)
    for (name, count) in names where writerNames.contains(name) {
        #expect(count == 1, "\(name) exists \(count) times", sourceLocation: sourceLocation)
    }
    return checked
}
