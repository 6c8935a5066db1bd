import JSON
import Postgres

/// A tenant as the control plane knows it.
struct Tenant: Sendable, Equatable {
    enum IntegrationState: String, Sendable { case active, deactivated }
    enum DeprovisionPolicy: String, Sendable, CaseIterable { case hard, soft, refuse }

    var id: String
    var name: String
    var homeRegion: String
    var integrationState: IntegrationState
    var deprovisionPolicy: DeprovisionPolicy
    /// Requests per second allowed (nil: the gateway default; 0: unlimited).
    var rateLimitPerSecond: Int?
    var rateLimitBurst: Int?
    /// Settings pushed to the home region as they are (e.g. `schemaExtensions`).
    var settings: JSONObject
    var createdAt: String
    var updatedAt: String
}
