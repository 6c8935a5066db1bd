import HTTPCore
import NetIO
import RegionLink
import ServerRuntime
import Telemetry
import JSON

/// The regions the gateway routes to, which public host names belong to which region, and each region's replica
/// set. The regions themselves are fixed at start; their replicas change while running (`update`).
final class RegionDirectory: Sendable {
    let routes: [String: RegionRoute]
    private let hostToRegion: [String: String]
    private let loop: UpstreamLoop
    private let settings: RegionLinkSettings
    /// Every address of a host name (`AddressLookup`; replaceable in tests). nil: the lookup failed.
    private let lookup: @Sendable (String) -> [String]?

    /// `backendOverrides` (`id → backends`) replace the files' backend lists (make run, tests). Every replica gets its
    /// own pool on `loop`: one region, or one replica, can never use another's connections or slots. A `dns+` entry
    /// that does not resolve yet starts with no replica (its region answers 503 until it does); `warnings` says so.
    init(regions: [RegionConfiguration], backendOverrides: [String: [RegionBackend]], loop: UpstreamLoop,
         settings: RegionLinkSettings,
         lookup: @escaping @Sendable (String) -> [String]? = { try? AddressLookup.addresses(of: $0) }) throws(UsageErrorText) {
        self.loop = loop
        self.settings = settings
        self.lookup = lookup
        for key in backendOverrides.keys where !regions.contains(where: { $0.id == key }) {
            throw UsageErrorText("--region-backends names unknown region '\(key)'")
        }
        var routes: [String: RegionRoute] = [:]
        var hosts: [String: String] = [:]
        for region in regions {
            let backends = backendOverrides[region.id] ?? region.backends
            let first = backends[0]
            routes[region.id] = RegionRoute(configuration: region, replicas: ReplicaSet([]),
                                            fallbackClient: HTTPClient(host: first.host, port: first.port, configuration: settings.client))
            for h in region.publicHosts { hosts[PublicHost.canonical(h)?.withPort ?? h.lowercased()] = region.id }
        }
        self.routes = routes
        self.hostToRegion = hosts
        for region in regions {
            _ = update(region: region.id, to: backendOverrides[region.id] ?? region.backends, prepare: { _ in })
        }
    }

    /// The region whose public host this is (a `Host` header, port kept as configured), or nil.
    func region(forHost host: String?) -> RegionRoute? {
        // Case, a trailing dot and the port do not make another host (docs/residency.md).
        guard let host = PublicHost.canonical(host) else { return nil }
        if let id = hostToRegion[host.withPort] ?? hostToRegion[host.bare] { return routes[id] }
        return nil
    }

    var ids: [String] { routes.keys.sorted() }

    /// Every replica of every region now, regions in order.
    var allReplicas: [RegionReplica] { ids.flatMap { routes[$0]!.replicas.members } }

    /// What `update` did to one region's set.
    struct Change {
        var added: [RegionReplica] = []
        var removed: [RegionReplica] = []
        /// `dns+` names that did not resolve (their replicas were kept as they were).
        var unresolved: [RegionBackend] = []
    }

    /// Brings region `id`'s replica set to `backends`: `dns+` names are looked up now; replicas already in the set
    /// are kept as they are (pool, breaker, health); new ones are created and `prepare`d (probed) before they join;
    /// the set is swapped in one step. The replicas that left are returned: their requests in flight finish, then
    /// the caller retires them. A name that does not resolve keeps the replicas it had.
    func update(region id: String, to backends: [RegionBackend], prepare: (RegionReplica) -> Void) -> Change {
        guard let route = routes[id] else { return Change() }
        let current = route.replicas.members
        var change = Change()
        var next: [RegionReplica] = []
        func add(_ backend: RegionBackend, from source: RegionBackend) {
            guard !next.contains(where: { $0.backend == backend }) else { return }
            if let existing = current.first(where: { $0.backend == backend }) {
                next.append(existing)
                return
            }
            let replica = RegionReplica(region: id, backend: backend, source: source, loop: loop, settings: settings)
            prepare(replica)
            change.added.append(replica)
            next.append(replica)
        }
        for entry in backends {
            guard entry.resolvesAll else {
                add(entry, from: entry)
                continue
            }
            guard let addresses = lookup(entry.host), !addresses.isEmpty else {
                change.unresolved.append(entry)
                for kept in current where kept.source == entry && !next.contains(where: { $0 === kept }) { next.append(kept) }
                continue
            }
            for address in addresses { add(RegionBackend(host: address, port: entry.port), from: entry) }
        }
        change.removed = route.replicas.replace(with: next)
        return change
    }

    /// Stops driving a retired replica's pool (its connections close). Call once nothing is in flight on it.
    func close(_ replica: RegionReplica) {
        loop.remove(replica.pool)
    }
}
