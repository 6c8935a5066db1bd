import HTTPCore
import JSON

/// Moving a tenant to another region, and its residency report (docs/residency.md). A move runs in the background
/// (`TenantMover`, on whichever gateway replica claims it); these calls request, show, abort and resume it.
extension AdminAPI {
    /// `POST …/move` `{"to": "<region>"}`: 202 with the move (state `preparing`).
    func startMove(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        let body = try call.body()
        guard let target = body["to"]?.string else {
            throw .badRequest("'to' is required: the region to move to (one of \(directory.ids.joined(separator: ", ")))")
        }
        guard directory.routes[target] != nil else {
            throw .badRequest("unknown region '\(target.prefix(64))' (known: \(directory.ids.joined(separator: ", ")))")
        }
        guard target != tenant.homeRegion else { throw .conflict("the tenant is already homed in region \(target)") }
        guard directory.routes[tenant.homeRegion] != nil else { throw .unavailable("home region \(tenant.homeRegion) is not configured here") }
        do {
            let move = try store.createMove(tenant: tenant, to: target, actor: call.actor)
            return Self.json(202, move.json)
        } catch {
            throw AdminError.converting(error)
        }
    }

    /// `GET …/move`: the tenant's latest move (the one in progress, or the last one).
    func showMove(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        do {
            guard let move = try store.moves(tenantID: tenant.id, limit: 1).first else { throw AdminError.notFound("the tenant has never been moved") }
            return Self.json(200, move.json)
        } catch let e as AdminError {
            throw e
        } catch {
            throw AdminError.converting(error)
        }
    }

    /// `POST …/move/abort`: 202; the mover undoes the move at its next step (only before the cut-over).
    func abortMove(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        do {
            return Self.json(202, try store.requestMoveAbort(tenantID: tenant.id, actor: call.actor).json)
        } catch {
            throw AdminError.converting(error)
        }
    }

    /// `POST …/move/resume`: 202; an unfinished move is taken over by the next mover at once, a failed one starts again.
    func resumeMove(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        do {
            return Self.json(202, try store.resumeMove(tenantID: tenant.id, actor: call.actor).json)
        } catch {
            throw AdminError.converting(error)
        }
    }

    /// `GET …/residency?since=&until=`: the residency report, with who processed the tenant's requests in that
    /// window (`processing`; all the request log holds when neither is given).
    func residencyReport(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        for (name, _) in call.query where name != "since" && name != "until" {
            throw .badRequest("unknown parameter '\(name.prefix(40))' (since, until)")
        }
        let report = ResidencyReport(store: store, directory: directory, regions: regions)
        let built: JSONValue
        do {
            built = try report.build(tenant, requestID: call.requestID)
        } catch {
            throw AdminError.converting(error)
        }
        guard case .object(var o) = built else { return Self.json(200, built) }
        o.set("processing", try report.processing(tenant, since: call.query["since"], until: call.query["until"],
                                                  regions: o["regions"]?.array ?? [], requestID: call.requestID))
        return Self.json(200, .object(o))
    }

    /// A tenant a move holds is not deleted under it (abort the move first).
    func refuseWhileMoving(_ tenant: Tenant) throws(AdminError) {
        do {
            if let move = try store.activeMove(tenantID: tenant.id) {
                throw AdminError.conflict("the tenant is being moved (\(move.state.rawValue)); abort the move first (scimctl tenant move-abort)")
            }
        } catch let e as AdminError {
            throw e
        } catch {
            throw AdminError.converting(error)
        }
    }
}
