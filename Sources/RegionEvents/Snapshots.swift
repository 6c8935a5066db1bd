import Crypto
package import JSON
package import Lifecycle
import Locking
import Postgres
import SCIMCore
package import RegionSCIM
import Telemetry

/// Reconciliation snapshots: a tenant's whole directory (users with their roles and profile, groups, memberships)
/// as of one instant, read page by page, and the events cursor to resume the feed from, such that the snapshot plus
/// the events after that cursor is exactly the current state — nothing missing, nothing twice.
///
/// How it holds:
/// - `create` opens a REPEATABLE READ transaction on a connection of its own, exports its snapshot
///   (`pg_export_snapshot()`) and keeps the transaction open until the snapshot expires or is released. Every page
///   then runs in a new transaction that adopts that snapshot (`SET TRANSACTION SNAPSHOT`), on any connection of any
///   replica of the region, so all pages read the same instant however long the consumer takes (up to the lifetime).
///   A read-only transaction has no transaction id, so it holds back no reader of the events feed (only vacuum).
/// - The events cursor carries that snapshot (`pg_current_snapshot()` of the same transaction) as `EventCursor`: the
///   feed after it returns exactly the events of transactions the snapshot did not see — those still in progress
///   when it was taken (`xip`) and all later ones — because every write's events are written in its own transaction
///   (the outbox triggers) and the feed never returns an event behind a reader's position (`EventFeed`).
package final class Snapshots: Sendable {
    let database: RegionDatabase
    /// Most snapshots open in this process, and per tenant.
    let maxOpen: Int
    let maxPerTenant: Int
    /// How long a snapshot stays readable.
    let lifetimeSeconds: Int64
    private let held = Lock<[String: Held]>([:])

    struct Held: Sendable {
        let tenant: String
        let connection: PostgresConnection
        let expiresAt: Int64
    }

    /// Snapshots over `database`.
    package init(database: RegionDatabase, maxOpen: Int = 8, maxPerTenant: Int = 2, lifetimeSeconds: Int64 = 900) {
        self.database = database
        self.maxOpen = maxOpen
        self.maxPerTenant = maxPerTenant
        self.lifetimeSeconds = lifetimeSeconds
    }

    static func now() -> Int64 { Timestamp.nowEpochMillis() / 1000 }

    /// Closes expired snapshots every few seconds; all of them at shutdown.
    package var service: PeriodicService {
        PeriodicService("snapshot-reaper", every: .seconds(5), last: { [self] in closeAll() }) { [self] in
            reap()
            return true
        }
    }

    /// Closes the snapshots past their deadline; returns how many.
    @discardableResult
    package func reap() -> Int {
        let now = Self.now()
        let expired = held.withLock { h -> [Held] in
            let gone = h.filter { $0.value.expiresAt <= now }
            for key in gone.keys { h.removeValue(forKey: key) }
            return Array(gone.values)
        }
        for entry in expired { Self.end(entry) }
        return expired.count
    }

    func closeAll() {
        for entry in held.withLock({ h -> [Held] in defer { h.removeAll() }; return Array(h.values) }) { Self.end(entry) }
    }

    /// Ends a snapshot's transaction now (so no page can adopt it any more); the connection closes when dropped.
    static func end(_ entry: Held) {
        try? entry.connection.executeScript("ROLLBACK")
    }

    /// How many snapshots this process holds.
    package var openCount: Int { held.withLock { $0.count } }

    static let begin = PreparedStatement(
        """
        SELECT pg_export_snapshot(), pg_current_snapshot()::text, now(),
               (SELECT count(*) FROM users WHERE tenant_id = $1::uuid AND deleted_at IS NULL),
               (SELECT count(*) FROM groups WHERE tenant_id = $1::uuid),
               (SELECT count(*) FROM group_members WHERE tenant_id = $1::uuid),
               EXISTS (SELECT 1 FROM tenants WHERE id = $1::uuid)
        """)

    /// Takes a snapshot:
    /// `{"snapshot": <token>, "eventCursor": <cursor>, "takenAt", "expiresAt", "counts": {"users", "groups", "memberships"}}`.
    package func create(scope: RequestScope) throws -> JSONValue {
        let tenant = scope.tenant
        let refusal: String? = held.withLock { h in
            if h.count >= maxOpen { return "this region already holds \(maxOpen) snapshots" }
            if h.values.filter({ $0.tenant == tenant }).count >= maxPerTenant {
                return "this tenant already has \(maxPerTenant) open snapshots; release one (DELETE) or let it expire"
            }
            return nil
        }
        if let refusal { throw SCIMError(status: 429, detail: refusal + "; try again later", retryAfterSeconds: 10) }
        let connection = try PostgresConnection(configuration: database.pool.configuration)
        // A hung process must not hold the snapshot (and vacuum's horizon) for ever: the server ends it.
        try connection.executeScript(
            "SET TIME ZONE 'UTC'; SET statement_timeout = '120s'; SET idle_in_transaction_session_timeout = '\(lifetimeSeconds + 60)s'")
        let results = try connection.pipeline([.sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
                                               .prepared(RegionDatabase.setTenant, [.text(tenant)]),
                                               .prepared(Self.begin, [.text(tenant)])])
        let row = results[2]
        guard row.bool(row: 0, column: 6) == true else { throw SCIMError.tenantNotProvisioned(region: database.region) }
        guard let exported = row.string(row: 0, column: 0), SnapshotToken.isExportedID(exported),
              let snapshot = row.string(row: 0, column: 1).flatMap(EventSnapshot.init(text:)),
              let takenAt = row.timestamp(row: 0, column: 2) else {
            throw SCIMError(status: 503, detail: "the snapshot could not be taken; try again", retryAfterSeconds: 1)
        }
        let created = Self.now()
        let token = SnapshotToken(exportedID: exported, createdAt: created, expiresAt: created + lifetimeSeconds)
        held.withLock { $0[exported] = Held(tenant: tenant, connection: connection, expiresAt: token.expiresAt) }
        func count(_ column: Int) -> JSONValue { .number(JSONNumber(row.int(row: 0, column: column) ?? 0)) }
        return [
            "snapshot": .string(token.encode(secret: try database.cursorSecret(), tenant: tenant)),
            "eventCursor": .string(EventCursor(after: snapshot).text),
            "takenAt": .string(takenAt.iso8601),
            "expiresAt": .string(PostgresTimestamp(microsecondsSinceEpoch: token.expiresAt * 1_000_000).iso8601),
            "counts": ["users": count(3), "groups": count(4), "memberships": count(5)],
        ]
    }

    /// Releases a snapshot this process holds (its transaction ends); false when it holds no such snapshot (then it
    /// ends at its deadline).
    package func release(scope: RequestScope, token text: String) throws -> Bool {
        let token = try verify(scope, text)
        let entry = held.withLock { h -> Held? in
            guard let entry = h[token.exportedID], entry.tenant == scope.tenant else { return nil }
            return h.removeValue(forKey: token.exportedID)
        }
        guard let entry else { return false }
        Self.end(entry)
        return true
    }

    func verify(_ scope: RequestScope, _ text: String) throws -> SnapshotToken {
        guard let token = SnapshotToken.decode(text, secret: try database.cursorSecret(), tenant: scope.tenant) else {
            throw SCIMError.notFound("no such snapshot")
        }
        if token.expiresAt <= Self.now() { throw Self.gone }
        return token
    }

    static let gone = SCIMError(status: 410, detail: "the snapshot has expired or was released; take a new one")

    // MARK: Pages

    static let usersPage = PreparedStatement(
        "SELECT \(ResourceStore.columns(.user, withRelated: false)), \(DirectoryRecord.userColumns) FROM users u"
            + " WHERE u.tenant_id = $1 AND u.deleted_at IS NULL AND u.id > coalesce($2::uuid, '00000000-0000-0000-0000-000000000000')"
            + " ORDER BY u.id LIMIT $3")
    static let groupsPage = PreparedStatement(
        "SELECT \(ResourceStore.columns(.group, withRelated: false)) FROM groups g"
            + " WHERE g.tenant_id = $1 AND g.id > coalesce($2::uuid, '00000000-0000-0000-0000-000000000000') ORDER BY g.id LIMIT $3")
    static let membershipsPage = PreparedStatement(
        """
        SELECT m.group_id::text, m.member_id::text, m.member_type FROM group_members m
        WHERE m.tenant_id = $1 AND (m.tenant_id, m.group_id, m.member_id) > ($1, $2::uuid, $3::uuid)
        ORDER BY m.group_id, m.member_id LIMIT $4
        """)

    /// A page: `{"users": [...], "groups": [...], "memberships": [{"group", "member", "type"}], "next": <cursor>|null}`.
    /// Users are the read API's (SCIM representation without `groups`, plus `effectiveRoles` and `profile`); groups
    /// are SCIM representations without `members` (the memberships list them).
    package func page(scope: RequestScope, token text: String, query: String?) throws -> JSONValue {
        let token = try verify(scope, text)
        let (afterText, limit) = try EventsAPI.paging(query)
        var position = SnapshotPosition.start
        if let afterText {
            guard let p = SnapshotPosition(text: afterText) else {
                throw SCIMError(status: 400, scimType: .invalidCursor, detail: "'after' is not a cursor of this snapshot")
            }
            position = p
        }
        let tenant = scope.tenant
        let context = try database.context(tenant)
        return try database.pool.withConnection { connection -> JSONValue in
            do {
                _ = try connection.pipeline([.sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
                                             .sql("SET TRANSACTION SNAPSHOT '\(token.exportedID)'"),
                                             .prepared(RegionDatabase.setTenant, [.text(tenant)])])
            } catch let error as PostgresError {
                if !connection.isBroken { try? connection.executeScript("ROLLBACK") }
                // 22023: "invalid snapshot identifier": the holding transaction ended (released, expired, restarted).
                if error.sqlState == "22023" { throw Self.gone }
                throw error
            }
            defer { if !connection.isBroken { try? connection.executeScript("ROLLBACK") } }
            var users: [JSONValue] = [], groups: [JSONValue] = [], memberships: [JSONValue] = []
            var remaining = limit
            var next: SnapshotPosition? = position
            if case .users(let after) = position {
                let rows = try connection.query(Self.usersPage, [.uuid(tenant), PostgresValue(after), .int(Int64(remaining))])
                for row in 0..<rows.rowCount {
                    let stored = try ResourceStore.decode(.user, rows, row: row, baseURL: scope.baseURL)
                    var item = context.defaultUserProjection.apply(to: Representation.render(
                        stored, .user, context.users, plan: context.renderPlan(.user), baseURL: scope.baseURL))
                    DirectoryRecord.addDerived(&item, rows, row: row, column: 6)
                    users.append(.object(item))
                    next = .users(after: stored.id)
                }
                remaining -= rows.rowCount
                if remaining > 0 { next = .groups(after: nil) }
            }
            if remaining > 0, case .groups(let after)? = next {
                let rows = try connection.query(Self.groupsPage, [.uuid(tenant), PostgresValue(after), .int(Int64(remaining))])
                for row in 0..<rows.rowCount {
                    let stored = try ResourceStore.decode(.group, rows, row: row, baseURL: scope.baseURL)
                    groups.append(.object(context.defaultGroupProjection.apply(to: Representation.render(
                        stored, .group, context.groups, plan: context.renderPlan(.group), baseURL: scope.baseURL))))
                    next = .groups(after: stored.id)
                }
                remaining -= rows.rowCount
                if remaining > 0 { next = .memberships(group: EventsAPI.beforeAll, member: EventsAPI.beforeAll) }
            }
            if remaining > 0, case .memberships(let group, let member)? = next {
                let rows = try connection.query(Self.membershipsPage, [.uuid(tenant), .text(group), .text(member), .int(Int64(remaining))])
                for row in 0..<rows.rowCount {
                    guard let g = rows.string(row: row, column: 0), let m = rows.string(row: row, column: 1),
                          let type = rows.string(row: row, column: 2) else { continue }
                    memberships.append(["group": .string(g), "member": .string(m), "type": .string(type)])
                    next = .memberships(group: g, member: m)
                }
                remaining -= rows.rowCount
                if remaining > 0 { next = nil }
            }
            return ["users": .array(users), "groups": .array(groups), "memberships": .array(memberships),
                    "next": next.map { .string($0.text) } ?? .null]
        }
    }
}
