import HTTPCore
import NetIO
import RegionLink
import ServerRuntime
import Telemetry
import JSON

/// The regions the gateway routes to, and which public host names belong to which region.
final class RegionDirectory: Sendable {
    let routes: [String: RegionRoute]
    private let hostToRegion: [String: String]

    /// `backendOverrides` (`id → http://host:port`) replace the files' `backendURL` (make run, tests). Each region
    /// gets its own pool on `loop`: one region can never use another's connections or slots.
    init(regions: [RegionConfiguration], backendOverrides: [String: String], loop: UpstreamLoop,
         settings: RegionLinkSettings) throws(UsageErrorText) {
        var routes: [String: RegionRoute] = [:]
        var hosts: [String: String] = [:]
        for region in regions {
            let url = backendOverrides[region.id] ?? region.backendURL
            guard let (host, port) = HTTPURL.hostAndPort(url) else {
                throw UsageErrorText("\(region.source): backendURL '\(url)' must be http://host:port")
            }
            routes[region.id] = RegionRoute(configuration: region,
                                            pool: loop.pool(host: host, port: port, configuration: settings.upstream),
                                            breaker: RegionBreaker(failureThreshold: settings.breakerFailures,
                                                                   openDuration: settings.breakerOpenDuration),
                                            client: HTTPClient(host: host, port: port, configuration: settings.client),
                                            backendHost: host, backendPort: port)
            for h in region.publicHosts { hosts[PublicHost.canonical(h)?.withPort ?? h.lowercased()] = region.id }
        }
        for key in backendOverrides.keys where routes[key] == nil {
            throw UsageErrorText("--region-backends names unknown region '\(key)'")
        }
        self.routes = routes
        self.hostToRegion = hosts
    }

    /// The region whose public host this is (a `Host` header, port kept as configured), or nil.
    func region(forHost host: String?) -> RegionRoute? {
        // Case, a trailing dot and the port do not make another host (docs/residency.md).
        guard let host = PublicHost.canonical(host) else { return nil }
        if let id = hostToRegion[host.withPort] ?? hostToRegion[host.bare] { return routes[id] }
        return nil
    }

    var ids: [String] { routes.keys.sorted() }
}
