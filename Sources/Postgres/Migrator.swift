/// Applies pending migrations, safely from several processes at once.
///
/// Bookkeeping lives in `schema_migrations (version, name, checksum, applied_at)`. Each migration
/// runs in its own transaction that first takes a transaction-scoped advisory lock, so concurrent
/// migrators queue up and each sees what the previous one committed. Refuses to touch a database
/// that has a version this code does not know, or whose applied SQL differs from the code's.
public enum Migrator {
    /// Arbitrary but fixed: "SCIMMIGR" in ASCII. Advisory locks are per database.
    static let lockKey: Int64 = 0x5343_494D_4D49_4752

    /// Applies pending migrations using one pooled connection.
    @discardableResult
    public static func migrate(_ pool: PostgresPool, migrations: [Migration]) throws(PostgresError) -> MigrationReport {
        let connection = try pool.checkout(timeout: pool.checkoutTimeout)
        defer { pool.checkin(connection) }
        return try migrate(connection, migrations: migrations)
    }

    /// Applies pending migrations on `connection` (which must not be inside a transaction).
    @discardableResult
    public static func migrate(_ connection: PostgresConnection, migrations: [Migration]) throws(PostgresError)
        -> MigrationReport
    {
        try validate(migrations)
        var applied: [Int] = []
        while true {
            let step = try inTransaction(connection) { () throws(PostgresError) -> (Migration?, Int) in
                try connection.query("SELECT pg_advisory_xact_lock($1)", [.int(lockKey)])
                try connection.executeScript(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version bigint PRIMARY KEY,
                        name text NOT NULL,
                        checksum text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )
                    """)
                let rows = try connection.query("SELECT version, checksum FROM schema_migrations ORDER BY version")
                var done: [Int: String] = [:]
                for row in 0..<rows.rowCount {
                    guard let version = rows.int(row: row, column: 0), let checksum = rows.string(row: row, column: 1)
                    else { throw PostgresError(.protocolViolation, context: "schema_migrations has an unreadable row") }
                    done[Int(version)] = checksum
                }
                let current = done.keys.max() ?? 0
                guard let next = try pending(migrations, applied: done) else { return (nil, current) }
                do throws(PostgresError) {
                    try connection.executeScript(next.sql)
                } catch {
                    throw PostgresError(
                        error.kind, context: "migration \(next.version) (\(next.name)) failed", sqlState: error.sqlState,
                        constraint: error.constraint, table: error.table, serverMessage: error.serverMessageForLogs)
                }
                try connection.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    [.int(Int64(next.version)), .text(next.name), .text(next.checksum)])
                return (next, next.version)
            }
            guard let migration = step.0 else { return MigrationReport(applied: applied, currentVersion: step.1) }
            applied.append(migration.version)
        }
    }

    /// Checks the list itself: positive, strictly increasing versions.
    static func validate(_ migrations: [Migration]) throws(PostgresError) {
        var previous = 0
        for migration in migrations {
            guard migration.version > previous else {
                throw PostgresError.migrationRefused(
                    "migration versions must be positive and strictly increasing (\(migration.version) after \(previous))")
            }
            previous = migration.version
        }
    }

    /// The next migration to apply, given the applied versions and checksums; nil when up to date.
    /// Pure, so the refusal rules are unit-testable.
    static func pending(_ migrations: [Migration], applied: [Int: String]) throws(PostgresError) -> Migration? {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        let newestKnown = migrations.last?.version ?? 0
        for (version, checksum) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[version] else {
                if version > newestKnown {
                    throw PostgresError.migrationRefused(
                        "database has migration \(version), newer than the newest this build knows (\(newestKnown))")
                }
                throw PostgresError.migrationRefused("database has migration \(version), which this build does not know")
            }
            guard migration.checksum == checksum else {
                throw PostgresError.migrationRefused(
                    "checksum mismatch for applied migration \(version) (\(migration.name)): its SQL was edited")
            }
        }
        let newestApplied = applied.keys.max() ?? 0
        guard let next = migrations.first(where: { applied[$0.version] == nil }) else { return nil }
        guard next.version > newestApplied else {
            throw PostgresError.migrationRefused(
                "migration \(next.version) is pending but \(newestApplied) is already applied (out of order)")
        }
        return next
    }

    /// BEGIN … COMMIT with typed errors; ROLLBACK when `body` throws.
    private static func inTransaction<R>(
        _ connection: PostgresConnection, _ body: () throws(PostgresError) -> R
    ) throws(PostgresError) -> R {
        try connection.executeScript("BEGIN")
        let value: R
        do throws(PostgresError) {
            value = try body()
        } catch {
            if !connection.isBroken { try? connection.executeScript("ROLLBACK") }
            throw error
        }
        try connection.executeScript("COMMIT")
        return value
    }
}
