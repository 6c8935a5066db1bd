#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import NetIO
import Synchronization
import TestSupport

extension Reliability {
    /// Issue 14: one region's fault never reaches another region's tenants. Real processes on loopback: the us
    /// region hangs (its process stopped with SIGSTOP, its PostgreSQL stopped with SIGSTOP, or a backend that
    /// accepts TCP and never answers) while 100 connections of a us tenant keep calling; the eu2 tenant must keep
    /// getting 200s at its usual latency, new us requests must get 503 + Retry-After fast, the region must serve
    /// again soon after it resumes, and no request may be left without an answer.
    @Suite struct DataPlaneFaultTests {
        /// What one run measured.
        struct Outcome {
            var quietBefore: [Exchange]
            var quietDuring: [Exchange]
            var noisy: [Exchange]
            var probesDuring: [Exchange]
            var faultAt: Int
            var resumedAt: Int?
            var firstSuccessAfterResume: Int?
        }

        static func p99(_ exchanges: [Exchange]) -> Int {
            let sorted = exchanges.map(\.latency).sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
        }

        /// Runs the load, injects the fault after a baseline, lifts it (when `resume` is given) and collects.
        static func run(_ d: Deployment, gateway: Int = 0, noisyConnections: Int = 100, fault: () -> Void,
                        resume: (() -> Void)?) throws -> Outcome {
            let us = try d.createTenant("noisy-us-\(monotonicMillis())", region: "us")
            let eu = try d.createTenant("quiet-eu-\(monotonicMillis())", region: "eu2")
            let port = d.gateways[gateway].port
            // Set-up goes through the first gateway (whose backends are the real regions).
            let setupPort = d.gateways[0].port
            let usSetup = SCIMClient(port: setupPort, token: us.token), euSetup = SCIMClient(port: setupPort, token: eu.token)
            let usUser = try #require(usSetup.send(.post, "/scim/v2/Users", body: userBody("noisy@us.example")).0
                .flatMap { try? JSONDecoder.decode($0.body) }?["id"]?.string)
            let euUser = try #require(euSetup.send(.post, "/scim/v2/Users", body: userBody("quiet@eu.example")).0
                .flatMap { try? JSONDecoder.decode($0.body) }?["id"]?.string)

