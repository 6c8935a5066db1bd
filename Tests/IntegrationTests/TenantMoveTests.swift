#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import NetIO
import Postgres
import Synchronization
import TestSupport

extension Reliability {
    /// Moving a tenant between regions with real processes (docs/residency.md): a tenant loaded with SQL into us,
    /// an IdP-like writer creating, patching and deleting through the gateway the whole time, a neighbour tenant in
    /// us writing too. `make test` runs it with 10,000 users, 200 groups and a 5,000-member group;
    /// `make test-move-scale` (SCIM_MOVE_SCALE=full) with the issue's 100,000 users, 1,000 groups and a 20,000-member
    /// group. Measured figures are printed with the `RELIABILITY` prefix.
    @Suite struct TenantMoveTests {
        static let full = getenv("SCIM_MOVE_SCALE").map { String(cString: $0) } == "full"
        static let users = full ? 100_000 : 10_000
        static let groups = full ? 1_000 : 200
        static let bigGroup = full ? 20_000 : 5_000

        /// Role rules (the big group "Group 1" gives admin, everyone else member) and a profile field, recomputed to
        /// the end before the move starts.
        static func configureDirectory(_ d: Deployment, _ tenant: String) throws {
            let base = "/admin/v1/tenants/\(tenant)/"
            #expect(try d.admin(.put, base + "roles", ["roles": [["key": "admin"], ["key": "member"]],
                                                       "rules": [["group": ["displayName": "Group 1"], "role": "admin"]],
                                                       "defaultRole": "member"]).0 == 200)
            #expect(try d.admin(.put, base + "attribute-mapping", ["fields": [["name": "login", "sources": ["userName"]]]]).0 == 200)
            let deadline = monotonicMillis() + 120_000
            while monotonicMillis() < deadline {
                let roles = try d.admin(.get, base + "roles").1?["recompute"]?["state"]?.string
                let mapping = try d.admin(.get, base + "attribute-mapping").1?["recompute"]?["state"]?.string
                if roles == "done" && mapping == "done" { return }
                usleep(100_000)
            }
            Issue.record("the recompute before the move did not finish")
        }

        /// After the move, in the target: loaded users keep their roles and profile, a user the IdP created during
        /// the move has the default role, and a rule change is taken there (the fence is gone).
        static func expectDirectory(_ d: Deployment, _ tenant: String, _ outcome: IdPWriter.Outcome) throws {
            let base = "/admin/v1/tenants/\(tenant)/"
            func user(_ id: String) throws -> JSONValue? { try d.admin(.get, base + "users/\(id)").1 }
            let first = try user(TenantLoad.userID(1)), last = try user(TenantLoad.userID(users))
            #expect(first?["effectiveRoles"] == ["admin"] && last?["effectiveRoles"] == ["member"], "\(first ?? .null) \(last ?? .null)")
            #expect(first?["profile"]?["login"]?.string == "user1@example.com", "\(first?["profile"] ?? .null)")
            if let created = outcome.creates.keys.first(where: { !outcome.deleted.contains($0) && !outcome.unknown.contains($0) }) {
                #expect(try user(created)?["effectiveRoles"] == ["member"])
            }
            let (status, _) = try d.admin(.put, base + "roles", ["roles": [["key": "admin"], ["key": "member"]],
                                                                 "rules": [["group": ["displayName": "Group 2"], "role": "admin"]],
                                                                 "defaultRole": "member"])
            #expect(status == 200, "a rule change is taken in the target region")
        }

        @Test func aTenantMovesToAnotherRegionWhileItsIdPKeepsWriting() throws {
            let d = try Deployment.reliability("move", gatewayArguments: ["--move-lease", "3s"])
            defer { d.stop() }
            let acme = try d.createTenant("acme", region: "us")
            let neighbour = try d.createTenant("neighbour", region: "us")
            var t0 = monotonicMillis()
            try TenantLoad.load(d, region: "us", tenant: acme.id, users: Self.users, groups: Self.groups, bigGroupMembers: Self.bigGroup)
            report("move load: \(Self.users) users, \(Self.groups) groups, a \(Self.bigGroup)-member group in \(monotonicMillis() - t0) ms")
            // The app's view of the directory (issue 18) moves with it: roles and mapped profiles, computed in us.
            try Self.configureDirectory(d, acme.id)
            // The operator app's events cursor before the move: it must keep working in eu2 afterwards.
            let (_, now) = try d.admin(.get, "/admin/v1/tenants/\(acme.id)/events?after=now")
            let cursor = try #require(now?["next"]?.string)
            let before = try tenantRows(d, region: "us", tenant: acme.id)

            let writer = IdPWriter(port: d.gateways[0].port, token: acme.token)
            writer.start(loaded: Self.users, prefix: "move")
            let other = IdPWriter(port: d.gateways[0].port, token: neighbour.token, threads: 1)
            other.start(loaded: 0, prefix: "neighbour")
            usleep(500_000)
            t0 = monotonicMillis()
            let (status, started) = try d.admin(.post, "/admin/v1/tenants/acme/move", .object(["to": "eu2"]))
            #expect(status == 202, "\(started.map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "")")
            #expect(started?["state"]?.string == "preparing")
            let (again, _) = try d.admin(.post, "/admin/v1/tenants/acme/move", .object(["to": "eu2"]))
            #expect(again == 409, "one move at a time")
            let (deleted, _) = try d.admin(.delete, "/admin/v1/tenants/acme")
            #expect(deleted == 409, "a tenant is not deleted while it moves")
            let finished = try d.waitForMove(acme.id, timeoutSeconds: 900) { ["done", "aborted", "failed"].contains($0) }
            let moveMillis = monotonicMillis() - t0
            usleep(1_000_000)  // the IdP goes on writing, now to eu2
            let outcome = writer.finish(), neighbourOutcome = other.finish()

            #expect(finished["state"]?.string == "done", "\(String(decoding: finished.encoded(), as: UTF8.self))")
            let progress = finished["progress"]
            let pause = progress?["pauseMillis"]?.int ?? -1
            let pausedSpan = outcome.paused.isEmpty ? 0 : outcome.paused.map(\.end).max()! - outcome.paused.map(\.start).min()!
            report("move of \(Self.users) users: \(moveMillis) ms in all; copy \(progress?["copyMillis"]?.int ?? -1) ms over \(progress?["rounds"]?.int ?? -1) rounds, "
                   + "\(progress?["rowsCopied"]?.int ?? -1) rows; final catch-up \(progress?["catchUpMillis"]?.int ?? -1) ms in \(progress?["finalRounds"]?.int ?? -1) rounds; "
                   + "pause \(pause) ms (the IdP saw 503s over \(pausedSpan) ms, \(outcome.paused.count) of them); \(outcome.acknowledged) writes acknowledged")
            #expect(pause >= 0 && pause <= 5_000, "the write pause must stay within 5 s")
            #expect(pausedSpan <= 5_000)
            #expect(outcome.otherFailures.isEmpty, "\(outcome.otherFailures.prefix(5))")
            #expect(outcome.unknown.isEmpty, "every write got an answer")
            #expect(outcome.acknowledged > 20)

            // us holds nothing of the tenant; eu2 holds every row us had before that the IdP did not touch, unchanged,
            // and every write the IdP was told succeeded, exactly once.
            try expectMovedEndState(d, tenant: acme.id, from: "us", to: "eu2", before: before, outcome)
            // The request log moved with the tenant: the records of the IdP's creates are in eu2 (those answered by us
            // before the freeze were copied, the later ones written there), none left in us. (Records of requests
            // us answered during the pause, and of a batch still queued when the freeze came, are not kept:
            // docs/residency.md.)
            let logged = try d.regionAdmin("eu2").query(
                "SELECT count(*) FROM request_log WHERE tenant_id = $1::uuid AND method = 'POST' AND status = 201", [.uuid(acme.id)]).int(row: 0, column: 0) ?? 0
            report("move: \(logged) request-log records of the IdP's \(outcome.creates.count) acknowledged creates are in eu2")
            #expect(Int(logged) >= outcome.creates.count * 9 / 10 && Int(logged) <= outcome.creates.count)
            // The neighbour in us never noticed.
            #expect(neighbourOutcome.paused.isEmpty && neighbourOutcome.otherFailures.isEmpty && neighbourOutcome.unknown.isEmpty)
            try expectWritesApplied(d, region: "us", tenant: neighbour.id, neighbourOutcome)

            // The operator app's cursor from before the move reads on in eu2: every acknowledged create once.
            var created: [String: Int] = [:]
            var ids = Set<String>()
            var after_ = cursor
            while true {
                let (s, page) = try d.admin(.get, "/admin/v1/tenants/\(acme.id)/events?after=\(after_)&limit=1000")
                #expect(s == 200)
                for e in page?["events"]?.array ?? [] {
                    let fresh = ids.insert(e["id"]?.string ?? "").inserted
                    #expect(fresh, "event delivered twice")
                    if e["type"]?.string == "user.created", let id = e["data"]?["user"]?["id"]?.string { created[id, default: 0] += 1 }
                }
                guard page?["hasMore"]?.bool == true, let next = page?["next"]?.string else { break }
                after_ = next
            }
            for id in outcome.creates.keys { #expect(created[id] == 1, "user.created of \(id) seen \(created[id] ?? 0) times after the cursor") }

            // Roles and profiles read on in eu2, for the loaded users and the IdP's own, and follow new writes there.
            try Self.expectDirectory(d, acme.id, outcome)

            // The IdP's next call on the old host gets 421 with the new base URL (region-locked credentials).
            let strict = try d.startGateway(extraArguments: ["--strict-hosts"])
            let old = try d.scim(.get, "/scim/v2/Users?count=1", token: acme.token, host: "api.example.com", gateway: strict)
            #expect(old.status.code == 421)
            #expect(old.bodyText.contains("https://eu2-api.example.com/scim/v2"))
            let new = try d.scim(.get, "/scim/v2/Users?count=1", token: acme.token, host: "eu2-api.example.com", gateway: strict)
            #expect(new.status.code == 200)
            #expect(new.headers["X-Scim-Region"] == "eu2")

            // The residency report: home eu2, rows only there, the move with its pause, the audit trail.
            let (rs, residency) = try d.admin(.get, "/admin/v1/tenants/acme/residency")
            #expect(rs == 200)
            #expect(residency?["homeRegion"]?.string == "eu2")
            let regions = residency?["regions"]?.array ?? []
            #expect(regions.first { $0["region"]?.string == "us" }?["totalRows"]?.int == 0)
            #expect((regions.first { $0["region"]?.string == "eu2" }?["totalRows"]?.int ?? 0) > Self.users)
            #expect(regions.first { $0["region"]?.string == "eu2" }?["database"]?["name"]?.string == "scim_eu2")
            #expect(residency?["moves"]?[0]?["state"]?.string == "done" && residency?["moves"]?[0]?["sourceResidue"]?.int == 0)
            #expect(residency?["requestLog"]?["storedIn"]?.string == "eu2")
            #expect(residency?["requestLog"]?["rowsByRegion"]?["us"]?.int == 0)
            #expect((residency?["requestLog"]?["rowsByRegion"]?["eu2"]?.int ?? 0) >= Int(logged))
            let actions = Set((residency?["auditTrail"]?.array ?? []).compactMap { $0["action"]?.string })
            for step in ["request", "copying", "frozen", "activating", "cut_over", "purging", "done"] {
                #expect(actions.contains("tenant.move.\(step)"), "audit trail lacks tenant.move.\(step)")
            }
            #expect(!String(decoding: (residency ?? .null).encoded(), as: UTF8.self).contains("password"))
            // Who processed its requests: from the request log (now in eu2), per region and per scim-region process
            // (`<region>/<host>/<pid>`): the us process before the freeze (records copied with the tenant), the eu2
            // process after; data held in eu2 only.
            let processing = residency?["processing"]
            #expect(processing?["dataHeldIn"]?.array?.compactMap(\.string) == ["eu2"])
            func processes(_ p: JSONValue?, _ region: String) -> [String] {
                (p?["byRegion"]?.array ?? []).first { $0["region"]?.string == region }?["processes"]?.array?.compactMap { $0["process"]?.string } ?? []
            }
            let usPID = d.regionProcesses["us"]!.pid, eu2PID = d.regionProcesses["eu2"]!.pid
            #expect(processes(processing, "us").contains { $0.hasPrefix("us/") && $0.hasSuffix("/\(usPID)") }, "\(processing.map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "")")
            #expect(processes(processing, "eu2").contains { $0.hasPrefix("eu2/") && $0.hasSuffix("/\(eu2PID)") })
            #expect((processing?["total"]?.int ?? 0) >= Int(logged))
            // A window after the cut-over: only eu2 processed requests.
            let cutOver = try #require(finished["cutOverAt"]?.string)
            let (ws, windowed) = try d.admin(.get, "/admin/v1/tenants/acme/residency?since=\(cutOver)")
            #expect(ws == 200)
            #expect(processes(windowed?["processing"], "us").isEmpty && !processes(windowed?["processing"], "eu2").isEmpty,
                    "\(windowed?["processing"].map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "")")
            #expect(windowed?["processing"]?["since"]?.string == cutOver)
            // A window before the move: only us.
            let (_, early) = try d.admin(.get, "/admin/v1/tenants/acme/residency?until=\(try #require(finished["createdAt"]?.string))")
            #expect(!processes(early?["processing"], "us").isEmpty && processes(early?["processing"], "eu2").isEmpty)
            let (bad, _) = try d.admin(.get, "/admin/v1/tenants/acme/residency?since=yesterday")
            #expect(bad == 400)
            let (unknown, _) = try d.admin(.get, "/admin/v1/tenants/acme/residency?from=now")
            #expect(unknown == 400)
        }

        /// `kill -9` of the gateway that runs the mover while it copies: the move stands still (the IdP, served by
        /// another gateway replica, goes on writing to us), the restarted gateway claims it once the lease has run
        /// out, with a higher epoch, and finishes it to the same end state. The tenant deletes for real (policy
        /// hard): rows that vanish from the source leave nothing a catch-up scan finds; the row counts under the
        /// freeze must catch them.
        @Test func aMoveResumesAfterItsGatewayIsKilledMidCopy() throws {
            let d = try Deployment.reliability("move-crash", gatewayArguments: ["--move-lease", "3s"])
            defer { d.stop() }
            // Gateway 0 runs the mover; gateway 1 runs none and carries the IdP's and the operator's calls.
            let serving = try d.startGateway(extraArguments: ["--move-workers", "0"])
            let acme = try d.createTenant("acme", region: "us", policy: "hard")
            try TenantLoad.load(d, region: "us", tenant: acme.id, users: Self.users, groups: Self.groups, bigGroupMembers: Self.bigGroup)
            let before = try tenantRows(d, region: "us", tenant: acme.id)
            let writer = IdPWriter(port: d.gateways[serving].port, token: acme.token)
            writer.start(loaded: Self.users, prefix: "crash")
            usleep(300_000)
            let t0 = monotonicMillis()
            let (status, _) = try d.admin(.post, "/admin/v1/tenants/\(acme.id)/move", .object(["to": "eu2"]), gateway: serving)
            #expect(status == 202)
            // Mid-copy: the first users have reached eu2.
            var copiedAtKill = 0
            let deadline = monotonicMillis() + 120_000
            while copiedAtKill == 0 && monotonicMillis() < deadline {
                copiedAtKill = try d.userRows("eu2", acme.id)
                if copiedAtKill == 0 { usleep(2_000) }
            }
            d.killGateway(0)
            let killedAt = monotonicMillis()
            let atKill = try d.move(acme.id, gateway: serving)
            #expect(copiedAtKill > 0)
            #expect(atKill["state"]?.string == "copying", "killed mid-copy: \(atKill["state"]?.string ?? "-")")
            let firstOwner = atKill["owner"]?.string
            let firstEpoch = atKill["epoch"]?.int ?? 0
            // Nobody else runs movers: after the lease has run out, the move still stands where the crash left it.
            usleep(4_000_000)
            let stalled = try d.move(acme.id, gateway: serving)
            #expect(stalled["state"]?.string == "copying" && stalled["epoch"]?.int == firstEpoch)
            #expect(try d.fenceRows("us", acme.id) == 1 && d.fenceRows("eu2", acme.id) == 1, "the fences stay while the move waits")

            try d.restartGateway(0)
            let finished = try d.waitForMove(acme.id, timeoutSeconds: 600, gateway: serving) { ["done", "aborted", "failed"].contains($0) }
            let resumedMillis = monotonicMillis() - killedAt
            usleep(500_000)
            let outcome = writer.finish()
            #expect(finished["state"]?.string == "done", "\(String(decoding: finished.encoded(), as: UTF8.self))")
            #expect((finished["epoch"]?.int ?? 0) > firstEpoch, "the restarted gateway's claim raised the epoch")
            let progress = finished["progress"]
            report("move resumed after kill -9 of its gateway mid-copy (\(copiedAtKill) users in eu2 at the kill): done \(resumedMillis) ms after the kill "
                   + "(\(monotonicMillis() - t0) ms in all, lease 3 s); pause \(progress?["pauseMillis"]?.int ?? -1) ms; "
                   + "\(progress?["rowsCopied"]?.int ?? -1) rows copied; \(outcome.acknowledged) writes acknowledged, \(outcome.unknown.count) unknown")
            #expect((progress?["pauseMillis"]?.int ?? 99_999) <= 5_000)
            #expect(outcome.unknown.isEmpty && outcome.otherFailures.isEmpty, "\(outcome.otherFailures.prefix(3))")
            #expect(!outcome.deleted.isEmpty, "the IdP deleted users during the move")
            try expectMovedEndState(d, tenant: acme.id, from: "us", to: "eu2", before: before, outcome, hardDeletes: true)
            // Audited: two claims, the second one a takeover from the killed process, and every step once.
            let audit = try d.moveAudit(acme.id, gateway: serving)
            let claims = audit.filter { $0.action == "tenant.move.claim" }
            #expect(claims.count == 2, "\(claims.map(\.detail))")
            #expect(claims.last?.detail["takenOverFrom"]?.string == firstOwner && firstOwner != nil)
            #expect(claims.last?.detail["state"]?.string == "copying")
            for step in ["request", "copying", "frozen", "activating", "cut_over", "purging", "done"] {
                #expect(audit.filter { $0.action == "tenant.move.\(step)" }.count == 1, "tenant.move.\(step)")
            }
        }

        /// An abort before the cut-over, driven with scimctl: the source stays exactly as it was plus the IdP's
        /// writes, which went on throughout; the target holds nothing; no fence is left; a new move then succeeds.
        @Test func anAbortedMoveLeavesTheSourceIntactAndScimctlDrivesMoves() throws {
            let d = try Deployment.reliability("move-abort", gatewayArguments: ["--move-lease", "3s"])
            defer { d.stop() }
            let acme = try d.createTenant("acme", region: "us")
            try TenantLoad.load(d, region: "us", tenant: acme.id, users: Self.users, groups: Self.groups, bigGroupMembers: Self.bigGroup)
            let before = try tenantRows(d, region: "us", tenant: acme.id)
            let writer = IdPWriter(port: d.gateways[0].port, token: acme.token)
            writer.start(loaded: Self.users, prefix: "abort")
            usleep(300_000)

            let (started, startOutput) = try d.scimctl(["tenant", "move", "acme", "--to", "eu2"])
            #expect(started == 0 && startOutput.contains("us → eu2") && startOutput.contains("state=preparing"), "\(startOutput)")
            let (_, usage) = try d.scimctl(["tenant", "move", "acme"])
            #expect(usage.contains("--to"), "\(usage)")
            let (again, againOutput) = try d.scimctl(["tenant", "move", "acme", "--to", "eu2"])
            #expect(again != 0 && againOutput.contains("in progress"), "one move at a time: \(againOutput)")
            var copied = 0
            let deadline = monotonicMillis() + 120_000
            while copied == 0 && monotonicMillis() < deadline {
                copied = try d.userRows("eu2", acme.id)
                if copied == 0 { usleep(2_000) }
            }
            #expect(copied > 0)
            let (statusExit, statusOutput) = try d.scimctl(["tenant", "move-status", "acme"])
            #expect(statusExit == 0 && statusOutput.contains("state=copying"), "\(statusOutput)")
            let abortStarted = monotonicMillis()
            let (aborted, abortOutput) = try d.scimctl(["tenant", "move-abort", "acme", "--follow"])
            let abortMillis = monotonicMillis() - abortStarted
            #expect(aborted == 0, "move-abort --follow exits 0 once the move is aborted: \(abortOutput)")
            #expect(abortOutput.contains("(abort requested)") && abortOutput.contains("state=aborted"), "\(abortOutput)")
            let move = try d.move(acme.id)
            #expect(move["state"]?.string == "aborted" && move["cutOverAt"]?.isNull == true)
            let (late, _) = try d.admin(.post, "/admin/v1/tenants/acme/move/abort")
            #expect(late == 404, "nothing left to abort")
            usleep(500_000)  // the IdP goes on writing to us
            let outcome = writer.finish()
            report("move aborted with scimctl \(copied) users into the copy: aborted \(abortMillis) ms after the request; "
                   + "\(outcome.acknowledged) writes acknowledged meanwhile")

            // The source: still home, every row from before that the IdP did not touch unchanged, every acknowledged
            // write applied once; eu2 holds nothing of the tenant; no fence anywhere.
            let (_, tenant) = try d.admin(.get, "/admin/v1/tenants/\(acme.id)")
            #expect(tenant?["region"]?.string == "us")
            let now = try tenantRows(d, region: "us", tenant: acme.id)
            for (table, rows) in before where table != "events" {
                let touched = table == "users" ? outcome.touchedLoaded : []
                let missing = rows.filter { row in !now[table, default: []].contains(row) && !touched.contains { row.contains($0) } }
                #expect(missing.count == 0, "\(table): \(missing.count) of \(rows.count) rows changed in us by the aborted move")
            }
            #expect(before["events"]?.isSubset(of: now["events"] ?? []) == true, "no event of the source lost")
            try expectWritesApplied(d, region: "us", tenant: acme.id, outcome)
            #expect(outcome.unknown.isEmpty && outcome.otherFailures.isEmpty, "\(outcome.otherFailures.prefix(3))")
            for (table, rows) in try tenantRows(d, region: "eu2", tenant: acme.id) {
                #expect(rows.count == 0, "eu2 still holds \(rows.count) rows of the aborted tenant in \(table)")
            }
            #expect(try d.fenceRows("us", acme.id) == 0 && d.fenceRows("eu2", acme.id) == 0)
            let actions = try d.moveAudit(acme.id).map(\.action)
            for step in ["request", "abort_requested", "aborting", "aborted"] { #expect(actions.contains("tenant.move.\(step)"), "\(actions)") }
            #expect(!actions.contains("tenant.move.cut_over"))

            // A new move after the abort, followed with scimctl to its end; then the report in scimctl.
            let (moved, moveOutput) = try d.scimctl(["tenant", "move", "acme", "--to", "eu2", "--follow"], timeoutMillis: 300_000)
            #expect(moved == 0 && moveOutput.contains("state=done") && moveOutput.contains("sourceRowsLeft=0"), "\(moveOutput)")
            let (_, residency) = try d.scimctl(["tenant", "residency", "acme"])
            #expect(residency.contains("home region: eu2"), "\(residency)")
            #expect(residency.contains("us → eu2  done") && residency.contains("us → eu2  aborted"), "\(residency)")
            #expect(residency.contains("source verified empty"))
            #expect(residency.contains("request log: stored in eu2 only") && residency.contains("us=0"), "\(residency)")
            // The IdP wrote only while the tenant was in us (it stopped before the second move): us processed its
            // requests, eu2 none yet, though eu2 now holds the data and the records.
            #expect(residency.contains("region us: ") && !residency.contains("region eu2: ") && residency.contains("data held in: eu2"), "\(residency)")
            let (_, windowed) = try d.scimctl(["tenant", "residency", "acme", "--since", "2100-01-01T00:00:00Z"])
            #expect(windowed.contains("requests processed 2100-01-01T00:00:00Z to now") && !windowed.contains("region us: "), "\(windowed)")
            let scim = try d.scim(.get, "/scim/v2/Users/\(TenantLoad.userID(5))", token: acme.token)
            #expect(scim.status.code == 200 && scim.headers["X-Scim-Region"] == "eu2")
        }
    }
}
