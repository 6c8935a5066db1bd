import JSON
import Postgres
import Crypto

/// Moves of tenants between regions (migration 4). Every state change is one conditional UPDATE — on the state it
/// leaves and on the mover's epoch — with its audit row in the same transaction; the cut-over also switches the
/// tenant's home region and NOTIFYs every gateway replica, in that one transaction.
extension ControlStore {
    static let unfinished = "state NOT IN ('done', 'aborted', 'failed')"

    /// Records a move request (state `preparing`); 409 when the tenant already has an unfinished move.
    func createMove(tenant: Tenant, to target: String, actor: String) throws(ControlPlaneError) -> TenantMove {
        let id = SecureRandom.uuid()
        do {
            return try pool.withTransaction { c in
                try lockTenant(c, tenant.id)
                let r = try c.query("""
                    INSERT INTO tenant_moves (id, tenant_id, source_region, target_region, state, requested_by)
                    SELECT $1, id, home_region, $3, 'preparing', $4 FROM tenants WHERE id = $2 AND home_region <> $3
                    RETURNING \(TenantMove.columns)
                    """, [.uuid(id), .uuid(tenant.id), .text(target), .text(actor)])
                guard r.rowCount == 1 else { throw ControlPlaneError.invalid("the tenant is already homed in region \(target)") }
                let move = TenantMove(r, 0)
                try audit(c, actor: actor, action: "tenant.move.request", tenantID: tenant.id,
                          detail: ["move": .string(id), "from": .string(move.sourceRegion), "to": .string(target)])
                return move
            }
        } catch let e as PostgresError where e.kind == .uniqueViolation {
            throw .conflict("the tenant already has a move in progress (scimctl tenant move-status)")
        } catch {
            throw ControlPlaneError.from(error)
        }
    }

    func move(id: String) throws(ControlPlaneError) -> TenantMove? {
        try run { c in
            let r = try c.query("SELECT \(TenantMove.columns) FROM tenant_moves WHERE id = $1", [.uuid(id)])
            return r.rowCount == 1 ? TenantMove(r, 0) : nil
        }
    }

    /// A tenant's moves, newest first.
    func moves(tenantID: String, limit: Int = 50) throws(ControlPlaneError) -> [TenantMove] {
        try run { c in
            let r = try c.query("SELECT \(TenantMove.columns) FROM tenant_moves WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT $2",
                                [.uuid(tenantID), .int(Int64(limit))])
            return (0..<r.rowCount).map { TenantMove(r, $0) }
        }
    }

    /// The tenant's unfinished move, if any.
    func activeMove(tenantID: String) throws(ControlPlaneError) -> TenantMove? {
        try run { c in
            let r = try c.query("SELECT \(TenantMove.columns) FROM tenant_moves WHERE tenant_id = $1 AND \(Self.unfinished)", [.uuid(tenantID)])
            return r.rowCount == 1 ? TenantMove(r, 0) : nil
        }
    }

    // MARK: Ownership

    /// Leases the oldest unfinished move nobody holds (or whose holder's lease ran out) to `owner`, raising its epoch:
    /// from now on only this owner's calls count, here and in both regions.
    /// The claim is audited (`tenant.move.claim`: who, which epoch, the state it resumes from, the previous holder).
    func claimMove(owner: String, leaseSeconds: Int) throws(ControlPlaneError) -> TenantMove? {
        try run { c in
            let r = try c.query("""
                UPDATE tenant_moves m SET owner = $1, lease_until = now() + $2 * interval '1 second', epoch = m.epoch + 1,
                       updated_at = now()
                FROM (SELECT id AS picked_id, owner AS previous_owner FROM tenant_moves
                      WHERE \(Self.unfinished) AND (lease_until IS NULL OR lease_until < now())
                      ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) picked
                WHERE m.id = picked.picked_id
                RETURNING \(TenantMove.columns), picked.previous_owner
                """, [.text(owner), .int(Int64(leaseSeconds))])
            guard r.rowCount == 1 else { return nil }
            let move = TenantMove(r, 0)
            var detail: JSONObject = ["move": .string(move.id), "owner": .string(owner), "epoch": .number(JSONNumber(move.epoch)),
                                      "state": .string(move.state.rawValue)]
            // A previous holder whose lease ran out (it crashed or stalled): this claim takes the move over.
            if let previous = r.string(row: 0, column: TenantMove.columnCount) { detail.set("takenOverFrom", .string(previous)) }
            try audit(c, actor: "mover:\(owner)", action: "tenant.move.claim", tenantID: move.tenantID, detail: detail)
            return move
        }
    }

    /// Extends the lease; nil when the move is no longer this owner's (taken over, or finished), else whether the
    /// operator has asked for an abort meanwhile (the runner then stops its step and undoes the move).
    func renewMoveLease(id: String, epoch: Int64, owner: String, leaseSeconds: Int) throws(ControlPlaneError) -> (abortRequested: Bool, state: MoveState)? {
        try run { c in
            let r = try c.query("""
                UPDATE tenant_moves SET lease_until = now() + $4 * interval '1 second'
                WHERE id = $1 AND epoch = $2 AND owner = $3 AND \(Self.unfinished)
                RETURNING abort_requested, state
                """, [.uuid(id), .int(epoch), .text(owner), .int(Int64(leaseSeconds))])
            guard r.rowCount == 1 else { return nil }
            return (r.bool(row: 0, column: 0) ?? false, MoveState(rawValue: r.string(row: 0, column: 1) ?? "") ?? .failed)
        }
    }

