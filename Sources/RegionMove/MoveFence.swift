package import JSON
import Postgres
package import RegionSCIM
import SCIMCore
import Telemetry

/// This region's side of one tenant's move: the `tenant_moves` row (migration 9) that fences the tenant's writes and
/// holds the mover's fencing token (`move_id`, `epoch`). Every mutating move call checks the token in the same
/// transaction as its work; a takeover (a higher epoch) locks the row first, so once it commits no older mover's
/// call can change anything here.
///
/// States and who sets them (docs/residency.md):
/// - the source: `copying` (writes go on) → `frozen` (writes refused; the final catch-up) → `moved` (after the
///   cut-over, until the purge removes the row with the data); `frozen` → `copying` when a freeze is given up, and
///   removing the row (an abort) ends the move with the source intact.
/// - the target: `incoming` (only the mover writes) → `active` (activation, just before the cut-over; writes go on)
///   → removed when the move is done; `active` → `incoming` again before an abort purges what was copied.
package struct MoveFence: Sendable {
    let database: RegionDatabase

    package init(database: RegionDatabase) { self.database = database }

    /// The holder of a tenant's fence.
    package struct Holder: Sendable, Equatable {
        package var moveID: String
        package var epoch: Int64
        package var state: String
        package var peerRegion: String

        package var json: JSONValue {
            ["moveId": .string(moveID), "epoch": .number(JSONNumber(epoch)), "state": .string(state), "peerRegion": .string(peerRegion)]
        }
    }

    /// The states a write is refused in.
    static let fenced = Set(TenantFence.pausedStates)

    /// Which state may follow which (nil: no row yet).
    static func allowed(from: String?, to: String) -> Bool {
        switch (from, to) {
        case (nil, "copying"), (nil, "incoming"): return true
        case ("copying", "copying"), ("copying", "frozen"): return true
        case ("frozen", "frozen"), ("frozen", "copying"), ("frozen", "moved"): return true
        case ("moved", "moved"): return true
        case ("incoming", "incoming"), ("incoming", "active"): return true
        case ("active", "active"), ("active", "incoming"): return true
        default: return false
        }
    }

    /// The fence row, locked `FOR SHARE` (a data call), `FOR UPDATE` (a change of the fence itself) or not at all (nil).
    static func holder(_ connection: PostgresConnection, tenant: String, forUpdate: Bool?) throws -> Holder? {
        let lock = forUpdate.map { $0 ? " FOR UPDATE" : " FOR SHARE" } ?? ""
        let r = try connection.query(
            "SELECT move_id::text, epoch, state, peer_region FROM tenant_moves WHERE tenant_id = $1::uuid" + lock, [.uuid(tenant)])
        guard r.rowCount == 1, let move = r.string(row: 0, column: 0), let epoch = r.int(row: 0, column: 1),
              let state = r.string(row: 0, column: 2), let peer = r.string(row: 0, column: 3) else { return nil }
        return Holder(moveID: move, epoch: epoch, state: state, peerRegion: peer)
    }

    /// Checks that `token` holds the tenant's fence in one of `states`; the row stays locked until the transaction
    /// ends, so a takeover waits for the call in progress.
    static func require(_ connection: PostgresConnection, tenant: String, token: MoveToken, states: Set<String>) throws -> Holder {
        guard let holder = try holder(connection, tenant: tenant, forUpdate: false) else {
            throw SCIMError(status: 409, detail: "no move holds this tenant in this region")
        }
        try token.check(holder)
        guard states.contains(holder.state) else {
            throw SCIMError(status: 409, detail: "the tenant's move is '\(holder.state)' here; this call needs \(states.sorted().joined(separator: " or "))")
        }
        return holder
    }

    /// The fence of `tenant`, unlocked (nil: no move holds it).
    package func current(tenant: String) throws -> Holder? {
        try database.pool.withTransaction(readOnly: true, setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)])]) { c in
            try Self.holder(c, tenant: tenant, forUpdate: nil)
        }
    }

    /// Sets the fence (creating it for a new move) and, when writes become fenced, waits until every write that
    /// started before has ended. Returns the fence and how long the wait took.
    package func put(tenant: String, token: MoveToken, state: String, peerRegion: String, tables: TenantTables) throws
        -> (holder: Holder, drainedMillis: Int64)
    {
        guard ["copying", "frozen", "moved", "incoming", "active"].contains(state) else {
            throw SCIMError.invalidValue("state must be copying, frozen, moved, incoming or active")
        }
        guard MoveToken.isRegionID(peerRegion) else { throw SCIMError.invalidValue("peerRegion must be a region id") }
        let holder = try database.pool.withTransaction(setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)])]) {
            c -> Holder in
            let existing = try Self.holder(c, tenant: tenant, forUpdate: true)
            if let existing {
                try token.checkTakeover(existing)
            } else {
                // A new move: the source must hold the tenant, the target must hold nothing of it.
                let present = try c.query("SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1::uuid)", [.uuid(tenant)]).bool(row: 0, column: 0) ?? false
                if state == "copying" && !present {
                    throw SCIMError(status: 409, detail: "this region does not hold the tenant")
                }
                if state == "incoming" {
                    for plan in tables.plans where try c.query(plan.exists, [.uuid(tenant)]).bool(row: 0, column: 0) == true {
                        throw SCIMError(status: 409, detail: "this region already holds rows of the tenant (table \(plan.name)); nothing was changed")
                    }
                }
            }
            guard Self.allowed(from: existing?.state, to: state) else {
                throw SCIMError(status: 409, detail: existing.map { "the tenant's move is '\($0.state)' here and cannot become '\(state)'" }
                                ?? "no move holds this tenant in this region (it may have been aborted)")
            }
            if existing?.state == "incoming" && state == "active" {
                try Self.advanceSequences(c, tenant: tenant, tables: tables)
            }
            _ = try c.query("""
                INSERT INTO tenant_moves (tenant_id, move_id, epoch, state, peer_region) VALUES ($1::uuid, $2::uuid, $3, $4, $5)
                ON CONFLICT (tenant_id) DO UPDATE SET epoch = EXCLUDED.epoch, state = EXCLUDED.state, updated_at = now()
                """, [.uuid(tenant), .uuid(token.moveID), .int(token.epoch), .text(state), .text(peerRegion)])
            _ = try c.query("SELECT pg_notify($1, $2)", [.text(RegionDatabase.tenantChannel), .text(tenant)])
            return Holder(moveID: token.moveID, epoch: token.epoch, state: state, peerRegion: existing?.peerRegion ?? peerRegion)
        }
        database.invalidate(tenant: tenant)
        // Repeated on a retried call too: the previous drain may have timed out.
        guard Self.fenced.contains(state) else { return (holder, 0) }
        return (holder, try drain(tenant: tenant))
    }

    /// Waits until no write transaction of the tenant that read the fence before it was set is still open: takes the
    /// tenant row `FOR UPDATE`, which conflicts with the `FOR KEY SHARE` every write holds (`TenantFence`).
    func drain(tenant: String) throws -> Int64 {
        let started = Timestamp.monotonicNanos()
        do {
            try database.pool.withTransaction(setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)]),
                                                      .sql("SELECT set_config('lock_timeout', '4s', true)")]) { c in
                _ = try c.query("SELECT 1 FROM tenants WHERE id = $1::uuid FOR UPDATE", [.uuid(tenant)])
            }
        } catch let error as PostgresError where error.sqlState == "55P03" {
            throw SCIMError(status: 503, detail: "writes in progress did not finish within 4 s; the fence stays, retry", retryAfterSeconds: 1)
        }
        return Int64((Timestamp.monotonicNanos() - started) / 1_000_000)
    }

    /// Removes the fence: the source's writes resume (an abort), or the target's move is finished (done). A source
    /// that has `moved` and a target still `incoming` are purged instead, never simply unfenced. Idempotent.
    package func remove(tenant: String, token: MoveToken) throws -> Bool {
        let removed = try database.pool.withTransaction(setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)])]) { c -> Bool in
            guard let existing = try Self.holder(c, tenant: tenant, forUpdate: true) else { return false }
            try token.checkTakeover(existing)
            guard ["copying", "frozen", "active"].contains(existing.state) else {
                throw SCIMError(status: 409, detail: "the tenant's move is '\(existing.state)' here: its data is purged, not unfenced")
            }
            _ = try c.query("DELETE FROM tenant_moves WHERE tenant_id = $1::uuid", [.uuid(tenant)])
            _ = try c.query("SELECT pg_notify($1, $2)", [.text(RegionDatabase.tenantChannel), .text(tenant)])
            return true
        }
        database.invalidate(tenant: tenant)
        return removed
    }

    /// Sets every sequence that feeds a copied column past the tenant's largest copied value, so rows written here
    /// later sort after the copied ones (member order, dead-letter ids). Only ever moves a sequence forward.
    static func advanceSequences(_ connection: PostgresConnection, tenant: String, tables: TenantTables) throws {
        for plan in tables.plans {
            for column in plan.copied {
                guard let sequence = column.sequence else { continue }
                guard let largest = try connection.query(plan.maxValue(column), [.uuid(tenant)]).int(row: 0, column: 0) else { continue }
                _ = try connection.query(
                    "SELECT setval($1::regclass, $2) WHERE coalesce(pg_sequence_last_value($1::regclass), 0) < $2",
                    [.text(sequence), .int(largest)])
            }
        }
    }
}
