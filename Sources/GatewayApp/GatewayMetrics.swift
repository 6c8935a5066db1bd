import Telemetry

/// What the gateway counts (exposed at `/metrics` on the admin listener, which is private).
struct GatewayMetrics: Sendable {
    let registry: MetricsRegistry
    let requests: Counter
    let latency: Histogram
    let upstreamErrors: Counter
    let authFailures: Counter
    let rateLimited: Counter

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
    }

    func record(_ log: RequestLog) {
        requests.increment([log.tenant ?? "-", log.region ?? "-", log.route, String(log.status)])
        latency.observe([log.region ?? "-", log.route], log.durationMillis / 1000)
        if let outcome = log.outcome {
            if outcome.hasPrefix("auth-") { authFailures.increment([String(outcome.dropFirst(5))]) }
            else if outcome.hasPrefix("upstream-") { upstreamErrors.increment([log.region ?? "-", String(outcome.dropFirst(9))]) }
            else if outcome == "rate-limited" { rateLimited.increment([log.tenant ?? "-", "tenant"]) }
            else if outcome == "source-throttled" { rateLimited.increment(["-", "auth-failures-from-source"]) }
        }
    }
}
