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
    /// Faults under load: a region killed with SIGKILL, PostgreSQL restarted (and crashed), the gateway killed and
    /// restarted. Loopback only; only processes these tests started are signalled, by PID.
    ///
    /// `SCIM_CHAOS_SCALE` (default 1; `make chaos` raises it) stretches the load phases and the thread counts.
    @Suite struct FaultTests {
        static let scale: Int = {
            guard let text = getenv("SCIM_CHAOS_SCALE").map({ String(cString: $0) }), let n = Int(text), n >= 1 else { return 1 }
            return min(n, 50)
        }()

        /// Writes of one writer thread, numbered, until `stop`; each outcome recorded.
        static func writeUsers(_ client: SCIMClient, prefix: String, stop: StopFlag, into log: Collected<(String, Exchange, String?)>) {
            var n = 0
            while !stop.isRaised {
                n += 1
                let name = "\(prefix)-\(n)@fault.example"
                let (response, exchange) = client.send(.post, "/scim/v2/Users", body: userBody(name, externalId: "\(prefix)-\(n)"))
                let id = response.flatMap { try? JSONDecoder.decode($0.body) }?["id"]?.string
                log.append((name, exchange, id))
            }
        }

        /// The userNames stored for a tenant, read as the superuser (what is really in the database).
        static func storedUserNames(_ d: Deployment, region: String, tenant: String) throws -> Set<String> {
            let c = try d.regionAdmin(region)
            let r = try c.query("SELECT user_name FROM users WHERE tenant_id = $1::uuid AND deleted_at IS NULL", [.text(tenant)])
            return Set((0..<r.rowCount).compactMap { r.string(row: $0, column: 0) })
        }

        @Test func killNineOfARegionDuringWritesLosesNoAcknowledgedWrite() throws {
            let d = try Deployment.reliability("fault_kill")
            defer { d.stop() }
            let us = try d.createTenant("kill-us", region: "us")
            let eu = try d.createTenant("kill-eu", region: "eu2")
            let port = d.gateways[0].port
            let writes = Collected<(String, Exchange, String?)>()
            let euReads = Collected<Exchange>()
            let stop = StopFlag()
            let writers = 4 * Self.scale
            let usClient = SCIMClient(port: port, token: us.token), euClient = SCIMClient(port: port, token: eu.token)
            let load = background {
                onThreads(writers + 1) { i in
                    if i == writers {
                        // The other region's tenant: reads and writes must keep succeeding throughout.
                        var n = 0
                        while !stop.isRaised {
                            n += 1
                            if n % 5 == 0 {
                                euReads.append(euClient.send(.post, "/scim/v2/Users", body: userBody("eu-\(n)@fault.example")).1)
                            } else {
                                euReads.append(euClient.send(.get, "/scim/v2/Users?count=5").1)
                            }
                        }
                    } else {
                        Self.writeUsers(usClient, prefix: "w\(i)", stop: stop, into: writes)
                    }
                }
            }
            sleepMillis(800 * Self.scale)
            let killedAt = monotonicMillis()
            d.stopRegion("us", kill: true)
            sleepMillis(500)
            try d.startRegion("us")
            let restartedAt = monotonicMillis()
            // The load goes on until a write begun after the restart is acknowledged (the region's breaker closes at
            // the next good health probe, up to ~1 s after the restart), for at least 800 ms × scale, at most 10 s.
            sleepMillis(800 * Self.scale)
            let waitUntil = monotonicMillis() + 10_000
            while monotonicMillis() < waitUntil,
                  !writes.all.contains(where: { $0.1.status == 201 && $0.1.startMillis > restartedAt }) {
                sleepMillis(50)
            }
            stop.raise()
            load.join()

            let all = writes.all
            let acknowledged = Set(all.filter { (200...299).contains($0.1.status) }.map(\.0))
            let refused = all.filter { !(200...299).contains($0.1.status) }
            let found = try Self.storedUserNames(d, region: "us", tenant: us.id)
            let lost = acknowledged.subtracting(found)
            // Writes whose answer was lost in the crash may or may not have committed; nothing else may appear.
            let unacknowledgedButStored = found.subtracting(acknowledged)
            let attempted = Set(all.map(\.0))
            report("kill-9 region: writes attempted=\(all.count) acknowledged=\(acknowledged.count) found=\(found.count) "
                   + "lost=\(lost.count) stored-without-ack=\(unacknowledgedButStored.count) refused=\(refused.count) "
                   + "other-region requests=\(euReads.all.count) non-2xx=\(euReads.all.filter { !(200...299).contains($0.status) }.count) "
                   + "outage=\(restartedAt - killedAt)ms")
            #expect(lost.isEmpty, "acknowledged writes missing after kill -9: \(lost.sorted().prefix(5))")
            #expect(unacknowledgedButStored.isSubset(of: attempted))
            #expect(acknowledged.count > 20, "the load produced too few writes to mean anything")
            #expect(!refused.isEmpty, "no write was in the outage window")
            // While the region was down the gateway answered 503 with Retry-After (never a hang, never a 500).
            for (_, exchange, _) in refused {
                #expect(exchange.status == 503 && exchange.retryAfter != nil && exchange.scimError, "\(exchange.status) \(exchange.body)")
            }
            // Writes succeed again after the restart.
            #expect(all.contains { $0.1.status == 201 && $0.1.startMillis > restartedAt })
            // The other region never noticed.
            let euStatuses = euReads.all.map(\.status)
            #expect(euStatuses.count > 10)
            #expect(euStatuses.allSatisfy { $0 == 200 || $0 == 201 }, "other region: \(Set(euStatuses))")

            // What the IdP sees is what is stored: the SCIM list equals the rows, and every acknowledged id resolves.
            let listed = try #require(listAllUsers(usClient))
            #expect(Set(listed.map(\.userName)) == found)
            let ids = Dictionary(all.compactMap { w in w.2.map { ($0, w.0) } }, uniquingKeysWith: { a, _ in a })
            for (id, name) in ids where acknowledged.contains(name) {
                #expect(listed.contains { $0.id == id && $0.userName == name })
            }
            // Every stored user kept its email row (the write was one transaction).
            let orphans = try d.regionAdmin("us").query("""
                SELECT count(*) FROM users u WHERE u.tenant_id = $1::uuid
                  AND NOT EXISTS (SELECT 1 FROM user_emails e WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id)
                """, [.text(us.id)])
            #expect(orphans.int(row: 0, column: 0) == 0)
            expectNoSecrets(secretForms([us.token, eu.token], admin: d.adminToken), in: d.logs, place: "process logs")
        }

        /// Runs pg_ctl on a scratch cluster (as its owner when we are root), e.g. `stop -m immediate` to crash it.
        static func pgCtl(_ cluster: PostgresCluster, _ arguments: String) -> Int32 {
            var command = "\(cluster.binDirectory)/pg_ctl \(arguments) -D \(cluster.dataDirectory)"
            if let log = cluster.logFile, arguments.hasPrefix("start") { command += " -l \(log)" }
            if let owner = cluster.owner, getuid() == 0 { command = "/usr/sbin/runuser -u \(owner) -- \(command)" }
            return runShell(command).0
        }

        @Test func postgresRestartAndCrashUnderLoad() throws {
            // The reliability suites' own cluster: restarting and crashing it disturbs no other suite.
            let cluster = try #require(Reliability.cluster)
            let d = try Deployment.reliability("fault_pg")
            defer { d.stop() }
            let us = try d.createTenant("pg-us", region: "us")
            let eu = try d.createTenant("pg-eu", region: "eu2")
            let port = d.gateways[0].port
            let usClient = SCIMClient(port: port, token: us.token), euClient = SCIMClient(port: port, token: eu.token)
            let seeded = usClient.send(.post, "/scim/v2/Users", body: userBody("seed@fault.example")).0
            let seedID = try #require(seeded.flatMap { try? JSONDecoder.decode($0.body) }?["id"]?.string)

            // Phase 1: a fast restart (every session terminated, the server gone for a moment, then back).
            let streams = ["us-write", "us-get", "eu-list", "admin"]
            let logs = streams.map { _ in Collected<Exchange>() }
            let writes = Collected<(String, Exchange, String?)>()
            let stop = StopFlag()
            let admin = SCIMClient(port: d.gateways[0].adminPort, token: d.adminToken)
            let load = background {
                onThreads(streams.count) { i in
                    var n = 0
                    while !stop.isRaised {
                        n += 1
                        switch i {
                        case 0:
                            let name = "p1-\(n)@fault.example"
                            let (response, exchange) = usClient.send(.post, "/scim/v2/Users", body: userBody(name))
                            writes.append((name, exchange, response.flatMap { try? JSONDecoder.decode($0.body) }?["id"]?.string))
                            logs[i].append(exchange)
                        case 1: logs[i].append(usClient.send(.get, "/scim/v2/Users/\(seedID)").1)
                        case 2: logs[i].append(euClient.send(.get, "/scim/v2/Users?count=3").1)
                        default: logs[i].append(admin.send(.get, "/admin/v1/tenants").1)
                        }
                        sleepMillis(5)
                    }
                }
            }
            sleepMillis(600)
            let restartBegan = monotonicMillis()
            try cluster.restart()
            let readyAt = monotonicMillis()
            sleepMillis(2300 * Self.scale)
            stop.raise()
            load.join()

            for (i, name) in streams.enumerated() {
                let exchanges = logs[i].all
                let failures = exchanges.filter { !(200...299).contains($0.status) }
                let recovered = exchanges.filter { (200...299).contains($0.status) && $0.startMillis >= readyAt }.map(\.endMillis).min()
                let recovery = recovered.map { $0 - readyAt }
                report("postgres restart [\(name)]: requests=\(exchanges.count) 503s=\(failures.filter { $0.status == 503 }.count) "
                       + "other-failures=\(failures.filter { $0.status != 503 }.count) max-latency=\(exchanges.map(\.latency).max() ?? 0)ms "
                       + "restart took=\(readyAt - restartBegan)ms recovered \(recovery.map { "\($0)ms" } ?? "never") after the server was back")
                // Outage answers are 503 + Retry-After (SCIM error on the SCIM listener), never a hang or a 500.
                for f in failures {
                    #expect(f.status == 503 && f.retryAfter != nil, "[\(name)] \(f.status) \(f.body.prefix(200))")
                    if name != "admin" { #expect(f.scimError, "[\(name)] \(f.body.prefix(200))") }
                }
                #expect(exchanges.map(\.latency).max() ?? 0 < 6000, "[\(name)] a request hung")
                // Recovered within 2 s of PostgreSQL accepting connections again, and no failure after that.
                #expect(recovery != nil && recovery! <= 2000, "[\(name)] recovery \(recovery ?? -1) ms")
                #expect(failures.allSatisfy { $0.startMillis < readyAt + 2000 }, "[\(name)] failures 2 s after the restart")
            }
            #expect(d.gateways[0].process.isRunning)
            for id in d.regionIDs { #expect(d.regionProcesses[id]!.isRunning, "region \(id) crashed") }

            // Phase 2: PostgreSQL crashes (immediate shutdown: no checkpoint, recovery from WAL on start) under writes.
            let crashWrites = Collected<(String, Exchange, String?)>()
            let stop2 = StopFlag()
            let writers = background {
                onThreads(3) { i in Self.writeUsers(usClient, prefix: "crash\(i)", stop: stop2, into: crashWrites) }
            }
            sleepMillis(500)
            #expect(Self.pgCtl(cluster, "stop -m immediate -w -t 30") == 0)
            let crashedAt = monotonicMillis()
            sleepMillis(300)
            #expect(Self.pgCtl(cluster, "start -w -t 60") == 0)
            let backAt = monotonicMillis()
            sleepMillis(1500 * Self.scale)
            stop2.raise()
            writers.join()
            let all = crashWrites.all + writes.all
            let acknowledged = Set(all.filter { (200...299).contains($0.1.status) }.map(\.0))
            let found = try Self.storedUserNames(d, region: "us", tenant: us.id)
            let lost = acknowledged.subtracting(found)
            let firstSuccess = crashWrites.all.filter { $0.1.status == 201 && $0.1.startMillis >= backAt }.map(\.1.endMillis).min()
            report("postgres crash (immediate stop): writes=\(crashWrites.all.count) acknowledged(both phases)=\(acknowledged.count) "
                   + "found=\(found.subtracting(["seed@fault.example"]).count) lost=\(lost.count) down=\(backAt - crashedAt)ms "
                   + "first write ok \(firstSuccess.map { "\($0 - backAt)ms" } ?? "never") after the server was back")
            #expect(lost.isEmpty, "acknowledged writes lost in a PostgreSQL crash: \(lost.sorted().prefix(5))")
            #expect(firstSuccess != nil && firstSuccess! - backAt <= 2000)
            for w in crashWrites.all where !(200...299).contains(w.1.status) {
                #expect(w.1.status == 503 && w.1.retryAfter != nil, "\(w.1.status) \(w.1.body.prefix(200))")
            }
            #expect(d.gateways[0].process.isRunning)
            for id in d.regionIDs { #expect(d.regionProcesses[id]!.isRunning, "region \(id) crashed") }
            expectNoSecrets(secretForms([us.token, eu.token], admin: d.adminToken), in: d.logs + (cluster.logFile.flatMap(readTextFile) ?? ""),
                            place: "process and PostgreSQL logs")
        }

        @Test func gatewayKilledAndRestartedLosesNoTenantOrToken() throws {
            let d = try Deployment.reliability("fault_gw")
            defer { d.stop() }
            // A control plane with some history: extra tokens, a rotation in its grace window, a revocation, a
            // deactivated integration.
            var live: [(tenant: String, token: String)] = []
            for i in 0..<4 {
                let t = try d.createTenant("gw-\(i)", region: i % 2 == 0 ? "us" : "eu2")
                live.append((t.id, t.token))
                #expect(try d.scim(.post, "/scim/v2/Users", token: t.token, body: userBody("u\(i)@gw.example")).status.code == 201)
            }
            let (_, second) = try d.admin(.post, "/admin/v1/tenants/\(live[0].tenant)/tokens", ["label": "second"])
            let secondToken = try #require(second?["token"]?.string)
            let (_, listed) = try d.admin(.get, "/admin/v1/tenants/\(live[1].tenant)/tokens")
            let rotatedID = try #require(listed?["tokens"]?[0]?["id"]?.string)
            let (_, rotation) = try d.admin(.post, "/admin/v1/tenants/\(live[1].tenant)/tokens/\(rotatedID)/rotate", ["graceSeconds": 3600])
            let rotatedNew = try #require(rotation?["token"]?["token"]?.string)
            let (_, issued) = try d.admin(.post, "/admin/v1/tenants/\(live[2].tenant)/tokens", ["label": "doomed"])
            let revoked = try #require(issued?["token"]?.string)
            let revokedID = try #require(issued?["id"]?.string)
            #expect(try d.admin(.post, "/admin/v1/tenants/\(live[2].tenant)/tokens/\(revokedID)/revoke").0 == 200)
            #expect(try d.admin(.post, "/admin/v1/tenants/\(live[3].tenant)/integration/deactivate").0 == 200)

            // Tenants are created while the gateway is killed with SIGKILL.
            let created = Collected<(name: String, status: Int, id: String?, token: String?)>()
            let stop = StopFlag()
            let adminClient = SCIMClient(port: d.gateways[0].adminPort, token: d.adminToken)
            let load = background {
                var n = 0
                while !stop.isRaised {
                    n += 1
                    let name = "burst-\(n)"
                    let body: JSONValue = ["name": .string(name), "region": .string(n % 2 == 0 ? "us" : "eu2")]
                    let (response, exchange) = adminClient.send(.post, "/admin/v1/tenants", body: body,
                                                                headers: [("Content-Type", "application/json")], timeout: .seconds(10))
                    let json = response.flatMap { try? JSONDecoder.decode($0.body) }
                    created.append((name, exchange.status, json?["tenant"]?["id"]?.string, json?["token"]?["token"]?.string))
                    if exchange.status == 0 { break }
                }
            }
            sleepMillis(700 * Self.scale)
            d.gateways[0].process.signal(SIGKILL)
            d.gateways[0].process.wait(timeoutMillis: 5000)
            stop.raise()
            load.join()
            let next = try d.startGateway()

            let acknowledged = created.all.filter { $0.status == 201 }
            #expect(acknowledged.count >= 3, "too few tenants created before the kill")
            let (status, tenants) = try d.admin(.get, "/admin/v1/tenants", gateway: next)
            #expect(status == 200)
            let names = Set(tenants?["tenants"]?.array?.compactMap { $0["name"]?.string } ?? [])
            var lostTenants = 0, lostTokens = 0
            for t in acknowledged {
                if !names.contains(t.name) { lostTenants += 1 }
                guard let token = t.token else { lostTokens += 1; continue }
                if try d.scim(.get, "/scim/v2/Users", token: token, gateway: next).status.code != 200 { lostTokens += 1 }
            }
            // Earlier tenants, tokens and lifecycle states, through the new process.
            for (i, t) in live.enumerated() where i != 3 {
                if try d.scim(.get, "/scim/v2/Users", token: t.token, gateway: next).status.code != 200 { lostTokens += 1 }
            }
            #expect(try d.scim(.get, "/scim/v2/Users", token: secondToken, gateway: next).status.code == 200)
            #expect(try d.scim(.get, "/scim/v2/Users", token: rotatedNew, gateway: next).status.code == 200)
            #expect(try d.scim(.get, "/scim/v2/Users", token: revoked, gateway: next).status.code == 401)
            let off = try d.scim(.get, "/scim/v2/Users", token: live[3].token, gateway: next)
            #expect(off.status.code == 401)
            #expect(json(off)?["detail"]?.string?.contains("integration deactivated") == true)
            let users = json(try d.scim(.get, "/scim/v2/Users", token: live[0].token, gateway: next))
            #expect(users?["Resources"]?[0]?["userName"]?.string == "u0@gw.example")

            // And a graceful restart (SIGTERM) of the new gateway loses nothing either.
            #expect(d.gateways[next].process.stop() == 0)
            let third = try d.startGateway()
            for t in acknowledged.prefix(5) {
                #expect(try d.scim(.get, "/scim/v2/Users", token: t.token ?? "", gateway: third).status.code == 200)
            }
            #expect(try d.scim(.get, "/scim/v2/Users", token: live[1].token, gateway: third).status.code == 200)
            // Every tenant the control plane knows is provisioned in its home region. (The reverse may not hold: a
            // create killed between provisioning the region and committing leaves an empty region tenant behind.)
            let control = try PostgresConnection(configuration: d.control.adminConfiguration)
            let known = try control.query("SELECT id::text, home_region FROM tenants WHERE deleted_at IS NULL")
            var unprovisioned = 0, orphans = 0
            for region in d.regionIDs {
                let rows = try d.regionAdmin(region).query("SELECT id::text FROM tenants")
                let provisioned = Set((0..<rows.rowCount).compactMap { rows.string(row: $0, column: 0) })
                let home = Set((0..<known.rowCount).filter { known.string(row: $0, column: 1) == region }
                    .compactMap { known.string(row: $0, column: 0) })
                unprovisioned += home.subtracting(provisioned).count
                orphans += provisioned.subtracting(home).count
            }
            report("gateway kill -9 + restart: tenants created before the kill=\(acknowledged.count) "
                   + "tenants lost=\(lostTenants) tokens lost=\(lostTokens) (plus 4 earlier tenants, 3 extra tokens checked); "
                   + "control-plane tenants missing in their region=\(unprovisioned), region tenants without a control-plane row=\(orphans)")
            #expect(lostTenants == 0 && lostTokens == 0)
            #expect(unprovisioned == 0)
            let tokens = [secondToken, rotatedNew, revoked] + live.map(\.token) + acknowledged.compactMap(\.token)
            expectNoSecrets(secretForms(tokens, admin: d.adminToken), in: d.logs, place: "process logs")
        }
    }
}
