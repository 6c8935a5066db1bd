#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import Postgres
import TestSupport

/// A tenant of a deployment as the operator's app sees it (issue 18): SCIM through the gateway as its IdP would
/// call, and the admin API (roles, mapping, read API, events, snapshots) as the app would.
struct DirectoryClient: Sendable {
    let d: Deployment
    let id: String
    let token: String
    let region: String
    let scim: SCIMClient

    init(_ d: Deployment, name: String, region: String) throws {
        let t = try d.createTenant(name + "-\(monotonicMillis())", region: region, policy: "hard")
        self.d = d
        id = t.id
        token = t.token
        self.region = region
        scim = SCIMClient(port: d.gateways[0].port, token: t.token)
    }

    /// POSTs a resource through the gateway; returns its id.
    func create(_ endpoint: String, _ body: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let (response, exchange) = scim.send(.post, "/scim/v2" + endpoint, body: body)
        try #require(response?.status.code == 201, "\(exchange.body)", sourceLocation: sourceLocation)
        return try #require(response.flatMap { try? JSONDecoder.decode($0.body) }?["id"]?.string, sourceLocation: sourceLocation)
    }

    func user(_ userName: String, _ extra: JSONObject = [:]) throws -> String {
        guard case .object(var body) = userBody(userName) else { return "" }
        for (k, v) in extra { body.set(k, v) }
        return try create("/Users", .object(body))
    }

    func group(_ displayName: String, externalId: String? = nil, members: [String] = []) throws -> String {
        var body: JSONObject = ["schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": .string(displayName)]
        if let externalId { body.set("externalId", .string(externalId)) }
        if !members.isEmpty { body.set("members", .array(members.map { ["value": .string($0)] })) }
        return try create("/Groups", .object(body))
    }

    /// A PATCH through the gateway (expects 200 or 204).
    func patch(_ path: String, _ operations: [JSONValue], sourceLocation: SourceLocation = #_sourceLocation) {
        let body: JSONValue = ["schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": .array(operations)]
        let (response, exchange) = scim.send(.patch, "/scim/v2" + path, body: body)
        #expect([200, 204].contains(response?.status.code ?? 0), "\(exchange.body)", sourceLocation: sourceLocation)
    }

    /// `/admin/v1/tenants/{id}/<path>` on the first gateway.
    func admin(_ method: HTTPMethod, _ path: String, _ body: JSONValue? = nil) throws -> (Int, JSONValue) {
        let (status, json) = try d.admin(method, "/admin/v1/tenants/\(id)/" + path, body)
        return (status, json ?? .null)
    }

