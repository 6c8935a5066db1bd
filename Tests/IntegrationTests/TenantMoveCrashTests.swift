#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import Postgres
import TestSupport

/// One crash case of a move (issue 21's "kill -9 of the mover, the gateway or either region at any step, then resume
/// → same end state"): a 3,000-user tenant with hard deletes in us; gateway 0 runs the mover (lease 3 s), gateway 1
/// runs none and carries the IdP's and the operator's calls, so killing gateway 0 or a region never kills the
/// observer. `finish` waits for the move and checks the end state every move must show.
final class CrashMove {
    static let users = 3_000
    static let leaseMillis = 3_000
    let d: Deployment
    let serving: Int
    let acme: (id: String, token: String)
    let before: [String: Set<String>]
    let writer: IdPWriter
    /// A superuser connection to the control plane: polls the move's state without any gateway in the way.
    let control: PostgresConnection
    private(set) var requestedAt = 0

    init(_ d: Deployment, prepare: ((String) throws -> Void)? = nil) throws {
        self.d = d
        serving = try d.startGateway(extraArguments: ["--move-workers", "0"])
        acme = try d.createTenant("acme", region: "us", policy: "hard")
        try TenantLoad.load(d, region: "us", tenant: acme.id, users: Self.users, groups: 50, bigGroupMembers: 1_000)
        try prepare?(acme.id)
        before = try tenantRows(d, region: "us", tenant: acme.id)
        control = try PostgresConnection(configuration: d.control.adminConfiguration)
        writer = IdPWriter(port: d.gateways[serving].port, token: acme.token)
        writer.start(loaded: Self.users, prefix: "crash")
        usleep(300_000)
    }

    /// Asks for the move to eu2 (through the serving gateway).
    func request(sourceLocation: SourceLocation = #_sourceLocation) throws {
        requestedAt = monotonicMillis()
        let (status, body) = try d.admin(.post, "/admin/v1/tenants/\(acme.id)/move", .object(["to": "eu2"]), gateway: serving)
        #expect(status == 202, "\(body.map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "")", sourceLocation: sourceLocation)
    }

    /// The state of the tenant's latest move, read from the control plane directly.
    func state() throws -> String {
        try control.query("SELECT state FROM tenant_moves WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 1", [.uuid(acme.id)])
            .string(row: 0, column: 0) ?? "-"
    }

    /// Waits until the copy is under way (the first users have reached eu2); returns how many have.
    func waitMidCopy() throws -> Int {
        let deadline = monotonicMillis() + 120_000
        while monotonicMillis() < deadline {
            let n = try d.userRows("eu2", acme.id)
            if n > 0 { return n }
            usleep(2_000)
        }
        throw RawError.failed("the copy never started")
    }

    /// Waits until the move is `frozen` (polled every millisecond: the final catch-up of 3,000 users lasts a few
    /// hundred ms), then stops `process` with SIGSTOP so the step is held where it is; returns whether the move was
    /// still frozen once the process stood still (then the caller kills it there).
    func holdWhileFrozen(_ process: ChildProcess) throws -> Bool {
        try hold(process, in: ["frozen"]) == "frozen"
    }

    /// Waits until the move is in one of `states` (polled every millisecond), stops `process` with SIGSTOP, and
    /// returns the state once it stands still (one of `states` when the step was caught).
    func hold(_ process: ChildProcess, in states: Set<String>) throws -> String {
        let deadline = monotonicMillis() + 120_000
        while try !states.contains(state()) {
            if monotonicMillis() > deadline { throw RawError.failed("the move never reached \(states.sorted()): \(try state())") }
            usleep(1_000)
        }
        process.signal(SIGSTOP)
        return try state()
    }

