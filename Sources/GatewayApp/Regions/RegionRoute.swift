import HTTPCore
import NetIO
import RegionLink
import ServerRuntime
import Telemetry
import JSON

/// A region as the gateway reaches it: its configuration and its replica set.
struct RegionRoute: Sendable {
    var configuration: RegionConfiguration
    /// The `scim-region` processes serving it now (swapped when Regions/ changes).
    let replicas: ReplicaSet
    /// A client for the first configured backend: control-plane calls when no replica is known (a `dns+` name that
    /// resolved to nothing yet).
    let fallbackClient: HTTPClient
    var id: String { configuration.id }

    /// The replica control-plane calls use: one that answered its last probe, else any.
    var controlReplica: RegionReplica? {
        let all = replicas.members
        return all.first { $0.probedUp == true } ?? all.first
    }

    /// The control plane's blocking client (admin relays, tenant provisioning): its own connections, never the
    /// data plane's, so operator calls cannot starve tenants' traffic.
    var client: HTTPClient { controlReplica?.client ?? fallbackClient }
    var backendHost: String { controlReplica?.backend.host ?? configuration.backends.first?.host ?? "" }
    /// `host:port` of one replica (IPv6 in brackets): host and port never come from two different replicas.
    var backendAuthority: String { controlReplica?.backend.authority ?? configuration.backends.first?.authority ?? "" }
}