    /// Gives the move up (a graceful shutdown): another mover may claim it at once.
    func releaseMove(id: String, epoch: Int64) throws(ControlPlaneError) {
        _ = try run { c in
            try c.execute("UPDATE tenant_moves SET owner = NULL, lease_until = NULL WHERE id = $1 AND epoch = $2", [.uuid(id), .int(epoch)])
        }
    }

    // MARK: Transitions

    /// Moves the state on, when it still is `from` and the epoch is this mover's; audits it; merges `progress` into
    /// the stored progress. Throws `.conflict` when the move is no longer this mover's to change.
    func transitionMove(_ move: TenantMove, to state: MoveState, actor: String, progress: JSONObject = JSONObject(),
                        detail: JSONObject = JSONObject(), error: String? = nil) throws(ControlPlaneError) -> TenantMove {
        guard MoveState.allowed(from: move.state, to: state) else {
            throw .invalid("a move cannot go from \(move.state.rawValue) to \(state.rawValue)")
        }
        return try run { c in
            let r = try c.query("""
                UPDATE tenant_moves SET state = $3, updated_at = now(), attempts = 0, last_error = coalesce($6, last_error),
                       progress = progress || $5::jsonb,
                       frozen_at = CASE WHEN $3 = 'frozen' THEN now() ELSE frozen_at END,
                       finished_at = CASE WHEN $3 IN ('done', 'aborted', 'failed') THEN now() ELSE finished_at END,
                       owner = CASE WHEN $3 IN ('done', 'aborted', 'failed') THEN NULL ELSE owner END,
                       lease_until = CASE WHEN $3 IN ('done', 'aborted', 'failed') THEN NULL ELSE lease_until END
                WHERE id = $1 AND epoch = $2 AND state = $4
                RETURNING \(TenantMove.columns)
                """, [.uuid(move.id), .int(move.epoch), .text(state.rawValue), .text(move.state.rawValue),
                      .jsonb(String(decoding: JSONValue.object(progress).encoded(), as: UTF8.self)), PostgresValue(error)])
            guard r.rowCount == 1 else {
                throw ControlPlaneError.conflict("move \(move.id) is no longer at \(move.state.rawValue) with epoch \(move.epoch)")
            }
            var audited = detail
            audited.set("move", .string(move.id))
            audited.set("from", .string(move.sourceRegion))
            audited.set("to", .string(move.targetRegion))
            if let error { audited.set("error", .string(error)) }
            try audit(c, actor: actor, action: "tenant.move.\(state.rawValue)", tenantID: move.tenantID, detail: audited)
            return TenantMove(r, 0)
        }
    }

    /// The cut-over, atomically: the tenant's home region becomes the target and the move `cut_over`, unless an
    /// abort was requested first; audited; every gateway replica drops the cached tenant (NOTIFY) when it commits.
    func cutOverMove(_ move: TenantMove, actor: String, progress: JSONObject, detail: JSONObject) throws(ControlPlaneError) -> TenantMove {
        try run { c in
            let m = try c.query("""
                UPDATE tenant_moves SET state = 'cut_over', cut_over_at = now(), updated_at = now(), attempts = 0,
                       -- A mover that took over a frozen move did not see the freeze start: the pause then counts
                       -- from the recorded freeze.
                       progress = progress || $3::jsonb
                                  || CASE WHEN $3::jsonb ? 'pauseMillis' OR frozen_at IS NULL THEN '{}'::jsonb
                                          ELSE jsonb_build_object('pauseMillis', (extract(epoch FROM now() - frozen_at) * 1000)::bigint,
                                                                  'pauseMeasuredFrom', 'frozenAt') END
                WHERE id = $1 AND epoch = $2 AND state = 'activating' AND NOT abort_requested
                RETURNING \(TenantMove.columns)
                """, [.uuid(move.id), .int(move.epoch), .jsonb(String(decoding: JSONValue.object(progress).encoded(), as: UTF8.self))])
            guard m.rowCount == 1 else {
                throw ControlPlaneError.conflict("move \(move.id) is no longer ready for its cut-over (an abort was requested, or another mover holds it)")
            }
            let t = try c.execute("UPDATE tenants SET home_region = $3, updated_at = now() WHERE id = $1 AND home_region = $2 AND deleted_at IS NULL",
                                  [.uuid(move.tenantID), .text(move.sourceRegion), .text(move.targetRegion)])
            guard t == 1 else { throw ControlPlaneError.conflict("tenant \(move.tenantID) is no longer homed in \(move.sourceRegion)") }
            var audited = detail
            audited.set("move", .string(move.id))
            audited.set("from", .string(move.sourceRegion))
            audited.set("to", .string(move.targetRegion))
            try audit(c, actor: actor, action: "tenant.move.cut_over", tenantID: move.tenantID, detail: audited)
            try notify(c, "tenant:\(move.tenantID)")
            return TenantMove(m, 0)
        }
    }

