#if canImport(Glibc)
import Glibc
#endif
import Crypto
import HTTPCore
import JSON
import Lifecycle
import NetIO
import Synchronization
import Testing
import TestSupport

/// A hung control-plane PostgreSQL (SIGSTOP): tokens already cached keep working at full speed, while requests whose
/// token must be read get a 503 + Retry-After within the wait limit instead of holding the gateway's threads; after
/// the database resumes, everything works again. Before, each such request held a connection-serving thread until
/// the database answered, and a handful of them stopped the gateway for everybody.
@Suite(.serialized) struct ControlPlaneFaultTests {
    /// A well-formed token (right prefix, lengths and checksum) that nobody issued: it passes every check that
    /// needs no database, so the gateway must look it up.
    static func unknownToken() -> String {
        let body = "scim_" + Base62.random(16) + "_" + Base62.random(32)
        return body + Base62.encode32(CRC32.checksum(body.utf8))
    }

    @Test func aHungControlPlaneCostsOnlyRequestsThatNeedIt() throws {
        let controlCluster = try PostgresCluster.scratch(named: "control-pause")
        defer { controlCluster.resume(); try? controlCluster.stop() }
        let d = try Deployment("cp_pause", controlCluster: controlCluster)
        defer {
            controlCluster.resume()
            d.stop()
        }
        let known = try d.createTenant("cp-known", region: "us")
        let fresh = try d.createTenant("cp-fresh", region: "eu2")
        #expect(try d.scim(.get, "/scim/v2/Users", token: known.token).status.code == 200)  // now cached

        controlCluster.pause()
        // 24 requests with tokens the gateway has never seen (more than its 8 workers), all at once.
        let unknownStatuses = Mutex<[Int]>([])
        let slowest = Mutex<Int>(0)
        var threads: [ThreadHandle] = []
        for i in 0..<24 {
            threads.append(ThreadHandle.start(name: "cp-client-\(i)") {
                let start = monotonicMillis()
                let token = i == 0 ? fresh.token : Self.unknownToken()
                // Half in another case of the path (the gateway accepts any): those too must not wait on a server thread.
                let path = i % 2 == 1 ? "/Scim/v2/Users" : "/scim/v2/Users"
                let status = (try? d.scim(.get, path, token: token, timeout: .seconds(20)).status.code) ?? -1
                unknownStatuses.withLock { $0.append(status) }
                let took = monotonicMillis() - start
                slowest.withLock { $0 = max($0, took) }
            })
        }
        // Meanwhile the known tenant's requests go through, fast.
        var knownLatencies: [Int] = []
        let until = monotonicMillis() + 6000
        while monotonicMillis() < until {
            let start = monotonicMillis()
            let r = try d.scim(.get, "/scim/v2/Users?count=1", token: known.token, timeout: .seconds(10))
            #expect(r.status.code == 200)
            knownLatencies.append(monotonicMillis() - start)
            sleepMillis(20)
        }
        for t in threads { t.join() }
        let statuses = unknownStatuses.withLock { $0 }
        knownLatencies.sort()
        let p99 = knownLatencies[min(knownLatencies.count - 1, knownLatencies.count * 99 / 100)]
        print("control plane paused: known tenant \(knownLatencies.count) requests, p99 \(p99) ms, max \(knownLatencies.last ?? 0) ms; "
              + "uncached tokens: \(statuses.filter { $0 == 503 }.count)/\(statuses.count) got 503, slowest \(slowest.withLock { $0 }) ms")
        #expect(knownLatencies.count > 50)
        #expect(p99 < 500, "known tenant slowed down while the control plane hung: p99 \(p99) ms")
        #expect(statuses.allSatisfy { $0 == 503 }, "\(statuses)")
        #expect(slowest.withLock { $0 } < 9000)

        controlCluster.resume()
        let deadline = monotonicMillis() + 20_000
        var recovered = false
        while monotonicMillis() < deadline {
            if (try? d.scim(.get, "/scim/v2/Users", token: fresh.token).status.code) == 200 { recovered = true; break }
            sleepMillis(200)
        }
        #expect(recovered, "the fresh tenant's token did not work after the control plane resumed")
        #expect(try d.scim(.get, "/scim/v2/Users", token: Self.unknownToken()).status.code == 401)
    }
}