    /// Waits for the move to end, stops the IdP, and checks the end state: done, us empty, eu2 = us before + every
    /// acknowledged write once, no fence; no write failed except those of unknown outcome (in flight at a kill).
    func finish(sourceLocation: SourceLocation = #_sourceLocation) throws -> (move: JSONValue, outcome: IdPWriter.Outcome) {
        let finished = try d.waitForMove(acme.id, timeoutSeconds: 300, gateway: serving) { ["done", "aborted", "failed"].contains($0) }
        // The IdP goes on writing, now to eu2: wait for a few acknowledged writes after the move (its threads may be
        // waiting out a Retry-After from a region that was down).
        let ackedAtEnd = writer.acknowledgedSoFar.load(ordering: .relaxed)
        let resumeDeadline = monotonicMillis() + 15_000
        while writer.acknowledgedSoFar.load(ordering: .relaxed) < ackedAtEnd + 10 && monotonicMillis() < resumeDeadline { usleep(20_000) }
        let outcome = writer.finish()
        #expect(outcome.acknowledged >= ackedAtEnd + 10, "the IdP's writes go on after the move", sourceLocation: sourceLocation)
        #expect(finished["state"]?.string == "done", "\(String(decoding: finished.encoded(), as: UTF8.self))", sourceLocation: sourceLocation)
        #expect(outcome.otherFailures.isEmpty, "\(outcome.otherFailures.prefix(3))", sourceLocation: sourceLocation)
        #expect(outcome.unknown.count <= 6, "only writes in flight at a kill may be of unknown outcome: \(outcome.unknown.count)",
                sourceLocation: sourceLocation)
        #expect(!outcome.deleted.isEmpty, "the IdP deleted users during the move", sourceLocation: sourceLocation)
        try expectMovedEndState(d, tenant: acme.id, from: "us", to: "eu2", before: before, outcome, hardDeletes: true,
                                sourceLocation: sourceLocation)
        return (finished, outcome)
    }

    /// The audit actions of the tenant's moves.
    func actions() throws -> [String] { try d.moveAudit(acme.id, gateway: serving).map(\.action) }
}

extension IdPWriter.Outcome {
    /// The spans (ms) over which the IdP got pause 503s (`X-Scim-Write-Pause`) without any write acknowledged in
    /// between: one per pause the IdP lived through.
    var pauseWindows: [Int] {
        let acks = self.acks.sorted()
        var windows: [Int] = []
        var current: (start: Int, end: Int)? = nil
        for p in paused.sorted(by: { $0.start < $1.start }) {
            if let c = current, !acks.contains(where: { $0 > c.end && $0 < p.start }) {
                current = (c.start, max(c.end, p.end))
            } else {
                if let c = current { windows.append(c.end - c.start) }
                current = p
            }
        }
        if let c = current { windows.append(c.end - c.start) }
        return windows
    }
}

extension Reliability.TenantMoveTests {
    /// `kill -9` of the source region (us) mid-copy: the move waits (retrying, `lastError` says why) with its fences,
    /// the IdP's writes are refused as the region is down, and once us is back the move finishes to the same end state.
    @Test func aMoveFinishesAfterItsSourceRegionIsKilledMidCopy() throws {
        try regionKilledMidCopy("us")
    }

    /// `kill -9` of the target region (eu2) mid-copy: the IdP goes on writing to us throughout, the move waits until
    /// eu2 is back and finishes (what a killed import left half done is found by the next comparison).
    @Test func aMoveFinishesAfterItsTargetRegionIsKilledMidCopy() throws {
        try regionKilledMidCopy("eu2")
    }