    /// Waits (up to `seconds`) until the recompute job is done; returns the `GET <what>` answer.
    @discardableResult
    func waitForRecompute(_ what: String = "roles", seconds: Int = 120, sourceLocation: SourceLocation = #_sourceLocation) throws
        -> JSONValue
    {
        let deadline = monotonicMillis() + seconds * 1000
        while true {
            let (status, answer) = try admin(.get, what)
            let state = answer["recompute"]?["state"]?.string
            if status == 200 && (state == "done" || state == "none") { return answer }
            if monotonicMillis() > deadline {
                Issue.record("recompute not done after \(seconds) s: \(answer)", sourceLocation: sourceLocation)
                return answer
            }
            sleepMillis(100)
        }
    }

    /// A user's effective roles, from the admin read API.
    func roles(_ user: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        let (status, answer) = try admin(.get, "users/\(user)")
        #expect(status == 200, "\(answer)", sourceLocation: sourceLocation)
        return (answer["effectiveRoles"]?.array ?? []).compactMap(\.string)
    }

    /// Every event after `cursor` of every transaction committed before this call (through the admin API), and the
    /// cursor after them: takes a transaction id in the region database, then pages until the feed has passed it.
    func settledEvents(after cursor: String?, sourceLocation: SourceLocation = #_sourceLocation) throws -> (events: [JSONValue], next: String) {
        let barrier = UInt64(try d.regionAdmin(region).query("SELECT pg_current_xact_id()::text").string(row: 0, column: 0) ?? "") ?? 0
        let deadline = monotonicMillis() + 30_000
        var events: [JSONValue] = []
        var after = cursor
        while true {
            let (status, page) = try admin(.get, "events?limit=1000" + (after.map { "&after=\($0)" } ?? ""))
            try #require(status == 200, "\(page)", sourceLocation: sourceLocation)
            events += page["events"]?.array ?? []
            after = page["next"]?.string ?? after
            if page["hasMore"]?.bool == true { continue }
            if let after, (eventCursorXID(after) ?? 0) >= barrier { return (events, after) }
            if monotonicMillis() > deadline {
                Issue.record("events did not settle", sourceLocation: sourceLocation)
                return (events, after ?? "")
            }
            sleepMillis(20)
        }
    }

    /// `user.roles_changed` events after `cursor`, as (user, after).
    func roleChanges(after cursor: String?) throws -> [(user: String, after: [String])] {
        try settledEvents(after: cursor).events.filter { $0["type"]?.string == "user.roles_changed" }.map {
            ($0["data"]?["user"]?["id"]?.string ?? "", ($0["data"]?["after"]?.array ?? []).compactMap(\.string))
        }
    }

    /// Takes a snapshot through the admin API and reads it; `between` runs between pages (writes that continue).
    func snapshot(limit: Int = 100, between: () -> Void = {}, sourceLocation: SourceLocation = #_sourceLocation) throws
        -> (replica: DirectoryReplica, cursor: String, counts: JSONValue)
    {
        let (status, created) = try admin(.post, "snapshots")
        try #require(status == 201, "\(created)", sourceLocation: sourceLocation)
        let token = try #require(created["snapshot"]?.string, sourceLocation: sourceLocation)
        var replica = DirectoryReplica()
        var after: String? = nil
        repeat {
            let (pageStatus, page) = try admin(.get, "snapshots/\(token)?limit=\(limit)" + (after.map { "&after=\($0)" } ?? ""))
            try #require(pageStatus == 200, "\(page)", sourceLocation: sourceLocation)
            replica.load(page: page)
            after = page["next"]?.string
            between()
        } while after != nil
        #expect(try admin(.delete, "snapshots/\(token)").0 == 204, sourceLocation: sourceLocation)
        return (replica, try #require(created["eventCursor"]?.string, sourceLocation: sourceLocation), created["counts"] ?? .null)
    }

    /// The tenant's rows in the region database (superuser, no row-level security), compared with what a consumer
    /// built: users (version, every stored attribute, profile, roles and their version), groups (names), memberships.
    func differencesFromDatabase(_ replica: DirectoryReplica) throws -> [String] {
        let c = try d.regionAdmin(region)
        var out: [String] = []
        let users = try c.query(
            """
            SELECT u.id::text, u.version, u.resource::text, u.profile::text, coalesce(array_to_json(r.roles), '[]')::text,
                   coalesce(r.version, 0)
            FROM users u LEFT JOIN user_roles r ON r.tenant_id = u.tenant_id AND r.user_id = u.id
            WHERE u.tenant_id = $1 AND u.deleted_at IS NULL
            """, [.uuid(id)])
        var seen: Set<String> = []
        for row in 0..<users.rowCount {
            let uid = users.string(row: row, column: 0) ?? ""
            seen.insert(uid)
            guard let have = replica.users[uid] else { out.append("user \(uid): in the database, not in the replica"); continue }
            let version = users.int(row: row, column: 1) ?? 0
            if have["meta"]?["version"]?.string != "W/\"\(version)\"" { out.append("user \(uid): version \(version) vs \(have["meta"] ?? .null)") }
            let resource = users.string(row: row, column: 2).flatMap { try? JSONDecoder.decode($0) }?.object ?? JSONObject()
            for (key, value) in resource where !DirectoryReplica.sameJSON(have[key], value) {
                out.append("user \(uid): \(key) is \(value) in the database, \(have[key] ?? .null) in the replica")
            }
            let profile = users.string(row: row, column: 3).flatMap { try? JSONDecoder.decode($0) }
            if !DirectoryReplica.sameJSON(replica.profiles[uid], profile) {
                out.append("user \(uid): profile \(profile?.description ?? "null") vs \(replica.profiles[uid]?.description ?? "null")")
            }
            let roles = (users.string(row: row, column: 4).flatMap { try? JSONDecoder.decode($0) }?.array ?? []).compactMap(\.string)
            let rolesVersion = users.int(row: row, column: 5) ?? 0
            let mine = replica.roles[uid] ?? DirectoryReplica.Role(version: 0, roles: [])
            if mine.roles != roles || mine.version != rolesVersion {
                out.append("user \(uid): roles \(roles) v\(rolesVersion) vs \(mine.roles) v\(mine.version)")
            }
        }
        for uid in Set(replica.users.keys).subtracting(seen) { out.append("user \(uid): in the replica, not in the database") }
        let groups = try c.query("SELECT id::text, display_name, external_id FROM groups WHERE tenant_id = $1", [.uuid(id)])
        var groupIDs: Set<String> = []
        for row in 0..<groups.rowCount {
            let gid = groups.string(row: row, column: 0) ?? ""
            groupIDs.insert(gid)
            guard let have = replica.groups[gid] else { out.append("group \(gid): in the database, not in the replica"); continue }
            if have["displayName"]?.string != groups.string(row: row, column: 1) || have["externalId"]?.string != groups.string(row: row, column: 2) {
                out.append("group \(gid): names differ")
            }
        }
        for gid in Set(replica.groups.keys).subtracting(groupIDs) { out.append("group \(gid): in the replica, not in the database") }
        let members = try c.query("SELECT group_id::text || ' ' || member_id::text || ' ' || member_type FROM group_members WHERE tenant_id = $1",
                                  [.uuid(id)])
        let memberships = Set((0..<members.rowCount).compactMap { members.string(row: $0, column: 0) })
        for m in memberships.symmetricDifference(replica.memberships).sorted() {
            out.append("membership \(m): \(memberships.contains(m) ? "only in the database" : "only in the replica")")
        }
        return out
    }
}
