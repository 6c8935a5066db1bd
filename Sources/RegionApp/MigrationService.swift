#if canImport(Glibc)
import Glibc
#endif
import NetIO
package import Postgres
import RegionLink
import ServerRuntime
import Synchronization
package import Telemetry
package import Lifecycle
import RegionSCIM
import RegionEvents

/// Applies the region migrations at start. When the database is unreachable the process still starts (`/readyz`
/// answers 503, SCIM requests 503) and keeps retrying every two seconds; a refused migration (edited or unknown
/// version) stops the process.
package final class MigrationService: Sendable {
    let pool: PostgresPool
    let readiness: Readiness
    let logger: Logger
    private let failures = Atomic<Int>(0)

    /// A migration service for `pool`.
    package init(pool: PostgresPool, readiness: Readiness, logger: Logger) {
        self.pool = pool
        self.readiness = readiness
        self.logger = logger
    }

    /// Migrates at start; if the database is unreachable, again every two seconds until it works.
    package var service: PeriodicService {
        PeriodicService("migrations", every: .seconds(2), first: { [self] in try attempt() }) { [self] in
            ((try? attempt()) ?? false) == false
        }
    }

    /// True when the schema is current; false when the database could not be reached (retry later).
    private func attempt() throws -> Bool {
        let report: MigrationReport
        do throws(PostgresError) {
            report = try Migrator.migrate(pool, migrations: RegionSchema.migrations)
        } catch {
            guard error.isTransient else { throw error }
            // Every two seconds until the database is back: say so now and then, not every time.
            let attempt = failures.add(1, ordering: .relaxed).newValue
            if attempt == 1 || attempt % 30 == 0 {
                let description = error.description
                logger.warning("database unreachable; migrations will be retried every 2 s",
                               [("error", .string(description)), ("attempts", .int(Int64(attempt)))])
            }
            return false
        }
        readiness.markMigrated()
        let version = Int64(report.currentVersion), applied = Int64(report.applied.count)
        logger.notice("database schema ready", [("schema.version", .int(version)), ("migrations.applied", .int(applied))])
        return true
    }

}
