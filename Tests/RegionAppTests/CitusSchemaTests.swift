import Postgres
@testable import RegionSCIM
import TestSupport
import Testing

/// The region schema stays ready to be distributed by tenant with Citus (`DistributionRules`): checked against the
/// catalog of a database migrated exactly as a region migrates its own, and shown to catch violations.
@Suite struct CitusSchemaTests {
    @Test func theLiveRegionSchemaFollowsTheDistributionRules() throws {
        let database = try RegionTestDatabase.get()
        let connection = try PostgresConnection(configuration: database.adminConfiguration)
        let problems = try DistributionRules.violations(connection)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        // The check saw the tables it is about (an empty catalog would pass anything).
        let tables = try connection.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY($1::text[])",
                                          [.text("{tenants,users,user_emails,groups,group_members,events,webhook_endpoints,region_secrets}")])
        #expect(tables.int(row: 0, column: 0) == 8)
        // Every listed shared sequence and reference table still exists (a stale allowance would hide nothing, but
        // would mislead the reader).
        for name in DistributionRules.referenceTables.keys {
            #expect(try connection.query("SELECT to_regclass($1) IS NOT NULL", [.text(name)]).bool(row: 0, column: 0) == true, "\(name)")
        }
        for entry in DistributionRules.sharedSequences.keys {
            let parts = entry.split(separator: ".").map(String.init)
            let identity = try connection.query(
                "SELECT attidentity <> '' FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2", [.text(parts[0]), .text(parts[1])])
            #expect(identity.rowCount == 1 && identity.bool(row: 0, column: 0) == true, "\(entry)")
        }
    }

    /// The rules fail on tables that break them: a scratch database migrated like a region, plus what a careless
    /// migration could add.
    @Test func aTableThatBreaksTheRulesIsReported() throws {
        try TestDatabase.with("citus_rules") { database in
            let pool = PostgresPool(configuration: database.appConfiguration, maxConnections: 1)
            try Migrator.migrate(pool, migrations: RegionSchema.migrations)
            pool.close()
            let connection = try PostgresConnection(configuration: database.adminConfiguration)
            #expect(try DistributionRules.violations(connection).isEmpty)
            try connection.executeScript("""
                -- A log keyed by a global serial, with the tenant as a mere column.
                CREATE TABLE request_notes (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants (id), note text);
                -- A uniqueness check that spans tenants, and a link that finds users by id alone.
                CREATE UNIQUE INDEX users_id_alone ON users (id);
                CREATE TABLE user_links (tenant_id uuid NOT NULL, user_id uuid NOT NULL, target text NOT NULL,
                                         PRIMARY KEY (tenant_id, user_id, target),
                                         FOREIGN KEY (user_id) REFERENCES users (id));
                -- Shared but not declared as such, and a shared table pointing at tenant rows.
                CREATE TABLE feature_flags (name text PRIMARY KEY, enabled boolean NOT NULL);
                ALTER TABLE region_secrets ADD COLUMN owner uuid REFERENCES tenants (id);
                """)
            let problems = try DistributionRules.violations(connection)
            let expected = [
                "feature_flags: neither a tenant table (no tenant_id) nor listed as a reference table",
                "region_secrets: reference table with foreign key region_secrets_owner_fkey to tenant table tenants",
                "request_notes: primary key request_notes_pkey does not start with tenant_id (starts with id)",
                "request_notes.id: filled from a sequence shared by every tenant (not listed as harmless)",
                "user_links: foreign key user_links_user_id_fkey to users does not start with the tenant column on both sides (user_id → id)",
                "users: unique index users_id_alone does not start with tenant_id (starts with id)",
            ]
            #expect(problems.sorted() == expected.sorted(), "\(problems.joined(separator: "\n"))")
        }
    }
}
