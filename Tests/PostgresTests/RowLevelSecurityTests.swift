import Postgres
import TestSupport
import Testing

/// Row-level security is the second wall behind `WHERE tenant_id = $1`: the app role `scim` must
/// only ever see rows of the tenant named by the per-transaction setting `app.tenant_id`.
@Suite struct RowLevelSecurityTests {
    static let schema = Migration(
        version: 1, name: "tenant_users",
        sql: """
            CREATE TABLE tenant_users (
                tenant_id text NOT NULL,
                user_name text NOT NULL,
                PRIMARY KEY (tenant_id, user_name)
            );
            ALTER TABLE tenant_users ENABLE ROW LEVEL SECURITY;
            -- FORCE: the table owner (our app role created it) is subject to the policy too.
            ALTER TABLE tenant_users FORCE ROW LEVEL SECURITY;
            -- current_setting(..., true) is NULL/'' when unset, which matches no row.
            CREATE POLICY tenant_isolation ON tenant_users
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            """)

    @Test func appRoleSeesOnlyItsTenantAndUnscopedSeesNothing() throws {
        try TestDatabase.with("rls") { database in
            let pool = PostgresPool(configuration: database.appConfiguration, maxConnections: 2)
            try Migrator.migrate(pool, migrations: [Self.schema])

            let setTenant = PreparedStatement("SELECT set_config('app.tenant_id', $1, true)")
            @discardableResult func scoped<R>(_ tenant: String, _ body: (PostgresConnection) throws -> R) throws -> R {
                // The tenant scope travels with BEGIN in one round trip.
                try pool.withTransaction(setup: [.prepared(setTenant, [.text(tenant)])]) { conn in
                    try body(conn)
                }
            }
            try scoped("acme") { conn in
                try conn.execute("INSERT INTO tenant_users VALUES ('acme', 'alice'), ('acme', 'bob')")
            }
            try scoped("globex") { conn in
                try conn.execute("INSERT INTO tenant_users VALUES ('globex', 'carol')")
            }

            func names(_ result: PostgresResult) -> [String] {
                (0..<result.rowCount).compactMap { result.string(row: $0, column: 0) }
            }
            // No WHERE clause at all: the policy alone filters.
            let acme = try scoped("acme") { try names($0.query("SELECT user_name FROM tenant_users ORDER BY 1")) }
            #expect(acme == ["alice", "bob"])
            let globex = try scoped("globex") { try names($0.query("SELECT user_name FROM tenant_users ORDER BY 1")) }
            #expect(globex == ["carol"])

            // Without a tenant in scope nothing is visible, and nothing can be changed.
            let unscoped = try pool.withConnection { try names($0.query("SELECT user_name FROM tenant_users")) }
            #expect(unscoped.isEmpty)
            let deleted = try pool.withConnection { try $0.execute("DELETE FROM tenant_users") }
            #expect(deleted == 0)

            // A tenant cannot write rows for another tenant.
            do {
                try scoped("acme") { try $0.execute("INSERT INTO tenant_users VALUES ('globex', 'mallory')") }
                Issue.record("expected an RLS violation")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42501")
                #expect(!error.description.contains("mallory"))
            }

            // The scope was transaction-local: it does not leak to the next user of the connection.
            let after = try pool.withConnection { try names($0.query("SELECT user_name FROM tenant_users")) }
            #expect(after.isEmpty)

            // Same scoping in one round trip with a pipeline.
            let piped = try pool.withConnection { conn in
                try conn.pipeline([
                    .prepared(setTenant, ["globex"]),
                    .sql("SELECT user_name FROM tenant_users ORDER BY 1"),
                ])
            }
            #expect(names(piped[1]) == ["carol"])

            // The superuser bypasses RLS: all three rows exist.
            let admin = try PostgresConnection(configuration: database.adminConfiguration)
            #expect(try admin.query("SELECT count(*) FROM tenant_users").int(row: 0, column: 0) == 3)
            let role = try admin.query(
                "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", [.text(database.appConfiguration.user ?? "")])
            #expect(role.bool(row: 0, column: 0) == false && role.bool(row: 0, column: 1) == false)
        }
    }
}
