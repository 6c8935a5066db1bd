#if canImport(Glibc)
import Glibc
#endif
import HTTPCore
import JSON
import NetIO
import Postgres
import Testing
import TestSupport

extension Reliability {
    /// Issue 17: the request log's writer stalls (its table locked by another session; its own backend stopped with
    /// SIGSTOP) while SCIM traffic goes through the gateway. The requests keep their latency and all get answered;
    /// the log drops what does not fit its buffer, counts it, and writes again once the stall ends.
    @Suite struct RequestLogStallTests {
        /// `count` GETs by id on one keep-alive connection: their latencies (ms) and statuses.
        static func round(_ client: SCIMClient, _ id: String, _ count: Int) -> (latencies: [Int], statuses: [Int]) {
            var latencies: [Int] = [], statuses: [Int] = []
            for _ in 0..<count {
                let (_, exchange) = client.send(.get, "/scim/v2/Users/\(id)", timeout: .seconds(10))
                latencies.append(exchange.latency)
                statuses.append(exchange.status)
            }
            return (latencies, statuses)
        }

        /// Records the region dropped so far because its buffer was full (successful reads are shed at 3/4 full).
        static func dropped(_ d: Deployment, _ region: String) throws -> Int {
            let text = try HTTPClient(host: "127.0.0.1", port: d.regionPorts[region]!)
                .send(HTTPRequest(method: .get, target: "/metrics"), timeout: .seconds(10)).bodyText
            var total = 0
            for reason in ["buffer_full", "shed_read"] {
                let series = "scim_region_request_log_dropped_total{reason=\"\(reason)\"} "
                for line in text.split(separator: "\n") where line.hasPrefix(series) {
                    total += Int(Double(line.split(separator: " ").last ?? "") ?? 0)
                }
            }
            return total
        }

        /// Whether the log records requests again: a lookup of `userName` is sent (again, while the writer is still
        /// working off its full buffer, a record may be dropped) until its record appears.
        static func recovers(_ d: Deployment, _ tenant: (id: String, token: String), _ userName: String, timeoutMillis: Int = 30_000) throws -> Bool {
            let deadline = monotonicMillis() + timeoutMillis
            while monotonicMillis() < deadline {
                #expect(try d.scim(.get, "/scim/v2/Users?filter=" + PercentEncoding.encode("userName eq \"\(userName)\""), token: tenant.token).status.code == 200)
                for _ in 0..<10 {
                    let (_, page) = try d.admin(.get, "/admin/v1/tenants/\(tenant.id)/request-log?userName=" + PercentEncoding.encode(userName))
                    if page?["records"]?.array?.isEmpty == false { return true }
                    sleepMillis(200)
                }
            }
            return false
        }

        @Test func aStalledLogWriterNeverSlowsSCIMTraffic() throws {
            let d = try Deployment("reqlog_stall", cluster: Reliability.cluster, regionArguments: ["--request-log-buffer", "100", "--request-log-batch", "100"])
            defer { d.stop() }
            let t = try d.createTenant("stall", region: "us")
            let client = SCIMClient(port: d.gateways[0].port, token: t.token)
            let id = try #require(json(try d.scim(.post, "/scim/v2/Users", token: t.token, body: userBody("stall@example.com")))?["id"]?.string)
            _ = Self.round(client, id, 100)  // warm caches and connections
            let baseline = Self.round(client, id, 500)
            let droppedBefore = try Self.dropped(d, "us")

            // 1. The table locked by another session (as a careless migration or a manual VACUUM FULL would).
            let locker = try d.regionAdmin("us")
            try locker.executeScript("BEGIN; LOCK TABLE request_log IN ACCESS EXCLUSIVE MODE")
            let locked = Self.round(client, id, 800)
            let droppedLocked = try Self.dropped(d, "us") - droppedBefore
            try locker.executeScript("ROLLBACK")
            #expect(try Self.recovers(d, t, "after-lock@example.com"), "the log did not recover after the lock")

            // 2. The writer's own backend stopped (SIGSTOP) while idle, so it holds no lock another backend could wait on.
            let admin = try d.regionAdmin("us")
            var writer: pid_t = 0
            for _ in 0..<100 {
                let r = try admin.query("SELECT pid, state FROM pg_stat_activity WHERE application_name = 'scim-region-us-request-log-writer'")
                if r.rowCount == 1, r.string(row: 0, column: 1) == "idle", let pid = r.int(row: 0, column: 0) { writer = pid_t(pid); break }
                sleepMillis(50)
            }
            try #require(writer > 0, "no idle request log writer backend")
            kill(writer, SIGSTOP)
            let stopped = Self.round(client, id, 800)
            let droppedStopped = try Self.dropped(d, "us") - droppedBefore - droppedLocked
            kill(writer, SIGCONT)
            #expect(try Self.recovers(d, t, "after-stop@example.com"), "the log did not recover after SIGCONT")

            func line(_ r: (latencies: [Int], statuses: [Int])) -> String {
                "p50/p99/max \(percentile(r.latencies, 50))/\(percentile(r.latencies, 99))/\(r.latencies.max() ?? 0) ms"
            }
            for (name, r) in [("table locked", locked), ("writer SIGSTOPped", stopped)] {
                #expect(r.statuses.allSatisfy { $0 == 200 }, "\(name): \(Set(r.statuses))")
                #expect((r.latencies.max() ?? 0) < 1000, "\(name): a request took \(r.latencies.max() ?? 0) ms")
                #expect(percentile(r.latencies, 50) <= 2 * percentile(baseline.latencies, 50) + 2, "\(name): \(line(r)) vs \(line(baseline))")
                #expect(percentile(r.latencies, 99) <= 3 * percentile(baseline.latencies, 99) + 20, "\(name): \(line(r)) vs \(line(baseline))")
            }
            #expect(droppedLocked > 0 && droppedStopped > 0, "dropped: \(droppedLocked) while locked, \(droppedStopped) while stopped")
            #expect(d.regionProcesses["us"]!.isRunning && d.gateways[0].process.isRunning)
            report("REQUEST LOG stall (buffer 100), GETs by id through the gateway: baseline (500) \(line(baseline)); table locked (800) \(line(locked)), "
                   + "\(droppedLocked) records dropped; writer backend SIGSTOPped (800) \(line(stopped)), \(droppedStopped) records dropped")
        }
    }
}
