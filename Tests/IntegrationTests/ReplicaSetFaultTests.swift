#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import NetIO
import TestSupport

extension Reliability {
    /// Issue 20: a region served by several `scim-region` processes behind one gateway, under a bounded write and
    /// read load of a us tenant (loopback only). One replica is killed with SIGKILL and started again; every replica
    /// is restarted in turn (SIGTERM: it drains, then a new process on the same port); a third replica is added by
    /// editing the regions file and sending SIGHUP, then removed the same way. Only the requests that were in flight
    /// on the killed replica may fail, and they get 503 + Retry-After; everything else is answered 2xx; no
    /// acknowledged write is lost; the eu2 tenant sees nothing; the gateway is never restarted. Every process reaches
    /// PostgreSQL through a multi-host URL whose first host refuses connections (as a Patroni pair's would).
    ///
    /// `SCIM_CHAOS_SCALE` (default 1; `make chaos` raises it) stretches the phases and the thread counts.
    @Suite struct ReplicaSetFaultTests {
        static let scale = FaultTests.scale

        /// One request of the load: who sent it, its id (set by the client, so it is known even without an answer).
        struct Sample: Sendable {
            var requestID: String
            var write: Bool
            var userName: String?
            var exchange: Exchange
        }

        /// Waits until `condition` holds (polling every 50 ms); returns how long that took, nil on timeout.
        static func waitFor(_ timeoutMillis: Int, _ condition: () -> Bool) -> Int? {
            let start = monotonicMillis()
            while monotonicMillis() - start < timeoutMillis {
                if condition() { return monotonicMillis() - start }
                sleepMillis(50)
            }
            return nil
        }

        static func metric(_ d: Deployment, _ series: String) -> Double? {
            guard let text = try? fetchMetrics(port: d.gateways[0].adminPort),
                  let line = text.split(separator: "\n").first(where: { $0.hasPrefix(series + " ") }) else { return nil }
            return Double(line.split(separator: " ").last ?? "")
        }

        static func replicaSeries(_ name: String, _ port: Int) -> String {
            "scim_gateway_replica_\(name){region=\"us\",replica=\"127.0.0.1:\(port)\"}"
        }

        /// Request ids of the gateway's "region call failed" lines for `replica` whose request may have reached it.
        static func inFlightCasualties(_ d: Deployment, replica port: Int) -> Set<String> {
            var ids = Set<String>()
            for line in d.gateways[0].process.log.split(separator: "\n") where line.contains("region call failed") {
                guard let json = try? JSONDecoder.decode(Array(line.utf8)), json["replica"]?.string == "127.0.0.1:\(port)",
                      json["may_have_reached"] == .bool(true), let id = json["request.id"]?.string else { continue }
                ids.insert(id)
            }
            return ids
        }

        @Test func aReplicaKilledRestartedAddedAndRemovedUnderLoad() throws {
            // The replicas drain for 1.5 s on SIGTERM; the gateway probes every 500 ms.
            let d = try Deployment("replicas", cluster: Reliability.cluster, gatewayArguments: ["--health-interval", "500ms"],
                                   regionArguments: ["--drain-delay", "1500ms"], replicas: ["us": 2], multiHostURLs: true)
            defer { d.stop() }
            let gatewayPID = d.gateways[0].process.pid
            let us = try d.createTenant("replicas-us", region: "us")
            let eu = try d.createTenant("replicas-eu", region: "eu2")
            let port = d.gateways[0].port
            let seeded = try #require(SCIMClient(port: port, token: us.token).send(.post, "/scim/v2/Users", body: userBody("seed@rs.example")).0
                .flatMap { try? JSONDecoder.decode($0.body) }?["id"]?.string)
            let euSeeded = try #require(SCIMClient(port: port, token: eu.token).send(.post, "/scim/v2/Users", body: userBody("seed@eu.example")).0
                .flatMap { try? JSONDecoder.decode($0.body) }?["id"]?.string)

