import Crypto
import JSON
import Postgres
package import RegionSCIM
import SCIMCore
import Telemetry

/// The row work of a move, for any tenant table (`TablePlan`): bucket digests for comparison, export and import of
/// rows as JSON, clearing buckets on the target, purging, residue counts, and keeping the target's transaction ids
/// ahead of the source's.
///
/// Imports, clears and purges run with `session_replication_role = replica`, as logical replication does: no
/// triggers (no outbox events for copied rows, no member counts counted twice, no tombstone rule refusing a copied
/// tombstone) and no foreign-key actions (a cleared user does not cascade to emails of another bucket). The region's
/// database role needs `GRANT SET ON PARAMETER session_replication_role` for that (PostgreSQL 15+; docs/residency.md);
/// `replicationRoleAllowed` tells the mover before it starts.
package struct TenantCopy: Sendable {
    let database: RegionDatabase

    package init(database: RegionDatabase) { self.database = database }

    /// Settings that make record text the same bytes on every server (timestamps, floats, bytea, intervals).
    static let canonicalText = PostgresStatement.sql("""
        SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true),
               set_config('extra_float_digits', '1', true), set_config('bytea_output', 'hex', true),
               set_config('IntervalStyle', 'postgres', true)
        """)
    static let replicaRole = PostgresStatement.sql("SELECT set_config('session_replication_role', 'replica', true)")

    func setup(_ tenant: String) -> [PostgresStatement] { [.prepared(RegionDatabase.setTenant, [.text(tenant)]), Self.canonicalText] }

    /// The tenant tables as the live schema has them.
    package func tables() throws -> TenantTables {
        try database.pool.withConnection { try TenantTables.discover($0) }
    }

    /// Whether this database role may switch triggers off for a copy (see the type's note).
    package func replicationRoleAllowed() -> Bool {
        (try? database.pool.withTransaction { c in _ = try c.query("SELECT set_config('session_replication_role', 'replica', true)") }) != nil
    }

    /// Facts the mover checks before a move: the newest migration, the transaction id, the database it runs on.
    /// `horizon`: the oldest transaction still running now (`pg_snapshot_xmin`); every change that commits from now on
    /// has an id at or above it, which is what `changedBuckets` looks for.
    package func facts() throws -> (migration: Int64, xid: String, database: String, address: String?, port: Int64?, horizon: String) {
        try database.pool.withConnection { c in
            let r = try c.query("""
                SELECT (SELECT max(version) FROM schema_migrations), pg_current_xact_id()::text, current_database(),
                       host(inet_server_addr()), inet_server_port()::bigint, pg_snapshot_xmin(pg_current_snapshot())::text
                """)
            return (r.int(row: 0, column: 0) ?? 0, r.string(row: 0, column: 1) ?? "0", r.string(row: 0, column: 2) ?? "",
                    r.string(row: 0, column: 3), r.int(row: 0, column: 4), r.string(row: 0, column: 5) ?? "0")
        }
    }

    /// The source side of a catch-up round: the buckets (of `buckets`) holding a row of `plan` that a transaction at or
    /// above `horizon` (a `facts().horizon` read before the previous comparison) inserted or updated, as a JSON array,
    /// and how many such rows there are. A scan without hashing the rows: only the changed ones get a bucket.
    /// Deletions leave no row to find; the mover checks row counts under the freeze for them.
    package func changedBuckets(tenant: String, plan: TablePlan, buckets: Int64, horizon: UInt64) throws -> (buckets: [UInt8], rows: Int64) {
        try database.pool.withTransaction(readOnly: true, setup: setup(tenant)) { c in
            let r = try c.query(plan.changedBuckets, [.uuid(tenant), .int(buckets), .int(Int64(horizon % 4_294_967_296))])
            return (r.withBytes(row: 0, column: 0) { Array($0) } ?? Array("[]".utf8), r.int(row: 0, column: 1) ?? 0)
        }
    }

    // MARK: Comparison

    /// The source side: bucket digests of `plan` for buckets `from ..< to` (of `buckets`), as a JSON array.
    package func digests(tenant: String, plan: TablePlan, buckets: Int64, from: Int64, to: Int64, only: [Int64]?) throws -> [UInt8] {
        var parameters: [PostgresValue] = [.uuid(tenant), .int(buckets), .int(from), .int(to)]
        if let only { parameters.append(.text(Self.arrayLiteral(only))) }
        return try database.pool.withTransaction(readOnly: true, setup: setup(tenant)) { c in
            try c.query(plan.digests(only: only != nil), parameters).withBytes(row: 0, column: 0) { Array($0) } ?? Array("[]".utf8)
        }
    }

    /// The target side: compares the source's digests (`{"digests": [from digests], "only": [buckets] | null}`) with
    /// this region's for the same buckets, in SQL; answers the buckets to clear and to copy, row counts and both
    /// sides' digests.
    package func compare(tenant: String, plan: TablePlan, buckets: Int64, from: Int64, to: Int64, sourceDigests: [UInt8]) throws -> [UInt8] {
        guard sourceDigests.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) == UInt8(ascii: "{") else {
            throw SCIMError.invalidSyntax("the comparison needs {\"digests\": [...], \"only\": [...] or null}")
        }
        let json = String(decoding: sourceDigests, as: UTF8.self)
        return try database.pool.withTransaction(readOnly: true, setup: setup(tenant)) { c in
            try c.query(plan.compareDigests, [.uuid(tenant), .int(buckets), .int(from), .int(to), .text(json)])
                .withBytes(row: 0, column: 0) { Array($0) } ?? Array("{}".utf8)
        }
    }

    // MARK: Export and import

    /// One page of rows of `plan` as a JSON array (at least one row when there is any, then up to `maxBytes`), whether
    /// more may follow, and the key of the last row (where the next page starts).
    package func export(tenant: String, plan: TablePlan, buckets: Int64, after: [String]?, only: [Int64]?, limit: Int64, maxBytes: Int)
        throws -> (body: [UInt8], rows: Int, more: Bool, last: String?)
    {
        var parameters: [PostgresValue] = [.uuid(tenant), .int(buckets), .int(limit)]
        if let after { parameters += after.map { .text($0) } }
        if let only { parameters.append(.text(Self.arrayLiteral(only))) }
        let result = try database.pool.withTransaction(readOnly: true, setup: setup(tenant)) { c in
            try c.query(plan.exportPage(after: after != nil, only: only != nil), parameters)
        }
        var body: [UInt8] = [UInt8(ascii: "[")]
        var rows = 0
        var last: String? = nil
        for row in 0..<result.rowCount {
            let appended = result.withBytes(row: row, column: 0) { bytes -> Bool in
                if rows > 0 && body.count + bytes.count + 1 > maxBytes { return false }
                if rows > 0 { body.append(UInt8(ascii: ",")) }
                body.append(contentsOf: bytes)
                return true
            } ?? false
            guard appended else { break }
            rows += 1
            last = result.string(row: row, column: 1)
        }
        body.append(UInt8(ascii: "]"))
        let more = !plan.key.isEmpty && (rows < result.rowCount || Int64(result.rowCount) == limit)
        return (body, rows, more, last)
    }

    /// Inserts rows (a JSON array from `export`) into an `incoming` tenant, with triggers off. Returns how many were
    /// new.
    package func importRows(tenant: String, token: MoveToken, plan: TablePlan, rows: [UInt8]) throws -> Int {
        guard rows.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) == UInt8(ascii: "[") else {
            throw SCIMError.invalidSyntax("the rows must be a JSON array of objects")
        }
        let json = String(decoding: rows, as: UTF8.self)
        return try writing(tenant, token, states: ["incoming"]) { c in
            let foreign = try c.query(plan.foreignRows, [.uuid(tenant), .text(json)]).int(row: 0, column: 0) ?? 0
            guard foreign == 0 else {
                throw SCIMError.invalidValue("\(foreign) rows belong to another tenant; nothing was imported")
            }
            return try c.execute(plan.insertRows, [.uuid(tenant), .text(json)])
        }
    }

    /// Deletes an `incoming` tenant's rows of `plan` in the given buckets (before they are copied again).
    package func clear(tenant: String, token: MoveToken, plan: TablePlan, buckets: Int64, only: [Int64]) throws -> Int {
        try writing(tenant, token, states: ["incoming"]) { c in
            try c.execute(plan.clearBuckets, [.uuid(tenant), .int(buckets), .text(Self.arrayLiteral(only))])
        }
    }

    /// Deletes up to `limit` of the tenant's rows, children first; when nothing else is left, the tenant row and the
    /// fence go in the same transaction. Only for a source that has `moved` (after the cut-over) or a target that is
    /// `incoming` (an abort). Returns how many rows went and whether the tenant is gone from this region.
    package func purge(tenant: String, token: MoveToken, tables: TenantTables, limit: Int) throws -> (deleted: Int, done: Bool) {
        let result = try database.pool.withTransaction(setup: setup(tenant) + [Self.replicaRole]) { c -> (Int, Bool) in
            guard let holder = try MoveFence.holder(c, tenant: tenant, forUpdate: true) else {
                // Purged before (a repeated call), or never here: fine only if nothing of the tenant is left.
                let left = try residue(c, tenant: tenant, tables: tables).total
                guard left == 0 else { throw SCIMError(status: 409, detail: "no move holds this tenant here, but \(left) of its rows are") }
                return (0, true)
            }
            try token.checkTakeover(holder)
            guard holder.state == "moved" || holder.state == "incoming" else {
                throw SCIMError(status: 409, detail: "the tenant's move is '\(holder.state)' here; only a moved source or an incoming target is purged")
            }
            _ = try c.query("UPDATE tenant_moves SET epoch = $2 WHERE tenant_id = $1::uuid AND epoch < $2", [.uuid(tenant), .int(token.epoch)])
            var deleted = 0
            for plan in tables.plans.reversed() where plan.name != TenantTables.root {
                while deleted < limit {
                    let n = try c.execute(plan.purgeBatch, [.uuid(tenant), .int(Int64(limit - deleted))])
                    deleted += n
                    if n == 0 { break }
                }
                if deleted >= limit { return (deleted, false) }
            }
            if let root = tables.plan(TenantTables.root) { deleted += try c.execute(root.purgeBatch, [.uuid(tenant), .int(1)]) }
            _ = try c.query("DELETE FROM tenant_moves WHERE tenant_id = $1::uuid", [.uuid(tenant)])
            _ = try c.query("SELECT pg_notify($1, $2)", [.text(RegionDatabase.tenantChannel), .text(tenant)])
            return (deleted, true)
        }
        if result.1 { database.invalidate(tenant: tenant) }
        return result
    }

    /// How many rows of the tenant each tenant table holds here (copied or not).
    package func residue(tenant: String, tables: TenantTables) throws -> (tables: [(String, Int64)], total: Int64) {
        try database.pool.withTransaction(readOnly: true, setup: setup(tenant)) { c in try residue(c, tenant: tenant, tables: tables) }
    }

    func residue(_ c: PostgresConnection, tenant: String, tables: TenantTables) throws -> (tables: [(String, Int64)], total: Int64) {
        var counts: [(String, Int64)] = []
        for name in tables.all {
            let column = name == TenantTables.root ? "id" : TenantTables.tenantColumn
            let n = try c.query("SELECT count(*) FROM \(SQLName(name).quoted) WHERE \(SQLName(column).quoted) = $1::uuid",
                                [.uuid(tenant)]).int(row: 0, column: 0) ?? 0
            counts.append((name, n))
        }
        return (counts, counts.reduce(0) { $0 + $1.1 })
    }

    // MARK: Transaction ids

    /// Consumes transaction ids until this cluster's next one is above `above` (a position of the source's outbox
    /// or request log), at most `maxBurn` of them in this call. Copied rows keep the source's `xid8` values; the
    /// feeds read them in `(xid, seq)` order below the snapshot horizon, so the target's own ids must already be
    /// higher or new events would sort before copied ones (and be skipped by a reader resuming from a copied cursor).
    package func raiseTransactionIDs(tenant: String, token: MoveToken, above: UInt64, maxBurn: Int) throws -> (xid: UInt64, burned: Int) {
        _ = try writing(tenant, token, states: ["incoming", "active"], triggersOff: false) { _ in 0 }
        return try database.pool.withConnection { c in
            func current() throws -> UInt64 {
                UInt64(try c.query("SELECT pg_current_xact_id()::text").string(row: 0, column: 0) ?? "0") ?? 0
            }
            var now = try current()
            var burned = 0
            guard now <= above else { return (now, 0) }
            try c.executeScript("SET synchronous_commit = off")
            defer { try? c.executeScript("RESET synchronous_commit") }
            while now <= above && burned < maxBurn {
                let step = Int(min(UInt64(min(10_000, maxBurn - burned)), above - now + 1))
                // One committed transaction per id; a DO block may COMMIT when it is not inside a transaction block.
                try c.executeScript("DO $$ BEGIN FOR i IN 1..\(step) LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$")
                burned += step
                now = try current()
            }
            return (now, burned)
        }
    }

    // MARK: Helpers

    /// A data call's transaction: tenant scope, canonical text, triggers off, the mover's token checked.
    func writing<R>(_ tenant: String, _ token: MoveToken, states: Set<String>, triggersOff: Bool = true,
                    _ body: (PostgresConnection) throws -> R) throws -> R {
        // A role that may not set session_replication_role (42501) is answered by `MoveAPI.respond`, for every operation.
        try database.pool.withTransaction(setup: setup(tenant) + (triggersOff ? [Self.replicaRole] : [])) { c in
            _ = try MoveFence.require(c, tenant: tenant, token: token, states: states)
            return try body(c)
        }
    }

    /// `{1,2,3}`: a bigint[] literal.
    static func arrayLiteral(_ values: [Int64]) -> String { "{" + values.map(String.init).joined(separator: ",") + "}" }
}
