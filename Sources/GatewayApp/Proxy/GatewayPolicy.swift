import Crypto
import HTTPCore
import JSON
import NetIO
import RegionLink
import ServerRuntime
import SCIMCore
import Synchronization
import Telemetry

/// Gateway policy knobs.
struct GatewayPolicy: Sendable {
    /// Default per-tenant rate (requests/second) and burst when the tenant has no override; 0 disables.
    var tenantRate: Double = 200
    var tenantBurst: Double = 400
    /// Failed authentications a source may make: `failureBurst` at once, refilled at `failureRate` per second.
    /// Beyond that, only tokens already known to be good get through from that source.
    var failureRate: Double = 1
    var failureBurst: Double = 20
    /// Requests on a host that belongs to no region: serve them (dev, tests) with a base URL built from `Host`,
    /// or refuse with 421 (production, where every public host is configured).
    var strictHosts = true
    /// Trust `X-Forwarded-Proto` from a TLS-terminating load balancer when building the base URL.
    var trustForwardedProto = false
    /// How a request's source is found for the failure throttle (trusted proxies, IPv6 /64 grouping).
    var clientSource = ClientSource()
    /// `Retry-After` when a region failed or timed out (a full bulkhead says 1, an open breaker its remaining time).
    var retryAfterSeconds = 5
    /// How long after its first try a request that never reached a replica may still be sent to another one (the
    /// upstream timeout, `--upstream-timeout`).
    var rerouteWindow: Duration = .seconds(20)
    /// Rate shaping: a tenant over its rate waits up to this long for its turn (holding no thread) before a 429;
    /// 0 refuses at once.
    var rateLimitMaxDelay: Duration = .seconds(1)
    /// Hosts (lowercase, port as requested) that belong to no region and serve the OAuth token endpoint for every
    /// region's clients: an Entra gallery app has one token URL for all customers (docs/oauth.md). The token is
    /// then used on the tenant's own region host as usual; SCIM calls on these hosts are still refused.
    var oauthGlobalHosts: Set<String> = []
}
