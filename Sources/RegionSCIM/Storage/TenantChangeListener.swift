import JSON
package import Postgres
import SCIMCore
import Synchronization
import Telemetry
import Lifecycle

/// Listens for tenant-API changes made by any replica of this region and drops the cached tenant contexts.
package final class TenantChangeListener: Service {
    private let listener: PostgresListener
    var name: String { "tenant-listener" }

    package init(configuration: PostgresConfiguration, database: RegionDatabase) {
        listener = PostgresListener(configuration: configuration, channels: [RegionDatabase.tenantChannel],
                                    onReconnect: { database.invalidateAll() },
                                    onNotification: { database.invalidate(tenant: $0.payload) })
    }

    func start() throws {
        listener.start()
        // Not waiting: the region also starts (and reports unready) while its database is down.
    }

    func shutdown(gracePeriod: Duration) { listener.stop() }
}
