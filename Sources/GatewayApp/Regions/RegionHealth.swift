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

/// Probes every replica's `/readyz` on a thread of its own (a hung replica delays only its own probe) every
/// `interval`, with a short timeout, and feeds the replica's circuit breaker: a replica that fails its probe, or
/// that is draining (a region answers 503 on `/readyz` from the moment it gets SIGTERM), gets no new requests
/// until a probe succeeds. `/readyz` of the gateway reads the last results and never waits on a region itself.
final class RegionHealth: Sendable {
    private let directory: RegionDirectory
    private let interval: Duration
    private let timeout: Duration
    private let logger: Logger

    init(directory: RegionDirectory, interval: Duration = .seconds(1), timeout: Duration = .seconds(1), logger: Logger) {
        self.directory = directory
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
    }

    /// Region id → some replica was ready at its last probe (absent before any replica of it was probed).
    var snapshot: [String: Bool] {
        var result: [String: Bool] = [:]
        for id in directory.ids {
            let probed = directory.routes[id]!.replicas.members.compactMap(\.probedUp)
            if !probed.isEmpty { result[id] = probed.contains(true) }
        }
        return result
    }

    /// One probe of one replica (blocking up to the timeout).
    func probe(_ replica: RegionReplica) {
        let up = (try? replica.client.send(HTTPRequest(method: .get, target: "/readyz"), timeout: timeout))?.status.code == 200
        replica.breaker.probe(up: up, now: Timestamp.monotonicNanos())
        let was = replica.recordProbe(up)
        guard let was, was != up else { return }
        let fields: Logger.Metadata = [("region", .string(replica.region)), ("replica", .string(replica.name))]
        if up { logger.notice("replica ready again", fields) } else { logger.warning("replica not ready", fields) }
        let others = directory.routes[replica.region]?.replicas.members.filter { $0 !== replica }.compactMap(\.probedUp) ?? []
        if !up && !others.contains(true) { logger.warning("region has no ready replica", [("region", .string(replica.region))]) }
        if up && !others.contains(true) { logger.notice("region ready again", [("region", .string(replica.region))]) }
    }

    /// Probes `replica` every `interval` on its own thread until `stopProbing`.
    func startProbing(_ replica: RegionReplica) {
        replica.prober.start(interval: interval) { [self] in
            probe(replica)
            return true
        }
    }

    func stopProbing(_ replica: RegionReplica) {
        replica.prober.stop(wait: false)
    }

    /// At start, every replica is probed once (so the first requests go only where a probe succeeded), then each on
    /// its own thread; at shutdown every probe thread stops.
    var service: any Service { ProbingService(health: self, directory: directory) }

    private struct ProbingService: Service {
        let health: RegionHealth
        let directory: RegionDirectory
        var name: String { "region-health" }

        func start() throws {
            for replica in directory.allReplicas { health.probe(replica) }
            for replica in directory.allReplicas { health.startProbing(replica) }
        }

        func shutdown(gracePeriod: Duration) {
            for replica in directory.allReplicas { health.stopProbing(replica) }
        }
    }
}