    /// Progress of the current step (no audit row: rounds are many).
    func recordMoveProgress(_ move: TenantMove, _ progress: JSONObject) throws(ControlPlaneError) {
        _ = try run { c in
            try c.execute("UPDATE tenant_moves SET progress = progress || $3::jsonb, updated_at = now() WHERE id = $1 AND epoch = $2",
                          [.uuid(move.id), .int(move.epoch), .jsonb(String(decoding: JSONValue.object(progress).encoded(), as: UTF8.self))])
        }
    }

    /// A failed attempt of the current step (it will be retried).
    func recordMoveError(_ move: TenantMove, _ error: String) throws(ControlPlaneError) {
        _ = try run { c in
            try c.execute("UPDATE tenant_moves SET attempts = attempts + 1, last_error = $3, updated_at = now() WHERE id = $1 AND epoch = $2",
                          [.uuid(move.id), .int(move.epoch), .text(String(error.prefix(500)))])
        }
    }

    /// How long ago the move froze the source (the control plane's clock), while it is `frozen`.
    func moveFrozenMillis(_ move: TenantMove) throws(ControlPlaneError) -> Int64? {
        try run { c in
            let r = try c.query("SELECT (extract(epoch FROM now() - frozen_at) * 1000)::bigint FROM tenant_moves WHERE id = $1 AND state = 'frozen' AND frozen_at IS NOT NULL",
                                [.uuid(move.id)])
            return r.rowCount == 1 ? r.int(row: 0, column: 0) : nil
        }
    }

    /// Reads the move again (its state, and whether an abort was requested), as long as it is this mover's.
    func reloadMove(_ move: TenantMove) throws(ControlPlaneError) -> TenantMove? {
        guard let current = try self.move(id: move.id), current.epoch == move.epoch else { return nil }
        return current
    }

    // MARK: Operator requests

    /// Asks for an abort of the tenant's unfinished move (honoured only before the cut-over).
    func requestMoveAbort(tenantID: String, actor: String) throws(ControlPlaneError) -> TenantMove {
        try run { c in
            let r = try c.query("""
                UPDATE tenant_moves SET abort_requested = true, updated_at = now()
                WHERE tenant_id = $1 AND state IN ('preparing', 'copying', 'frozen', 'activating')
                RETURNING \(TenantMove.columns)
                """, [.uuid(tenantID)])
            guard r.rowCount == 1 else {
                let active = try c.query("SELECT state FROM tenant_moves WHERE tenant_id = $1 AND \(Self.unfinished)", [.uuid(tenantID)])
                if active.rowCount == 1, let state = active.string(row: 0, column: 0) {
                    throw ControlPlaneError.conflict(state == "aborting" ? "the move is already being aborted"
                                                     : "the move is past its cut-over (\(state)): the tenant already lives in its new region")
                }
                throw ControlPlaneError.notFound("the tenant has no move in progress")
            }
            let move = TenantMove(r, 0)
            try audit(c, actor: actor, action: "tenant.move.abort_requested", tenantID: tenantID, detail: ["move": .string(move.id)])
            return move
        }
    }

    /// Resumes the tenant's latest move: an unfinished one is released so any mover claims it now (its previous
    /// holder, if alive, is fenced off by the epoch); a failed one starts again from `preparing`.
    func resumeMove(tenantID: String, actor: String) throws(ControlPlaneError) -> TenantMove {
        do {
            return try pool.withTransaction { c in
                let latest = try c.query("SELECT \(TenantMove.columns) FROM tenant_moves WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT 1 FOR UPDATE",
                                         [.uuid(tenantID)])
                guard latest.rowCount == 1 else { throw ControlPlaneError.notFound("the tenant has never been moved") }
                let move = TenantMove(latest, 0)
                let r: PostgresResult
                switch move.state {
                case .done, .aborted:
                    throw ControlPlaneError.conflict("the latest move is \(move.state.rawValue); start a new one with POST …/move")
                case .failed:
                    r = try c.query("""
                        UPDATE tenant_moves SET state = 'preparing', abort_requested = false, attempts = 0, owner = NULL,
                               lease_until = NULL, finished_at = NULL, frozen_at = NULL, updated_at = now()
                        WHERE id = $1 RETURNING \(TenantMove.columns)
                        """, [.uuid(move.id)])
                default:
                    r = try c.query("UPDATE tenant_moves SET owner = NULL, lease_until = NULL, updated_at = now() WHERE id = $1 RETURNING \(TenantMove.columns)",
                                    [.uuid(move.id)])
                }
                try audit(c, actor: actor, action: "tenant.move.resume", tenantID: tenantID,
                          detail: ["move": .string(move.id), "state": .string(move.state.rawValue)])
                return TenantMove(r, 0)
            }
        } catch let e as PostgresError where e.kind == .uniqueViolation {
            throw .conflict("the tenant already has another move in progress")
        } catch {
            throw ControlPlaneError.from(error)
        }
    }
}
