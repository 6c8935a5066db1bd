/// One schema change: applied once, in version order, in its own transaction.
///
/// The SQL may hold several statements; it runs inside a transaction, so statements that refuse
/// to (`CREATE INDEX CONCURRENTLY`, `VACUUM`) cannot be used here.
public struct Migration: Sendable, Hashable {
    /// Positive, strictly increasing across the list.
    public let version: Int
    /// Short human name, stored with the version.
    public let name: String
    /// The statements to run.
    public let sql: String

    /// A migration.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Fingerprint of `sql`, stored when applied: editing an applied migration is detected.
    public var checksum: String { FNV1a.hex(sql) }
}
