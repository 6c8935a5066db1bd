package import Postgres
package import SCIMCore

/// The write fence of a tenant that is moving between regions (`tenant_moves`, migration 9; docs/residency.md).
///
/// Every write transaction of a tenant first locks its `tenants` row `FOR KEY SHARE` (writers never wait for each
/// other: inserts take the same lock for their foreign key anyway) and then, in a later statement and so a later
/// snapshot, reads the fence. The mover's freeze commits `frozen` and then takes the tenant row `FOR UPDATE`, which
/// waits for every writer holding the lock; a writer that locks after the freeze committed reads `frozen` and
/// refuses. So once the freeze returns, no write of the tenant can commit in this region any more.
package enum TenantFence {
    /// The lock (rows: 1 when the tenant exists here).
    package static let lockTenant = PreparedStatement("SELECT 1 FROM tenants WHERE id = $1::uuid FOR KEY SHARE")
    /// The states a tenant's writes (and its background work here) are refused in: a frozen or moved source, an
    /// incoming target. The one list: `check`, the move API and the background workers' SQL all use it.
    /// (Also written out in migration 11's `scim_write_guard`, whose text cannot change; `WritePreludeTests` pins the two.)
    package static let pausedStates: [String] = ["frozen", "moved", "incoming"]
    /// `pausedStates` as an SQL list, for `state IN \(pausedStatesSQL)` (constants only: no values from outside).
    package static let pausedStatesSQL = "(" + pausedStates.map { "'\($0)'" }.joined(separator: ", ") + ")"
    /// The fence, if any (rows: 0 or 1).
    package static let state = PreparedStatement("SELECT state, peer_region FROM tenant_moves WHERE tenant_id = $1::uuid")

    /// Names a 503 as one tenant's pause, so the gateway does not count it against the region's health.
    package static let pauseHeader = "X-Scim-Write-Pause"

    /// Throws the 503 the client gets when `result` (of `state`) says writes are fenced; returns otherwise.
    package static func check(_ result: PostgresResult) throws(SCIMError) {
        guard result.rowCount == 1, let state = result.string(row: 0, column: 0), pausedStates.contains(state) else { return }
        let peer = result.string(row: 0, column: 1) ?? "another region"
        let detail: String
        switch state {
        case "frozen":
            detail = "this tenant is being moved to region \(peer): writes are paused for a few seconds; retry shortly"
        case "moved":
            detail = "this tenant has moved to region \(peer); retry (the gateway now routes it there)"
        case "incoming":
            detail = "this tenant is being moved into this region and is not served here yet; retry shortly"
        default:
            detail = "this tenant's writes are paused while it moves between regions; retry shortly"
        }
        var error = SCIMError(status: 503, detail: detail, retryAfterSeconds: 2)
        error.headers[pauseHeader] = "tenant-move"
        throw error
    }
}
