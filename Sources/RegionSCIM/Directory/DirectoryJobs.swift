package import JSON
package import Postgres
import SCIMCore

/// The per-tenant recompute job's row (`directory_jobs`, migration 7): how a change that touches too many users for
/// one SCIM transaction, or every user (a rule or mapping change), is handed to `DirectoryRecompute`.
package enum DirectoryJobs {
    /// Asks for every live user of the tenant to be recomputed ($2 roles, $3 profiles; $4 why). A job already
    /// pending or running starts over with both sets of flags; a finished one is replaced. Runs in the caller's
    /// transaction, so the request commits (or not) with the change that needs it.
    static let request = PreparedStatement(
        """
        INSERT INTO directory_jobs (tenant_id, roles, profiles, state, reason)
        VALUES ($1, $2::boolean, $3::boolean, 'pending', $4)
        ON CONFLICT (tenant_id) DO UPDATE SET
            generation = directory_jobs.generation + 1,
            roles = EXCLUDED.roles OR (directory_jobs.state <> 'done' AND directory_jobs.roles),
            profiles = EXCLUDED.profiles OR (directory_jobs.state <> 'done' AND directory_jobs.profiles),
            state = 'pending', reason = EXCLUDED.reason, after_user = NULL, processed = 0, changed = 0, total = NULL,
            last_error = NULL, requested_at = now(), started_at = NULL, finished_at = NULL
        """)

    /// Requests a recompute in the caller's transaction.
    package static func request(tenant: String, roles: Bool, profiles: Bool, reason: String, _ connection: PostgresConnection) throws {
        try connection.query(request, [.uuid(tenant), .bool(roles), .bool(profiles), .text(reason)])
    }

    static let statusRow = PreparedStatement(
        """
        SELECT state, reason, processed, total, changed, requested_at, started_at, finished_at, last_error, roles, profiles
        FROM directory_jobs WHERE tenant_id = $1
        """)

    /// `{"state": "pending|running|done", "reason", "processed", "total", "changed", "requestedAt", "startedAt",
    /// "finishedAt", "lastError", "roles", "profiles"}`, or `{"state": "none"}` when nothing was ever recomputed.
    package static func status(_ result: PostgresResult) -> JSONValue {
        guard result.rowCount == 1, let state = result.string(row: 0, column: 0) else { return ["state": "none"] }
        func time(_ column: Int) -> JSONValue { result.timestamp(row: 0, column: column).map { .string($0.iso8601) } ?? .null }
        func number(_ column: Int) -> JSONValue { result.int(row: 0, column: column).map { .number(JSONNumber($0)) } ?? .null }
        var o = JSONObject()
        o.appendUnchecked(key: "state", value: .string(state))
        o.appendUnchecked(key: "reason", value: .string(result.string(row: 0, column: 1) ?? ""))
        o.appendUnchecked(key: "roles", value: .bool(result.bool(row: 0, column: 9) ?? false))
        o.appendUnchecked(key: "profiles", value: .bool(result.bool(row: 0, column: 10) ?? false))
        o.appendUnchecked(key: "processed", value: number(2))
        o.appendUnchecked(key: "total", value: number(3))
        o.appendUnchecked(key: "changed", value: number(4))
        o.appendUnchecked(key: "requestedAt", value: time(5))
        o.appendUnchecked(key: "startedAt", value: time(6))
        o.appendUnchecked(key: "finishedAt", value: time(7))
        o.appendUnchecked(key: "lastError", value: result.string(row: 0, column: 8).map(JSONValue.string) ?? .null)
        return .object(o)
    }

    // MARK: The worker's statements

    /// Jobs to work on, across tenants (region-worker scope): not done, not leased by a live worker, and of a tenant
    /// whose writes no move fences (`TenantFence`).
    static let claimable = PreparedStatement(
        """
        UPDATE directory_jobs SET lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond'
        WHERE tenant_id IN (SELECT tenant_id FROM directory_jobs
                            WHERE state <> 'done' AND (lease_owner IS NULL OR lease_until < now() OR lease_owner = $1)
                              -- A tenant moving between regions: the source stops at the freeze (its rows must not
                              -- change under the final comparison), the target starts at activation.
                              AND NOT EXISTS (SELECT 1 FROM tenant_moves m WHERE m.tenant_id = directory_jobs.tenant_id
                                              AND m.state IN \(TenantFence.pausedStatesSQL))
                            ORDER BY requested_at LIMIT 4 FOR UPDATE SKIP LOCKED)
        RETURNING tenant_id::text
        """)

    /// The job as a batch starts it (tenant scope).
    static let current = PreparedStatement(
        "SELECT generation, roles, profiles, state, after_user::text, total, lease_owner FROM directory_jobs WHERE tenant_id = $1")

    /// The next users in id order. (`u.id`, not `id`: an unqualified ORDER BY name means the output column, here
    /// the text, and sorting a million ids as text instead of walking the primary key took 0.8 s per batch.)
    static let nextUsers = PreparedStatement(
        """
        SELECT u.id::text FROM users u
        WHERE u.tenant_id = $1 AND u.deleted_at IS NULL AND u.id > coalesce($2::uuid, '00000000-0000-0000-0000-000000000000')
        ORDER BY u.id LIMIT $3
        """)

    static let countUsers = PreparedStatement("SELECT count(*) FROM users WHERE tenant_id = $1 AND deleted_at IS NULL")

    /// Records a batch: only when the job is still the generation the batch worked for and this worker's.
    static let progress = PreparedStatement(
        """
        UPDATE directory_jobs SET
            after_user = $3::uuid, processed = processed + $4, changed = changed + $5,
            total = coalesce(total, $6), state = CASE WHEN $7::boolean THEN 'done' ELSE 'running' END,
            started_at = coalesce(started_at, now()), finished_at = CASE WHEN $7::boolean THEN now() END,
            lease_until = now() + $9 * interval '1 millisecond'
        WHERE tenant_id = $1 AND generation = $2 AND lease_owner = $8
        """)

    static let failed = PreparedStatement(
        "UPDATE directory_jobs SET last_error = $2, lease_owner = NULL, lease_until = NULL WHERE tenant_id = $1")
}