    private func regionKilledMidCopy(_ region: String) throws {
        let d = try Deployment.reliability("move-kill-\(region)", gatewayArguments: ["--move-lease", "3s"])
        defer { d.stop() }
        let c = try CrashMove(d)
        try c.request()
        let copied = try c.waitMidCopy()
        let killedPID = d.regionProcesses[region]!.pid
        d.stopRegion(region, kill: true)
        let killedAt = monotonicMillis()
        let atKill = try c.state()
        #expect(atKill == "copying", "killed mid-copy: \(atKill)")
        usleep(2_000_000)
        let waiting = try d.move(c.acme.id, gateway: c.serving)
        #expect(waiting["state"]?.string == "copying", "the move waits while \(region) is down")
        #expect(waiting["lastError"]?.string?.contains("region \(region)") == true, "\(waiting["lastError"]?.string ?? "no lastError")")
        #expect(try d.fenceRows("us", c.acme.id) == 1 && d.fenceRows("eu2", c.acme.id) == 1, "the fences stay while the move waits")
        try d.startRegion(region)
        let restartedAt = monotonicMillis()
        let (move, outcome) = try c.finish()
        let p = move["progress"]
        report("move: kill -9 of the \(region == "us" ? "source" : "target") region (\(region)) mid-copy (\(copied) users in eu2), down "
               + "\(restartedAt - killedAt) ms: done \(monotonicMillis() - killedAt) ms after the kill, \(monotonicMillis() - c.requestedAt) ms in all; "
               + "pause \(p?["pauseMillis"]?.int ?? -1) ms; \(p?["rounds"]?.int ?? -1) rounds, \(p?["rowsCopied"]?.int ?? -1) rows copied; "
               + "IdP: \(outcome.acknowledged) writes acknowledged, \(outcome.unknown.count) unknown (in flight at the kill), "
               + "longest stall \(outcome.longestStall()) ms")
        #expect((p?["pauseMillis"]?.int ?? 99_999) <= 5_000)
        // The residency report names the processes that handled the tenant's requests: the killed us process (its
        // records were written before the kill; its successor appears too when the IdP, which may still be waiting
        // out a Retry-After, wrote before the freeze) when us was killed; the restarted eu2 process after the
        // cut-over (the killed one never served the tenant: it was the target).
        let (_, residency) = try d.admin(.get, "/admin/v1/tenants/\(c.acme.id)/residency", gateway: c.serving)
        func names(_ id: String) -> [String] {
            ((residency?["processing"]?["byRegion"]?.array ?? []).first { $0["region"]?.string == id }?["processes"]?.array ?? [])
                .compactMap { $0["process"]?.string }
        }
        let usNames = names("us"), eu2Names = names("eu2")
        if region == "us" {
            #expect(usNames.contains { $0.hasSuffix("/\(killedPID)") } && usNames.allSatisfy { $0.hasPrefix("us/") }, "\(usNames)")
        } else {
            #expect(!eu2Names.contains { $0.hasSuffix("/\(killedPID)") } && eu2Names.contains { $0.hasSuffix("/\(d.regionProcesses["eu2"]!.pid)") },
                    "\(eu2Names)")
        }
        report("move: residency after the \(region) kill: us processes \(usNames), eu2 processes \(eu2Names)")
        #expect(try c.actions().filter { $0 == "tenant.move.claim" }.count == 1, "the same mover waited and finished it")
    }

    /// `kill -9` of the mover's gateway while the source is frozen (the tenant's writes paused): the writes stay
    /// paused until the restarted gateway takes the move over after the lease. The pause allowed counts from the
    /// recorded freeze, so the takeover finishes within what is left of it or gives the freeze up (writes resume)
    /// and freezes again later. Bound on what the IdP sees: one pause of at most lease + max pause (3 s + 5 s).
    @Test func aMoveResumesAfterItsGatewayIsKilledWhileFrozen() throws {
        let d = try Deployment.reliability("move-kill-frozen", gatewayArguments: ["--move-lease", "3s"])
        defer { d.stop() }
        let c = try CrashMove(d)
        try c.request()
        let held = try c.holdWhileFrozen(d.gateways[0].process)
        d.killGateway(0)
        let killedAt = monotonicMillis() - c.writer.started
        let atKill = try c.state()
        #expect(held && atKill == "frozen", "the mover's gateway stood still while frozen: \(atKill)")
        let first = try d.move(c.acme.id, gateway: c.serving)
        // Writes are paused while nobody holds the freeze; reads go on.
        let write = try d.scim(.patch, "/scim/v2/Users/\(TenantLoad.userID(Int(CrashMove.users)))", token: c.acme.token,
                               body: ["schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                      "Operations": [["op": "replace", "path": "title", "value": "x"]]], gateway: c.serving)
        #expect(write.status.code == 503 && write.headers["X-Scim-Write-Pause"] != nil)
        let read = try d.scim(.get, "/scim/v2/Users/\(TenantLoad.userID(1))", token: c.acme.token, gateway: c.serving)
        #expect(read.status.code == 200)
        try d.restartGateway(0)
        let (move, outcome) = try c.finish()
        let windows = outcome.pauseWindows
        let longest = windows.max() ?? 0
        let stall = outcome.longestStall(from: killedAt - 2_000)
        let actions = try c.actions()
        let gaveUp = actions.filter { $0 == "tenant.move.frozen" }.count > 1
        report("move: kill -9 of the mover's gateway while frozen: done \(monotonicMillis() - c.writer.started - killedAt) ms after the kill; "
               + "the IdP saw \(windows.count) pause(s), longest \(longest) ms (bound: lease 3 s + max pause 5 s), longest stall between "
               + "acknowledged writes \(stall) ms (Retry-After 2 s included); takeover \(gaveUp ? "gave the freeze up and froze again" : "finished under the freeze"); "
               + "recorded pause \(move["progress"]?["pauseMillis"]?.int ?? -1) ms; \(outcome.acknowledged) writes acknowledged, \(outcome.unknown.count) unknown")
        let recorded = move["progress"]?["pauseMillis"]?.int ?? 99_999
        #expect(longest <= CrashMove.leaseMillis + 5_000, "the IdP's pause must stay within lease + max pause (\(longest) ms)")
        // The takeover counts the pause allowed from the recorded freeze: the freeze that ended in the cut-over lasted
        // at most the max pause (5 s; half a second for the activation's calls).
        #expect(recorded <= 5_500, "recorded pause \(recorded) ms")
        #expect(stall <= CrashMove.leaseMillis + 5_000 + 2_000, "writes acknowledged again within lease + max pause + Retry-After")
        #expect(!windows.isEmpty)
        #expect((move["epoch"]?.int ?? 0) > (first["epoch"]?.int ?? 0))
        let audit = try d.moveAudit(c.acme.id, gateway: c.serving)
        let claims = audit.filter { $0.action == "tenant.move.claim" }
        #expect(claims.count == 2 && claims.last?.detail["state"]?.string == "frozen"
                && claims.last?.detail["takenOverFrom"]?.string == first["owner"]?.string, "\(claims.map(\.detail))")
        #expect(actions.filter { $0 == "tenant.move.cut_over" }.count == 1)
    }

    /// `kill -9` of the target region (eu2) while the source is frozen: held with SIGSTOP at the freeze, then killed
    /// and kept down for 5 s, longer than the pause allowed (2 s here). The freeze must be given up at its deadline
    /// (the source takes writes again while eu2 is down), the move waits for eu2 and then finishes.
    @Test func aFreezeIsGivenUpWhenTheTargetRegionIsKilledUnderIt() throws {
        let d = try Deployment.reliability("move-kill-eu2-frozen", gatewayArguments: ["--move-lease", "3s", "--move-max-pause", "2s"])
        defer { d.stop() }
        let c = try CrashMove(d)
        try c.request()
        let held = try c.holdWhileFrozen(d.regionProcesses["eu2"]!)
        d.stopRegion("eu2", kill: true)
        let killedAt = monotonicMillis() - c.writer.started
        let atKill = try c.state()
        #expect(held, "eu2 stood still while frozen: \(atKill)")
        usleep(5_000_000)
        let during = try c.state()
        #expect(during == "copying", "the freeze was given up while eu2 was down: \(during)")
        try d.startRegion("eu2")
        let (move, outcome) = try c.finish()
        let windows = outcome.pauseWindows
        let longest = windows.max() ?? 0
        let actions = try c.actions()
        report("move: kill -9 of the target region while frozen (down 5 s, max pause 2 s): the IdP saw \(windows.count) pause(s), "
               + "longest \(longest) ms (bound: max pause 2 s + 1.5 s for the failing call and a retry); longest stall "
               + "\(outcome.longestStall(from: killedAt - 2_000)) ms (Retry-After 2 s included); done \(monotonicMillis() - c.writer.started - killedAt) ms after "
               + "the kill; freezes \(actions.filter { $0 == "tenant.move.frozen" }.count); recorded pause \(move["progress"]?["pauseMillis"]?.int ?? -1) ms; "
               + "\(outcome.acknowledged) writes acknowledged, \(outcome.unknown.count) unknown")
        #expect(longest <= 3_500, "the pause must end at the freeze's deadline while the target is down")
        #expect(actions.filter { $0 == "tenant.move.frozen" }.count >= 2, "frozen again after eu2 came back: \(actions)")
        #expect((move["progress"]?["pauseMillis"]?.int ?? 99_999) <= 2_000)
    }

    /// `kill -9` of the source region (us) while frozen (held with SIGSTOP at the freeze), restarted 2 s later: the
    /// tenant's writes fail while us is down (503, nothing applied), us comes back still frozen, and the mover, which
    /// retried every second, finishes within the pause allowed or gives the freeze up and freezes again.
    @Test func aMoveFinishesAfterItsSourceRegionIsKilledWhileFrozen() throws {
        let d = try Deployment.reliability("move-kill-us-frozen", gatewayArguments: ["--move-lease", "3s"])
        defer { d.stop() }
        let c = try CrashMove(d)
        try c.request()
        let held = try c.holdWhileFrozen(d.regionProcesses["us"]!)
        let atKill = try c.state()
        d.stopRegion("us", kill: true)
        let killedAt = monotonicMillis() - c.writer.started
        #expect(held, "us stood still while frozen: \(atKill)")
        usleep(2_000_000)
        try d.startRegion("us")
        let restartedAt = monotonicMillis() - c.writer.started
        let (move, outcome) = try c.finish()
        // How long after the restart the IdP got pause 503s from the restarted us (it stayed frozen until the mover's
        // next attempt).
        let pausedAfter = outcome.paused.filter { $0.start >= restartedAt }.map(\.end).max().map { $0 - restartedAt } ?? 0
        let actions = try c.actions()
        report("move: kill -9 of the source region while frozen (down \(restartedAt - killedAt) ms): done \(monotonicMillis() - c.writer.started - killedAt) ms after "
               + "the kill; freezes \(actions.filter { $0 == "tenant.move.frozen" }.count); pause 503s from the restarted us until \(pausedAfter) ms after "
               + "its restart; recorded pause \(move["progress"]?["pauseMillis"]?.int ?? -1) ms; longest stall \(outcome.longestStall(from: killedAt - 2_000)) ms; "
               + "\(outcome.acknowledged) writes acknowledged, \(outcome.unknown.count) unknown")
        #expect(pausedAfter <= 5_000, "the restarted source does not stay frozen past the pause allowed")
        #expect((move["progress"]?["pauseMillis"]?.int ?? 99_999) <= 5_000)
    }

    /// After the cut-over, while the source is being purged (held there with SIGSTOP of us): `kill -9` of the mover's
    /// gateway and of us together, both restarted. The tenant lives in eu2 by then: the IdP's writes go on there; the
    /// restarted gateway takes the move over after the lease and purges what is left in us (the killed purge batch
    /// was rolled back), then checks that us holds nothing.
    @Test func aMoveFinishesItsPurgeAfterItsGatewayAndSourceRegionAreKilled() throws {
        let d = try Deployment.reliability("move-kill-purge", gatewayArguments: ["--move-lease", "3s"])
        defer { d.stop() }
        let c = try CrashMove(d)
        try c.request()
        let atHold = try c.hold(d.regionProcesses["us"]!, in: ["cut_over", "purging"])
        let first = try d.move(c.acme.id, gateway: c.serving)
        d.killGateway(0)
        d.stopRegion("us", kill: true)
        let killedAt = monotonicMillis()
        #expect(["cut_over", "purging"].contains(atHold), "held after the cut-over: \(atHold)")
        // The tenant is served by eu2 meanwhile.
        let write = try d.scim(.post, "/scim/v2/Users", token: c.acme.token, body: userBody("after-cut-over@idp.example"), gateway: c.serving)
        #expect(write.status.code == 201 && write.headers["X-Scim-Region"] == "eu2", "\(write.status.code) \(write.bodyText.prefix(200))")
        try d.startRegion("us")
        try d.restartGateway(0)
        let (move, outcome) = try c.finish()
        let audit = try d.moveAudit(c.acme.id, gateway: c.serving)
        let claims = audit.filter { $0.action == "tenant.move.claim" }
        report("move: kill -9 of the mover's gateway and of us during the purge (held at \(atHold)): done \(monotonicMillis() - killedAt) ms after the kills; "
               + "\(move["progress"]?["sourceRowsPurged"]?.int ?? -1) rows purged, residue \(move["progress"]?["sourceResidue"]?.int ?? -1); "
               + "longest IdP stall \(outcome.longestStall()) ms; \(outcome.acknowledged) writes acknowledged, \(outcome.unknown.count) unknown")
        #expect(claims.count == 2 && claims.last?.detail["takenOverFrom"]?.string == first["owner"]?.string
                && ["cut_over", "purging"].contains(claims.last?.detail["state"]?.string ?? ""), "\(claims.map(\.detail))")
        #expect(audit.filter { $0.action == "tenant.move.cut_over" }.count == 1 && audit.filter { $0.action == "tenant.move.done" }.count == 1)
        #expect(move["progress"]?["sourceResidue"]?.int == 0)
        #expect(outcome.longestStall() <= 3_000, "the tenant's writes went on in eu2")
        let check = try d.scim(.get, "/scim/v2/Users?filter=userName%20eq%20%22after-cut-over@idp.example%22", token: c.acme.token, gateway: c.serving)
        let found = (try? JSONDecoder.decode(check.body))?["totalResults"]?.int
        #expect(check.status.code == 200 && found == 1, "\(check.bodyText.prefix(300))")
    }

    /// A move that fails (eu2 already holds a row of the tenant: a leftover the move refuses to overwrite) is undone
    /// (us intact, its writes going on, no fence); once the operator has removed the leftover, `scimctl tenant
    /// move-resume --follow` starts it again from `preparing` and it finishes to the same end state.
    @Test func aFailedMoveIsResumedAndFinishes() throws {
        let d = try Deployment.reliability("move-resume-failed", gatewayArguments: ["--move-lease", "3s"])
        defer { d.stop() }
        let c = try CrashMove(d) { tenant in
            // The tenant's row, as us holds it, put into eu2 by hand.
            let row = try d.regionAdmin("us").query("SELECT t::text FROM tenants t WHERE id = $1::uuid", [.uuid(tenant)]).string(row: 0, column: 0)!
            _ = try d.regionAdmin("eu2").query("INSERT INTO tenants SELECT (($1::text)::tenants).*", [.text(row)])
        }
        try c.request()
        let failed = try d.waitForMove(c.acme.id, timeoutSeconds: 60, gateway: c.serving) { ["done", "aborted", "failed"].contains($0) }
        #expect(failed["state"]?.string == "failed")
        #expect(failed["lastError"]?.string?.contains("already holds rows of the tenant") == true, "\(failed["lastError"]?.string ?? "-")")
        #expect(try d.fenceRows("us", c.acme.id) == 0 && d.fenceRows("eu2", c.acme.id) == 0, "undone: no fence left")
        let (_, tenant) = try d.admin(.get, "/admin/v1/tenants/\(c.acme.id)", gateway: c.serving)
        #expect(tenant?["region"]?.string == "us")
        usleep(500_000)  // the IdP writes to us meanwhile
        // The operator removes the leftover and resumes the failed move.
        _ = try d.regionAdmin("eu2").query("DELETE FROM tenants WHERE id = $1::uuid", [.uuid(c.acme.id)])
        let resumedAt = monotonicMillis()
        let (exit, output) = try d.scimctl(["tenant", "move-resume", "acme", "--follow"], gateway: c.serving, timeoutMillis: 120_000)
        #expect(exit == 0 && output.contains("state=preparing") && output.contains("state=done"), "\(output)")
        let (move, outcome) = try c.finish()
        #expect(move["id"]?.string == failed["id"]?.string, "the same move, resumed")
        let actions = try c.actions()
        for step in ["failed", "resume", "cut_over", "done"] { #expect(actions.contains("tenant.move.\(step)"), "\(actions)") }
        report("move: failed (a leftover row in eu2) \(failed["finishedAt"]?.string ?? "-"), resumed with scimctl: done "
               + "\(monotonicMillis() - resumedAt) ms after move-resume; pause \(move["progress"]?["pauseMillis"]?.int ?? -1) ms; "
               + "\(outcome.acknowledged) writes acknowledged, \(outcome.unknown.count) unknown")
        #expect(outcome.unknown.isEmpty)
    }
}
