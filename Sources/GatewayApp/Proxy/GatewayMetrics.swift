import Telemetry
import ServerRuntime

/// What the gateway counts (exposed at `/metrics` on the admin listener, which is private).
struct GatewayMetrics: Sendable {
    let registry: MetricsRegistry
    let requests: Counter
    let latency: Histogram
    let upstreamErrors: Counter
    let authFailures: Counter
    let rateLimited: Counter
    let shaped: Counter
    let accessTokensExpired: Counter

    init(registry: MetricsRegistry = MetricsRegistry()) {
        self.registry = registry
        requests = registry.counter("scim_gateway_requests_total", "SCIM requests by tenant, region, route and status.",
                                    labels: ["tenant", "region", "route", "status"])
        latency = registry.histogram("scim_gateway_request_duration_seconds", "Time to answer a SCIM request.",
                                     labels: ["region", "route"])
        upstreamErrors = registry.counter("scim_gateway_upstream_errors_total", "Region calls that failed, by region and kind.",
                                          labels: ["region", "kind"])
        authFailures = registry.counter("scim_gateway_auth_failures_total", "Refused credentials by reason.", labels: ["reason"])
        rateLimited = registry.counter("scim_gateway_rate_limited_total", "Requests refused with 429, by tenant and cause.",
                                       labels: ["tenant", "cause"])
        shaped = registry.counter("scim_gateway_rate_shaped_total",
                                  "Requests over their tenant's rate that waited for their turn (instead of a 429), by tenant.",
                                  labels: ["tenant"])
        accessTokensExpired = registry.counter("scim_gateway_oauth_access_tokens_expired_total",
                                               "SCIM requests refused because their OAuth access token had expired (the client should have asked for a new one).")
    }

    /// Per-region data-plane gauges, sampled when scraped: bulkhead occupancy, pool counters, breaker state, health.
    func registerRegions(directory: RegionDirectory, health: RegionHealth) {
        let ids = directory.ids
        func sample(_ value: @escaping @Sendable (RegionRoute) -> Double) -> @Sendable () -> [([String], Double)] {
            { ids.compactMap { id in directory.routes[id].map { ([id], value($0)) } } }
        }
        registry.gaugeFunction("scim_gateway_region_up", "Whether the region answered /readyz at the last probe.",
                               labels: ["region"]) {
            let snapshot = health.snapshot
            return ids.map { ([$0], snapshot[$0] == true ? 1 : 0) }
        }
        registry.gaugeFunction("scim_gateway_region_breaker_open",
                               "The region's circuit breaker: 0 closed, 1 open (requests refused at once), 0.5 half-open.",
                               labels: ["region"], sample { route in
                                   switch route.breaker.state { case .closed: 0; case .open: 1; case .halfOpen: 0.5 }
                               })
        registry.gaugeFunction("scim_gateway_region_in_flight", "Requests a region is working on (bulkhead slots in use).",
                               labels: ["region"], sample { Double($0.pool.statistics.inFlight) })
        registry.gaugeFunction("scim_gateway_region_queued", "Requests waiting for one of the region's slots.",
                               labels: ["region"], sample { Double($0.pool.statistics.queued) })
        registry.gaugeFunction("scim_gateway_region_idle_connections", "Idle keep-alive connections to the region.",
                               labels: ["region"], sample { Double($0.pool.statistics.idle) })
        registry.gaugeFunction("scim_gateway_region_connections_opened_total", "Connections ever opened to the region.",
                               labels: ["region"], sample { Double($0.pool.statistics.connectionsOpened) })
        registry.gaugeFunction("scim_gateway_region_rejected_total",
                               "Requests refused at once because the region's bulkhead (in-flight cap and queue) was full.",
                               labels: ["region"], sample { Double($0.pool.statistics.rejected + $0.pool.statistics.queueTimeouts) })
        registry.gaugeFunction("scim_gateway_region_timeouts_total", "Region calls that hit a connect, first-byte or total timeout.",
                               labels: ["region"], sample { Double($0.pool.statistics.timeouts) })
        registry.gaugeFunction("scim_gateway_region_retries_total",
                               "Idempotent requests retried once on a fresh connection after a pooled one was found closed.",
                               labels: ["region"], sample { Double($0.pool.statistics.retried) })
    }

    func record(_ log: RequestRecord) {
        requests.increment([log.tenant ?? "-", log.region ?? "-", log.route, String(log.status)])
        latency.observe([log.region ?? "-", log.route], log.durationSeconds)
        if let outcome = log.outcome {
            if outcome.hasPrefix("auth-") {
                authFailures.increment([String(outcome.dropFirst(5))])
                if outcome == "auth-access-token-expired" { accessTokensExpired.increment() }
            }
            else if outcome.hasPrefix("upstream-") { upstreamErrors.increment([log.region ?? "-", String(outcome.dropFirst(9))]) }
            else if outcome == "rate-limited" { rateLimited.increment([log.tenant ?? "-", "tenant"]) }
            else if outcome == "source-throttled" { rateLimited.increment(["-", "auth-failures-from-source"]) }
        }
    }
}
