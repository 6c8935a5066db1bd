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
final class RegionHealth: Sendable {
    private let directory: RegionDirectory
    private let interval: Duration
    private let timeout: Duration
    private let logger: Logger
    private let states = Lock<[String: Bool]>([:])

    init(directory: RegionDirectory, interval: Duration = .seconds(1), timeout: Duration = .seconds(1), logger: Logger) {
        self.directory = directory
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
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

    /// One probing job per region, each on its own thread, probing at start and every `interval`.
    var services: [PeriodicService] {
        directory.ids.map { id in
            PeriodicService("health-\(id)", every: interval, first: { [self] in probe(id); return false }) { [self] in
                probe(id)
                return true
            }
        }
    }
}
