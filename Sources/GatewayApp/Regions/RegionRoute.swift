import HTTPCore
import NetIO
import RegionLink
import ServerRuntime
import Telemetry
import JSON

/// A region as the gateway reaches it.
struct RegionRoute: Sendable {
    var configuration: RegionConfiguration
    /// The data plane: non-blocking keep-alive pool with the region's bulkhead (in-flight cap, short queue).
    var pool: UpstreamPool
    /// Whether the region gets traffic at all (health probes and live failures feed it).
    var breaker: RegionBreaker
    /// The control plane's blocking client (admin relays, tenant provisioning, health probes): its own
    /// connections, never the data plane's, so operator calls and probes cannot starve tenants' traffic.
    var client: HTTPClient
    var backendHost: String
    var backendPort: Int
    var id: String { configuration.id }
}
