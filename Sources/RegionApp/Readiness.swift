import Postgres
import RegionLink
import SCIMCore
import ServerRuntime
import Synchronization
import RegionSCIM
import RegionEvents

/// Whether the database schema is in place and the process is not shutting down (`/readyz`).
package final class Readiness: Sendable {
    private let migrated = Atomic<Bool>(false)
    private let draining = Atomic<Bool>(false)
    /// Not ready until `markMigrated`.
    package init() {}
    /// Whether the migrations have been applied.
    package var isMigrated: Bool { migrated.load(ordering: .acquiring) }
    /// Records that the schema is current.
    package func markMigrated() { migrated.store(true, ordering: .releasing) }
    /// Whether a shutdown has begun (`/readyz` then answers 503 while requests are still served).
    package var isDraining: Bool { draining.load(ordering: .acquiring) }
    /// Stops advertising readiness for good: the gateways' probes take this replica out of their sets.
    package func markDraining() { draining.store(true, ordering: .releasing) }
}
