import Crypto
import Postgres
import RegionLink
import Synchronization
import Telemetry
import Locking

/// Who a valid bearer token belongs to.
struct AuthenticatedTenant: Sendable {
    var tenant: Tenant
    var tokenID: String
}
