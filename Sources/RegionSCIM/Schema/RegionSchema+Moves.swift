import Postgres

/// Migration 9: `tenant_moves`, a region's side of a tenant moving between regions (docs/residency.md, "Moving a
/// tenant"). Numbered 9: 6 (`request_log`), 7 and 8 (roles) belong to other branches; the migrator accepts a gap
/// in the list. One row per tenant while a move holds it; no row at all otherwise (the common case costs one index
/// probe of an empty table per write).
///
/// Design notes (why it looks like this):
/// - **The write fence.** `state` says what SCIM writes of the tenant may do here: `copying` (the source while the
///   mover copies: writes go on) and `active` (the target after activation: writes go on) leave them alone;
///   `frozen` (the source during the final catch-up), `moved` (the source after the cut-over, until it is purged)
///   and `incoming` (the target before the cut-over) refuse them with 503 + Retry-After. Every write transaction
///   locks the tenant row `FOR KEY SHARE` and then reads this row (`TenantFence`); the mover's freeze sets `frozen`,
///   commits, and then takes the tenant row `FOR UPDATE`, which waits for every write that read the row before the
///   freeze. After that no write of the tenant can commit here until the fence goes: nothing is lost behind the
///   final catch-up.
/// - **A fencing token.** `move_id` and `epoch` name the move and the mover that holds it. A mover that takes over
///   (the previous one crashed or stalled) raises the epoch; every mutating move call checks it in the same
///   transaction, so a stale mover's late call changes nothing.
/// - **No foreign key to `tenants`**: the target's `incoming` row exists before the tenant row is copied, and the
///   purge removes the tenant row and this one in the same transaction.
/// - It is the one tenant table a move never copies (`TenantTables.excluded`): it is this region's state of the move,
///   not the tenant's data.
/// - Row-level security as everywhere, and a read policy for the region's background work (webhook delivery skips a
///   fenced tenant: the target must not deliver before the cut-over, the source not after the freeze).
extension RegionSchema {
    static let v9 = Migration(
        version: 9, name: "tenant_moves",
        sql: """
            CREATE TABLE tenant_moves (
                tenant_id uuid PRIMARY KEY,
                move_id uuid NOT NULL,
                epoch bigint NOT NULL CHECK (epoch > 0),
                state text NOT NULL CHECK (state IN ('copying', 'frozen', 'moved', 'incoming', 'active')),
                peer_region text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            \(RowLevelSecurity.tenantIsolation("tenant_moves"))
            CREATE POLICY region_worker_read ON tenant_moves FOR SELECT USING ((SELECT scim_region_worker()));
            """)
}
