import RegionLink
import Synchronization

/// Who a valid bearer token belongs to.
struct AuthenticatedTenant: Sendable {
    var tenant: Tenant
    var tokenID: String
}
