#if canImport(Glibc)
import Glibc
#endif
import HTTPCore
import NetIO
import ServerRuntime
import Synchronization
import Telemetry
import Locking

/// Probes every region's `/readyz` every `interval` (in the background, so `/readyz` of the gateway never waits on
/// a slow region) and remembers which are up.
final class RegionHealth: Service {
    private let directory: RegionDirectory
    private let interval: Duration
    private let logger: Logger
    private let states = Lock<[String: Bool]>([:])
    private let thread = PeriodicThread(name: "region-health")
    var name: String { "region-health" }

    init(directory: RegionDirectory, interval: Duration = .seconds(2), logger: Logger) {
        self.directory = directory
        self.interval = interval
        self.logger = logger
    }

    /// Region id → reachable and ready at the last probe (absent before the first probe).
    var snapshot: [String: Bool] { states.withLock { $0 } }

    func probeOnce() {
        for id in directory.ids {
            guard let route = directory.routes[id] else { continue }
            let up = (try? route.client.send(HTTPRequest(method: .get, target: "/readyz"), timeout: .seconds(1)))?.status.code == 200
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
    }

    func start() throws {
        probeOnce()
        thread.start(interval: interval) { [self] in
            probeOnce()
            return true
        }
    }

    func shutdown(gracePeriod: Duration) { thread.stop(wait: true) }
}
