#if canImport(Glibc)
import Glibc
#endif
import HTTPCore
import NetIO
import ServerRuntime
import Synchronization
import Telemetry
import Locking
import Lifecycle

/// Probes every region's `/readyz` on its own thread (a hung region delays only its own probe) every `interval`,
/// with a short timeout, and feeds the region's circuit breaker; `/readyz` of the gateway reads the last results
/// and never waits on a region itself.
final class RegionHealth: Service {
    private let directory: RegionDirectory
    private let interval: Duration
    private let timeout: Duration
    private let logger: Logger
    private let states = Lock<[String: Bool]>([:])
    private let threads: [String: PeriodicThread]
    var name: String { "region-health" }

    init(directory: RegionDirectory, interval: Duration = .seconds(1), timeout: Duration = .seconds(1), logger: Logger) {
        self.directory = directory
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
        var threads: [String: PeriodicThread] = [:]
        for id in directory.ids { threads[id] = PeriodicThread(name: "health-\(id)") }
        self.threads = threads
    }

    /// Region id → reachable and ready at the last probe (absent before the first probe).
    var snapshot: [String: Bool] { states.withLock { $0 } }

    func probe(_ id: String) {
        guard let route = directory.routes[id] else { return }
        let up = (try? route.client.send(HTTPRequest(method: .get, target: "/readyz"), timeout: timeout))?.status.code == 200
        route.breaker.probe(up: up, now: Timestamp.monotonicNanos())
        let changed = states.withLock { s -> Bool in
            let was = s[id]
            s[id] = up
            return was != nil && was != up
        }
        if changed {
            if up { logger.notice("region ready again", [("region", .string(id))]) }
            else { logger.warning("region not ready", [("region", .string(id))]) }
        }
    }

    func start() throws {
        for (id, thread) in threads {
            probe(id)
            thread.start(interval: interval) { [self] in
                probe(id)
                return true
            }
        }
    }

    func shutdown(gracePeriod: Duration) {
        for thread in threads.values { thread.stop(wait: false) }
        for thread in threads.values { thread.stop(wait: true) }
    }
}
