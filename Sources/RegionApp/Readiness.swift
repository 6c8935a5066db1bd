import Postgres
import RegionLink
import SCIMCore
import ServerRuntime
import Synchronization
import RegionSCIM
import RegionEvents

/// Whether the database schema is in place (`/readyz`).
package final class Readiness: Sendable {
    private let migrated = Atomic<Bool>(false)
    /// Not ready until `markMigrated`.
    package init() {}
    /// Whether the migrations have been applied.
    package var isMigrated: Bool { migrated.load(ordering: .acquiring) }
    /// Records that the schema is current.
    package func markMigrated() { migrated.store(true, ordering: .releasing) }
}