            let writers = 3 * Self.scale, readers = 3 * Self.scale
            let samples = Collected<Sample>(), euSamples = Collected<Exchange>()
            let stop = StopFlag()
            let load = background {
                onThreads(writers + readers + 1) { i in
                    if i == writers + readers {
                        let client = SCIMClient(port: port, token: eu.token)
                        while !stop.isRaised {
                            euSamples.append(client.send(.get, "/scim/v2/Users/\(euSeeded)", timeout: .seconds(20)).1)
                            sleepMillis(5)
                        }
                        return
                    }
                    // Each us thread is an IdP connection of its own (keep-alive), paced a little so the machine
                    // keeps up with the restarts.
                    let client = SCIMClient(port: port, token: us.token)
                    var n = 0
                    while !stop.isRaised {
                        n += 1
                        let id = "rs-\(i)-\(n)"
                        if i < writers {
                            let name = "w\(i)-\(n)@rs.example"
                            let exchange = client.send(.post, "/scim/v2/Users", body: userBody(name), headers: [("X-Request-Id", id)],
                                                       timeout: .seconds(20)).1
                            samples.append(Sample(requestID: id, write: true, userName: name, exchange: exchange))
                        } else {
                            let exchange = client.send(.get, "/scim/v2/Users/\(seeded)", headers: [("X-Request-Id", id)],
                                                       timeout: .seconds(20)).1
                            samples.append(Sample(requestID: id, write: false, userName: nil, exchange: exchange))
                        }
                        sleepMillis(2)
                    }
                }
            }
            var joined = false
            defer {
                if !joined {
                    stop.raise()
                    load.join()
                }
            }
            var phases: [(String, Int)] = [("baseline", monotonicMillis())]
            func phase(_ name: String) { phases.append((name, monotonicMillis())) }
            func answers(_ port: Int) -> Double { Self.metric(d, Self.replicaSeries("answers_total", port)) ?? 0 }
            func ready(_ port: Int) -> Bool { Self.metric(d, Self.replicaSeries("up", port)) == 1 }
            let p0 = try #require(d.replicaPort("us", index: 0)), p1 = try #require(d.replicaPort("us", index: 1))
            sleepMillis(1500 * Self.scale)
            #expect(answers(p0) > 0 && answers(p1) > 0, "both replicas serve from the start")

            // kill -9 of one replica: its requests in flight are lost with it; nothing else.
            phase("kill -9")
            let killedAt = monotonicMillis()
            d.stopReplica("us", index: 1, kill: true)
            let markedDown = Self.waitFor(5000) { !ready(p1) }
            sleepMillis(1500 * Self.scale)
            phase("restart after kill")
            try d.startReplica("us", index: 1)
            let backAfter = Self.waitFor(10_000) { ready(p1) }
            #expect(backAfter != nil, "the restarted replica was never probed ready")
            let servedBefore = answers(p1)
            #expect(Self.waitFor(5000) { answers(p1) > servedBefore } != nil, "the restarted replica gets no traffic")

            // Rolling restart, one at a time: SIGTERM (it drains and exits), start again, wait until it is ready.
            phase("rolling restart")
            var rolling: [String] = []
            for index in [0, 1] {
                let p = index == 0 ? p0 : p1
                let began = monotonicMillis()
                d.stopReplica("us", index: index)
                let stoppedAfter = monotonicMillis() - began
                try d.startReplica("us", index: index)
                let readyAfter = Self.waitFor(10_000) { ready(p) }
                #expect(readyAfter != nil, "replica \(index) not ready after its restart")
                let served = answers(p)
                #expect(Self.waitFor(5000) { answers(p) > served } != nil, "replica \(index) gets no traffic after its restart")
                rolling.append("replica \(index): stopped in \(stoppedAfter) ms, ready \(readyAfter ?? -1) ms after start")
            }

            // A third replica: listed in the regions file, SIGHUP; it must get traffic without a gateway restart.
            phase("add replica")
            let third = try d.addReplica("us")
            let p2 = try #require(d.replicaPort("us", index: third))
            d.reloadGateways()
            let trafficAfter = Self.waitFor(10_000) { answers(p2) > 0 }
            #expect(trafficAfter != nil, "the added replica got no traffic")
            sleepMillis(1000 * Self.scale)
            let share = (answers(p0), answers(p1), answers(p2))

