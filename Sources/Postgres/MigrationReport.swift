/// What `Migrator.migrate` did.
public struct MigrationReport: Sendable, Equatable {
    /// Versions applied by this call, in order.
    public var applied: [Int]
    /// The database's version afterwards (0 when empty).
    public var currentVersion: Int

    /// A report value.
    public init(applied: [Int], currentVersion: Int) {
        self.applied = applied
        self.currentVersion = currentVersion
    }
}
