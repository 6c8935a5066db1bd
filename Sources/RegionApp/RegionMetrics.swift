import HTTPCore
import ServerRuntime
package import Telemetry
import RegionSCIM
import RegionEvents

/// What a region counts, exposed at `/metrics` (Prometheus text). Labels are ids and route templates only.
package struct RegionMetrics: Sendable {
    package let registry: MetricsRegistry
    let requests: Counter
    let latency: Histogram

    package init(registry: MetricsRegistry = MetricsRegistry()) {
        self.registry = registry
        requests = registry.counter("scim_region_requests_total", "Requests by tenant, method, route and status.",
                                    labels: ["tenant", "method", "route", "status"])
        latency = registry.histogram("scim_region_request_duration_seconds", "Time to answer a request, by route.",
                                     labels: ["method", "route"])
    }

    func record(_ r: RequestRecord) {
        requests.increment([r.tenant ?? "-", r.method.description, r.route, String(r.status)])
        latency.observe([r.method.description, r.route], r.durationSeconds)
    }
}
