import NetIO
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
    let rerouted: Counter

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
        rerouted = registry.counter("scim_gateway_region_rerouted_total",
                                    "Requests sent to another replica after they could not reach one (refused or timed-out connect, full bulkhead), by region and cause.",
                                    labels: ["region", "kind"])
        accessTokensExpired = registry.counter("scim_gateway_oauth_access_tokens_expired_total",
                                               "SCIM requests refused because their OAuth access token had expired (the client should have asked for a new one).")
    }

    /// Region and replica data-plane gauges, sampled when scraped from the replica sets as they are then: health,
    /// breakers, bulkhead occupancy and pool counters. Region figures are sums over the region's current replicas
    /// (a replica that is removed takes its counts with it).
    func registerRegions(directory: RegionDirectory, health: RegionHealth) {
        let ids = directory.ids
        func perRegion(_ value: @escaping @Sendable ([RegionReplica]) -> Double) -> @Sendable () -> [([String], Double)] {
            { ids.compactMap { id in directory.routes[id].map { ([id], value($0.replicas.members)) } } }
        }
        func perReplica(_ value: @escaping @Sendable (RegionReplica) -> Double) -> @Sendable () -> [([String], Double)] {
            { directory.allReplicas.map { ([$0.region, $0.name], value($0)) } }
        }
        func sum(_ value: @escaping @Sendable (UpstreamPool.Statistics) -> Int) -> @Sendable ([RegionReplica]) -> Double {
            { replicas in Double(replicas.reduce(0) { $0 + value($1.pool.statistics) }) }
        }
        registry.gaugeFunction("scim_gateway_region_up", "Whether some replica of the region answered /readyz at its last probe.",
                               labels: ["region"]) {
            let snapshot = health.snapshot
            return ids.map { ([$0], snapshot[$0] == true ? 1 : 0) }
        }
        registry.gaugeFunction("scim_gateway_region_replicas", "The region's replicas by their last probe: ready or not (unprobed counts as not).",
                               labels: ["region", "state"]) {
            ids.flatMap { id -> [([String], Double)] in
                let members = directory.routes[id]?.replicas.members ?? []
                let ready = members.filter { $0.probedUp == true }.count
                return [([id, "ready"], Double(ready)), ([id, "not_ready"], Double(members.count - ready))]
            }
        }
        registry.gaugeFunction("scim_gateway_region_breaker_open",
                               "The region's replica breakers: 0 all closed, 1 all open (requests refused at once), 0.5 some open or half-open.",
                               labels: ["region"], perRegion { replicas in
                                   let states = replicas.map(\.breaker.state)
                                   if states.isEmpty || states.allSatisfy({ $0 == .open }) { return 1 }
                                   return states.allSatisfy({ $0 == .closed }) ? 0 : 0.5
                               })
        registry.gaugeFunction("scim_gateway_region_in_flight", "Requests the region's replicas are working on (bulkhead slots in use).",
                               labels: ["region"], perRegion(sum(\.inFlight)))
        registry.gaugeFunction("scim_gateway_region_queued", "Requests waiting for one of the region's slots.",
                               labels: ["region"], perRegion(sum(\.queued)))
        registry.gaugeFunction("scim_gateway_region_idle_connections", "Idle keep-alive connections to the region's replicas.",
                               labels: ["region"], perRegion(sum(\.idle)))
        registry.gaugeFunction("scim_gateway_region_connections_opened_total", "Connections opened to the region's current replicas.",
                               labels: ["region"], perRegion(sum(\.connectionsOpened)))
        registry.gaugeFunction("scim_gateway_region_rejected_total",
                               "Requests refused because a replica's bulkhead (in-flight cap and queue) was full.",
                               labels: ["region"], perRegion(sum { $0.rejected + $0.queueTimeouts }))
        registry.gaugeFunction("scim_gateway_region_timeouts_total", "Region calls that hit a connect, first-byte or total timeout.",
                               labels: ["region"], perRegion(sum(\.timeouts)))
        registry.gaugeFunction("scim_gateway_region_retries_total",
                               "Idempotent requests retried once on a fresh connection after a pooled one was found closed.",
                               labels: ["region"], perRegion(sum(\.retried)))
        registry.gaugeFunction("scim_gateway_replica_up", "Whether the replica answered /readyz at its last probe (a draining replica answers 503).",
                               labels: ["region", "replica"], perReplica { $0.probedUp == true ? 1 : 0 })
        registry.gaugeFunction("scim_gateway_replica_breaker_open",
                               "The replica's circuit breaker: 0 closed, 1 open (no requests), 0.5 half-open.",
                               labels: ["region", "replica"], perReplica { replica in
                                   switch replica.breaker.state { case .closed: 0; case .open: 1; case .halfOpen: 0.5 }
                               })
        registry.gaugeFunction("scim_gateway_replica_in_flight", "Requests the replica is working on.",
                               labels: ["region", "replica"], perReplica { Double($0.pool.statistics.inFlight) })
        registry.gaugeFunction("scim_gateway_replica_queued", "Requests waiting for one of the replica's slots.",
                               labels: ["region", "replica"], perReplica { Double($0.pool.statistics.queued) })
        registry.gaugeFunction("scim_gateway_replica_answers_total", "Answers received from the replica (any status).",
                               labels: ["region", "replica"], perReplica { Double($0.pool.statistics.completed) })
        registry.gaugeFunction("scim_gateway_replica_failures_total",
                               "Calls to the replica that got no answer (refused or broken connections, timeouts, bad answers).",
                               labels: ["region", "replica"], perReplica { Double($0.pool.statistics.failures + $0.pool.statistics.timeouts) })
        registry.gaugeFunction("scim_gateway_replica_connections_opened_total", "Connections opened to the replica.",
                               labels: ["region", "replica"], perReplica { Double($0.pool.statistics.connectionsOpened) })
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
