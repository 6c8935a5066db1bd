import HTTPCore
import Lifecycle
import Locking
import NetIO
import ServerRuntime
import Telemetry

/// One `scim-region` process of a region, as the gateway reaches it. Each has its own data-plane pool (so its own
/// bulkhead: a replica that hangs fills only its own slots), its own circuit breaker, and its own health probe
/// (its own thread: a hung replica delays only its own probe). Replicas come and go with the region's replica set
/// (`ReplicaSet`); a removed one is retired once its requests in flight have finished.
final class RegionReplica: Sendable {
    let region: String
    /// Where it listens: an address and port (for a `dns+` entry, one of the name's addresses).
    let backend: RegionBackend
    /// The backend entry it came from (itself, or the `dns+` name it was resolved from).
    let source: RegionBackend
    /// The data plane: non-blocking keep-alive connections with this replica's bulkhead.
    let pool: UpstreamPool
    /// Whether it gets traffic at all (its probe and live failures feed it).
    let breaker: RegionBreaker
    /// Blocking client for probes and control-plane calls (tenant provisioning, admin relays): connections of its
    /// own, never the data plane's.
    let client: HTTPClient
    /// Its health probe's thread (started by `RegionHealth`).
    let prober: PeriodicThread
    private let lastProbe = Lock<Bool?>(nil)

    init(region: String, backend: RegionBackend, source: RegionBackend, loop: UpstreamLoop, settings: RegionLinkSettings) {
        self.region = region
        self.backend = backend
        self.name = backend.authority
        self.source = source
        pool = loop.pool(host: backend.host, port: backend.port, configuration: settings.upstream)
        breaker = RegionBreaker(failureThreshold: settings.breakerFailures, openDuration: settings.breakerOpenDuration)
        client = HTTPClient(host: backend.host, port: backend.port, configuration: settings.client)
        prober = PeriodicThread(name: "probe-\(region)")
    }

    /// `host:port`: its name in metrics (`replica` label) and logs (built once: it is read per request).
    let name: String

    /// Ready at its last probe (nil before the first).
    var probedUp: Bool? { lastProbe.withLock { $0 } }

    /// Records a probe's result; returns the previous one.
    func recordProbe(_ up: Bool) -> Bool? {
        lastProbe.withLock { last in
            defer { last = up }
            return last
        }
    }
}