            // Removed the same way, then stopped: no request may fail.
            phase("remove replica")
            try d.unlistReplica("us", index: third)
            d.reloadGateways()
            let goneAfter = Self.waitFor(10_000) { Self.metric(d, Self.replicaSeries("up", p2)) == nil }
            #expect(goneAfter != nil, "the removed replica is still in the set")
            d.stopReplica("us", index: third)
            sleepMillis(1000 * Self.scale)
            phase("end")
            stop.raise()
            load.join()
            joined = true

            // Every request was answered; the only failures are requests in flight on the killed replica, which got
            // 503 + Retry-After (the gateway logged each as a call that may have reached that replica).
            let all = samples.all
            let failed = all.filter { !(200...299).contains($0.exchange.status) }
            let casualties = Self.inFlightCasualties(d, replica: p1)
            for sample in failed {
                #expect(sample.exchange.status == 503 && sample.exchange.retryAfter != nil && sample.exchange.scimError,
                        "\(sample.requestID): \(sample.exchange.status) \(sample.exchange.body)")
                #expect(casualties.contains(sample.requestID), "\(sample.requestID) failed but was not in flight on the killed replica")
                #expect(abs(sample.exchange.endMillis - killedAt) < 2000, "\(sample.requestID) failed away from the kill")
            }
            #expect(failed.count <= writers + readers, "more failures (\(failed.count)) than requests that could be in flight")
            #expect(all.count > 200, "the load produced too few requests to mean anything")
            #expect(all.allSatisfy { $0.exchange.latency < 10_000 }, "a request waited 10 s or more")
            // No acknowledged write is missing.
            let acknowledged = Set(all.filter { $0.write && (200...299).contains($0.exchange.status) }.compactMap(\.userName))
            let stored = try FaultTests.storedUserNames(d, region: "us", tenant: us.id)
            #expect(acknowledged.subtracting(stored).isEmpty, "acknowledged writes lost: \(acknowledged.subtracting(stored).count)")
            // The other region's tenant: every request answered 200.
            let euAll = euSamples.all
            #expect(euAll.count > 50 && euAll.allSatisfy { $0.status == 200 }, "eu2: \(Set(euAll.map(\.status)))")
            // The gateway was never restarted; it re-read the file on SIGHUP.
            #expect(d.gateways[0].process.pid == gatewayPID && d.gateways[0].process.isRunning)
            #expect(d.gateways[0].process.log.contains(#""reason":"SIGHUP""#))

            // The figures, per phase (by when a request started).
            var lines: [String] = []
            for (index, (name, start)) in phases.enumerated() where index + 1 < phases.count {
                let end = phases[index + 1].1
                let inPhase = all.filter { $0.exchange.startMillis >= start && $0.exchange.startMillis < end }
                let ok = inPhase.filter { (200...299).contains($0.exchange.status) }
                let latencies = ok.map(\.exchange.latency)
                lines.append("\(name): \(inPhase.count) requests (\(inPhase.filter(\.write).count) writes), "
                             + "failed \(inPhase.count - ok.count), p50 \(percentile(latencies, 50)) ms, p99 \(percentile(latencies, 99)) ms, "
                             + "max \(latencies.max() ?? 0) ms")
            }
            let euLatencies = euAll.map(\.latency)
            report("REPLICAS us x2 (+1), \(writers) writers + \(readers) readers; " + lines.joined(separator: "; "))
            report("REPLICAS kill -9: \(failed.count) failed (all 503 + Retry-After, all in flight on the killed replica; "
                   + "\(casualties.count) logged as such), marked down after \(markedDown ?? -1) ms, back \(backAfter ?? -1) ms after restart")
            report("REPLICAS rolling restart: " + rolling.joined(separator: "; "))
            report("REPLICAS SIGHUP -> first answer from the added replica \(trafficAfter ?? -1) ms; "
                   + "answers so far per replica \(Int(share.0))/\(Int(share.1))/\(Int(share.2)); removed from the set after \(goneAfter ?? -1) ms")
            report("REPLICAS acknowledged writes \(acknowledged.count), stored \(stored.count), lost \(acknowledged.subtracting(stored).count); "
                   + "eu2: \(euAll.count) requests all 200, p99 \(percentile(euLatencies, 99)) ms")
        }
    }
}
