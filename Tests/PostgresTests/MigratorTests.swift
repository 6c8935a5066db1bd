import Postgres
import TestSupport
import Testing

@Suite struct MigratorTests {
    static let v1 = Migration(
        version: 1, name: "users",
        sql: """
            CREATE TABLE users (id uuid PRIMARY KEY, user_name text NOT NULL);
            CREATE UNIQUE INDEX users_user_name_key ON users (lower(user_name));
            """)
    static let v2 = Migration(version: 2, name: "groups", sql: "CREATE TABLE groups (id uuid PRIMARY KEY, name text)")
    static let v3 = Migration(version: 3, name: "users_active", sql: "ALTER TABLE users ADD COLUMN active bool")

    func versions(_ connection: PostgresConnection) throws -> [Int64] {
        let rows = try connection.query("SELECT version FROM schema_migrations ORDER BY version")
        return (0..<rows.rowCount).compactMap { rows.int(row: $0, column: 0) }
    }

    @Test func appliesPendingThenRerunIsANoOp() throws {
        try TestDatabase.with("migrate") { database in
            let pool = PostgresPool(configuration: database.appConfiguration, maxConnections: 2)
            let first = try Migrator.migrate(pool, migrations: [Self.v1, Self.v2])
            #expect(first == MigrationReport(applied: [1, 2], currentVersion: 2))
            let again = try Migrator.migrate(pool, migrations: [Self.v1, Self.v2])
            #expect(again == MigrationReport(applied: [], currentVersion: 2))
            let third = try Migrator.migrate(pool, migrations: [Self.v1, Self.v2, Self.v3])
            #expect(third == MigrationReport(applied: [3], currentVersion: 3))
            try pool.withConnection { conn in
                #expect(try versions(conn) == [1, 2, 3])
                let row = try conn.query("SELECT name, checksum, applied_at IS NOT NULL FROM schema_migrations WHERE version = 3")
                #expect(row.string(row: 0, column: 0) == "users_active")
                #expect(row.string(row: 0, column: 1) == Self.v3.checksum)
                #expect(row.bool(row: 0, column: 2) == true)
                try conn.execute("INSERT INTO users (id, user_name, active) VALUES (gen_random_uuid(), 'a', true)")
            }
        }
    }

    @Test func concurrentMigratorsApplyEachMigrationOnce() throws {
        try TestDatabase.with("migraterace") { database in
            let reports = Collected<MigrationReport>()
            let failures = Collected<String>()
            let slow = Migration(version: 2, name: "slow", sql: "SELECT pg_sleep(0.2); CREATE TABLE slow (n int)")
            onThreads(4) { _ in
                do {
                    let connection = try PostgresConnection(configuration: database.appConfiguration)
                    reports.append(try Migrator.migrate(connection, migrations: [Self.v1, slow, Self.v3]))
                } catch {
                    failures.append("\(error)")
                }
            }
            #expect(failures.all.isEmpty)
            let applied = reports.all.flatMap(\.applied).sorted()
            #expect(applied == [1, 2, 3])
            #expect(reports.all.allSatisfy { $0.currentVersion == 3 })
            let connection = try PostgresConnection(configuration: database.appConfiguration)
            #expect(try versions(connection) == [1, 2, 3])
        }
    }

    @Test func refusesDatabaseNewerThanTheCode() throws {
        try TestDatabase.with("migratenewer") { database in
            let connection = try PostgresConnection(configuration: database.appConfiguration)
            try Migrator.migrate(connection, migrations: [Self.v1, Self.v2, Self.v3])
            do {
                try Migrator.migrate(connection, migrations: [Self.v1, Self.v2])
                Issue.record("expected refusal")
            } catch let error as PostgresError {
                #expect(error.kind == .migrationRefused)
                #expect(
                    error.description
                        == "PostgresError(migrationRefused, database has migration 3, newer than the newest this build knows (2))"
                )
            }
        }
    }

    @Test func refusesEditedMigrationAndRollsBackAFailedOne() throws {
        try TestDatabase.with("migrateedit") { database in
            let connection = try PostgresConnection(configuration: database.appConfiguration)
            try Migrator.migrate(connection, migrations: [Self.v1])
            let edited = Migration(version: 1, name: "users", sql: Self.v1.sql + "\n-- tweak")
            do {
                try Migrator.migrate(connection, migrations: [edited])
                Issue.record("expected refusal")
            } catch let error as PostgresError {
                #expect(error.kind == .migrationRefused)
                #expect(error.context == "checksum mismatch for applied migration 1 (users): its SQL was edited")
            }
            // The second statement fails: the first one (CREATE TABLE) must be rolled back with it.
            let broken = Migration(
                version: 2, name: "broken", sql: "CREATE TABLE half (n int); ALTER TABLE no_such_table ADD COLUMN x int")
            do {
                try Migrator.migrate(connection, migrations: [Self.v1, broken])
                Issue.record("expected failure")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42P01")
                #expect(error.context == "migration 2 (broken) failed")
            }
            #expect(try versions(connection) == [1])
            let half = try connection.query("SELECT to_regclass('half') IS NULL")
            #expect(half.bool(row: 0, column: 0) == true)
            #expect(!connection.isBroken)
        }
    }
}
