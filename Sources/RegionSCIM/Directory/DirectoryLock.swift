package import Postgres

/// The tenant-wide lock that makes a rule or mapping change and the SCIM writes of that tenant see each other in
/// order. Every SCIM write transaction takes it *shared* in its first statement, before it reads the tenant's
/// settings version (`RegionDatabase.write`); a configuration change takes it *exclusive* and bumps that version.
/// So a write either finished before the change committed — and the recompute job the change starts will see what
/// it wrote — or it reads the new version and computes with the new rules. Without it, a write that read the old
/// rules could commit after the job had passed its user, leaving stale roles behind for good.
///
/// The change waits only for the writes in flight (milliseconds) and holds the lock for its own short transaction:
/// the recompute itself runs in the background without it.
package enum DirectoryLock {
    /// The lock key for a tenant (64-bit hash; a collision costs a needless wait, never a wrong answer).
    static let key = "hashtextextended('scim-directory/' || $1, 0)"
    /// The first statement of every SCIM write transaction: the tenant scope and the shared lock.
    package static let beginWrite = PreparedStatement(
        "SELECT set_config('app.tenant_id', $1, true), pg_advisory_xact_lock_shared(\(key))")
    /// A configuration change's exclusive lock.
    static let exclusive = PreparedStatement("SELECT pg_advisory_xact_lock(\(key))")
}