            let stop = StopFlag()
            let noisy = Collected<Exchange>(), quiet = Collected<Exchange>()
            let start = monotonicMillis()
            let load = background {
                onThreads(noisyConnections + 2) { i in
                    if i < noisyConnections {
                        // A us IdP: its own keep-alive connection, reads and some writes; after a 503 it backs off
                        // briefly before calling again (IdPs retry, not spin).
                        let client = SCIMClient(port: port, token: us.token)
                        var n = 0
                        while !stop.isRaised {
                            n += 1
                            let exchange = n % 10 == 0
                                ? client.send(.post, "/scim/v2/Users", body: userBody("n\(i)-\(n)@us.example"), timeout: .seconds(40)).1
                                : client.send(.get, "/scim/v2/Users/\(usUser)", timeout: .seconds(40)).1
                            noisy.append(exchange)
                            if exchange.status != 200 && exchange.status != 201 { sleepMillis(200) }
                        }
                    } else {
                        // The quiet eu2 tenant: one request at a time with a little think time.
                        let client = SCIMClient(port: port, token: eu.token)
                        while !stop.isRaised {
                            quiet.append(client.send(.get, "/scim/v2/Users/\(euUser)", timeout: .seconds(40)).1)
                            sleepMillis(10)
                        }
                    }
                }
            }
            sleepMillis(4000)
            let faultAt = monotonicMillis()
            fault()
            // New us requests once the fault is established: each on a fresh connection, timed.
            sleepMillis(3000)
            var probes: [Exchange] = []
            for _ in 0..<5 {
                probes.append(SCIMClient(port: port, token: us.token).send(.get, "/scim/v2/Users/\(usUser)", timeout: .seconds(40)).1)
                sleepMillis(300)
            }
            sleepMillis(max(0, faultAt + 7000 - monotonicMillis()))
            var resumedAt: Int? = nil
            var firstSuccess: Int? = nil
            if let resume {
                resumedAt = monotonicMillis()
                resume()
                let client = SCIMClient(port: port, token: us.token)
                while monotonicMillis() - resumedAt! < 15_000 {
                    let e = client.send(.get, "/scim/v2/Users/\(usUser)", timeout: .seconds(5)).1
                    if e.status == 200 { firstSuccess = e.endMillis; break }
                    sleepMillis(100)
                }
            }
            sleepMillis(1500)
            stop.raise()
            load.join()
            _ = start
            let quietAll = quiet.all
            return Outcome(quietBefore: quietAll.filter { $0.startMillis >= start + 1000 && $0.endMillis < faultAt },
                           quietDuring: quietAll.filter { $0.startMillis >= faultAt && $0.startMillis < faultAt + 7000 },
                           noisy: noisy.all, probesDuring: probes, faultAt: faultAt, resumedAt: resumedAt,
                           firstSuccessAfterResume: firstSuccess)
        }

        /// The checks every variant shares; returns a line for the report.
        static func verify(_ o: Outcome, label: String, expectRecovery: Bool) -> String {
            let before = p99(o.quietBefore), during = p99(o.quietDuring)
            // The other region's tenant: every request 200, p99 no worse than twice its value before the fault.
            #expect(o.quietDuring.count > 50, "\(label): too few quiet requests during the fault")
            let quietStatuses = Set(o.quietDuring.map(\.status))
            #expect(quietStatuses == [200], "\(label): quiet tenant got \(quietStatuses)")
            // 2× its p99 before, with a 20 ms floor: below that the scheduler of a loaded 2-core machine is what shows
            // (the windows follow each other, so another suite's burst can land in one only: ~13 slow samples of the
            // ~1,300 in the 7 s window move its p99). A quiet tenant held up by the fault waits seconds, not ms.
            #expect(during <= max(2 * before, 20), "\(label): quiet p99 \(during) ms during the fault vs \(before) ms before")
            // New requests for the hung region: 503 + Retry-After within 2 s.
            for probe in o.probesDuring {
                #expect(probe.status == 503 && probe.retryAfter != nil, "\(label): probe got \(probe.status)")
                #expect(probe.latency <= 2000, "\(label): probe waited \(probe.latency) ms")
            }
            // Every request got an answer: 2xx, or 503 with Retry-After; never silence, never another error.
            let unanswered = o.noisy.filter { $0.status == 0 }
            let unansweredCount = unanswered.count
            #expect(unansweredCount == 0, "\(label): \(unansweredCount) requests without an answer: \(unanswered.first?.body ?? "")")
            let odd = Set(o.noisy.filter { !(200...299).contains($0.status) && !($0.status == 503 && $0.retryAfter != nil) }.map(\.status))
            #expect(odd.isEmpty, "\(label): unexpected answers \(odd)")
            // Requests that started once the fault was established were refused fast.
            let late = o.noisy.filter { $0.startMillis > o.faultAt + 3000 && $0.startMillis < o.faultAt + 6500 }
            let slowLate = late.filter { $0.latency > 2000 }.count
            #expect(slowLate == 0, "\(label): \(slowLate) of \(late.count) requests after the fault took over 2 s")
            var recovery = "-"
            if expectRecovery, let resumed = o.resumedAt {
                let first = o.firstSuccessAfterResume.map { $0 - resumed }
                #expect(first != nil && first! <= 5000, "\(label): served again after \(first.map(String.init) ?? "never") ms")
                recovery = first.map { "\($0) ms" } ?? "never"
            }
            let refused = o.noisy.filter { $0.status == 503 }.count
            return "\(label): quiet p99 before=\(before) ms during=\(during) ms (\(o.quietDuring.count) requests, all 200); "
                + "noisy requests=\(o.noisy.count) 503=\(refused) unanswered=\(unansweredCount); "
                + "new requests answered 503 in \(o.probesDuring.map(\.latency).max() ?? -1) ms max; served again after \(recovery)"
        }

        @Test func aStoppedRegionProcessCostsOnlyItsOwnTenants() throws {
            let d = try Deployment.reliability("dp_sigstop")
            defer {
                d.regionProcesses["us"]?.signal(SIGCONT)
                d.stop()
            }
            let outcome = try Self.run(d, fault: { d.regionProcesses["us"]?.signal(SIGSTOP) },
                                       resume: { d.regionProcesses["us"]?.signal(SIGCONT) })
            report("DATA PLANE " + Self.verify(outcome, label: "region SIGSTOP", expectRecovery: true))
        }

        @Test func aPausedRegionDatabaseCostsOnlyItsOwnTenants() throws {
            let usCluster = try PostgresCluster.scratch(named: "dataplane-us")
            defer { usCluster.resume(); try? usCluster.stop() }
            let d = try Deployment("dp_pgpause", cluster: Reliability.cluster, regionClusters: ["us": usCluster])
            defer {
                usCluster.resume()
                d.stop()
            }
            let outcome = try Self.run(d, fault: { usCluster.pause() }, resume: { usCluster.resume() })
            report("DATA PLANE " + Self.verify(outcome, label: "region PostgreSQL SIGSTOP", expectRecovery: true))
        }

        @Test func aBackendThatAcceptsButNeverAnswersCostsOnlyItsOwnTenants() throws {
            let blackhole = try SilentListener()
            defer { blackhole.close() }
            let d = try Deployment.reliability("dp_blackhole")
            defer { d.stop() }
            // A second gateway whose us backend accepts connections and reads requests but never answers. Tenants are
            // created through the first one (the second is used for traffic only).
            let second = try d.startGateway(backendPorts: ["us": blackhole.port])
            let outcome = try Self.run(d, gateway: second, fault: {}, resume: nil)
            report("DATA PLANE " + Self.verify(outcome, label: "backend accepts, never answers", expectRecovery: false))
            #expect(blackhole.accepted > 0)
        }
    }
}
