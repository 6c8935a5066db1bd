import JSON
import Postgres

/// One move of a tenant between regions, as the control plane records it (`tenant_moves`, migration 4).
struct TenantMove: Sendable, Equatable {
    var id: String
    var tenantID: String
    var sourceRegion: String
    var targetRegion: String
    var state: MoveState
    /// The operator asked for an abort; the mover carries it out at its next step (only before the cut-over).
    var abortRequested: Bool
    /// The fencing token of the mover that holds it (raised by every claim).
    var epoch: Int64
    /// The gateway process working on it, and until when its lease runs.
    var owner: String?
    var leaseUntil: String?
    var requestedBy: String
    var createdAt: String
    var updatedAt: String
    var frozenAt: String?
    var cutOverAt: String?
    var finishedAt: String?
    /// Failed attempts of the current step (retried with back-off).
    var attempts: Int
    var lastError: String?
    /// Rounds, rows copied, verified counts and checksums per table, durations, the pause.
    var progress: JSONObject

    /// How many columns `columns` selects (a query may add its own after them).
    static let columnCount = 18

    static let columns = """
        id::text, tenant_id::text, source_region, target_region, state, abort_requested, epoch, owner,
        to_char(lease_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), requested_by,
        to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        to_char(frozen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        to_char(cut_over_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), attempts, last_error, progress::text
        """

    init(_ r: PostgresResult, _ row: Int) {
        id = r.string(row: row, column: 0) ?? ""
        tenantID = r.string(row: row, column: 1) ?? ""
        sourceRegion = r.string(row: row, column: 2) ?? ""
        targetRegion = r.string(row: row, column: 3) ?? ""
        state = MoveState(rawValue: r.string(row: row, column: 4) ?? "") ?? .failed
        abortRequested = r.bool(row: row, column: 5) ?? false
        epoch = r.int(row: row, column: 6) ?? 0
        owner = r.string(row: row, column: 7)
        leaseUntil = r.string(row: row, column: 8)
        requestedBy = r.string(row: row, column: 9) ?? ""
        createdAt = r.string(row: row, column: 10) ?? ""
        updatedAt = r.string(row: row, column: 11) ?? ""
        frozenAt = r.string(row: row, column: 12)
        cutOverAt = r.string(row: row, column: 13)
        finishedAt = r.string(row: row, column: 14)
        attempts = Int(r.int(row: row, column: 15) ?? 0)
        lastError = r.string(row: row, column: 16)
        progress = (try? JSONDecoder.decode(r.string(row: row, column: 17) ?? "{}"))?.object ?? JSONObject()
    }

    /// The admin API's shape (`TenantMove` in admin-openapi.yaml).
    var json: JSONValue {
        func text(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        var o: JSONObject = ["id": .string(id), "tenantId": .string(tenantID), "from": .string(sourceRegion), "to": .string(targetRegion),
                             "state": .string(state.rawValue), "abortRequested": .bool(abortRequested)]
        o.set("writesPaused", .bool(state.pausesWrites))
        o.set("requestedBy", .string(requestedBy))
        o.set("createdAt", .string(createdAt))
        o.set("updatedAt", .string(updatedAt))
        o.set("frozenAt", text(frozenAt))
        o.set("cutOverAt", text(cutOverAt))
        o.set("finishedAt", text(finishedAt))
        o.set("owner", text(owner))
        o.set("epoch", .number(JSONNumber(epoch)))
        o.set("attempts", .number(JSONNumber(attempts)))
        o.set("lastError", text(lastError))
        o.set("progress", .object(progress))
        return .object(o)
    }
}
