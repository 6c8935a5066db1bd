import Postgres
@testable import RegionMove
@testable import RegionSCIM
import TestSupport
import Testing

/// The move copies every tenant table it finds in the live schema; only `TenantTables.excluded` is named by hand.
/// These tests fail when a migration adds a tenant table a move could not carry (no primary key, or one that does
/// not start with `tenant_id`), or when the hand-written list names a table that no longer exists.
@Suite(.serialized) struct TenantTablesTests {
    @Test func everyTenantTableIsCopiedOrListedAsExcluded() throws {
        let region = try MoveTestRegion("cover")
        let tables = try region.pool.withConnection { try TenantTables.discover($0) }
        #expect(tables.problems.isEmpty, "tenant tables a move cannot carry: \(tables.problems)")
        // Independently of the discovery query: every table of the schema with a tenant_id column, and tenants.
        let r = try region.pool.withConnection { c in
            try c.query("""
                SELECT DISTINCT table_name::text FROM information_schema.columns
                WHERE table_schema = current_schema() AND (column_name = 'tenant_id' OR table_name = 'tenants')
                """)
        }
        let tenantTables = Set((0..<r.rowCount).compactMap { r.string(row: $0, column: 0) })
        let copied = Set(tables.plans.map(\.name))
        let excluded = Set(TenantTables.excluded.keys)
        for name in tenantTables {
            #expect(copied.contains(name) != excluded.contains(name),
                    "tenant table \(name) must be either copied or listed in TenantTables.excluded with a reason")
        }
        #expect(excluded.isSubset(of: tenantTables), "TenantTables.excluded names tables that do not exist: \(excluded.subtracting(tenantTables))")
        #expect(copied.isSuperset(of: ["tenants", "users", "user_emails", "groups", "group_members", "events", "webhook_endpoints",
                                       "webhook_dead_letters", "idp_quirks"]))
        // Parents before children, and the tenant column leads every key.
        for (i, plan) in tables.plans.enumerated() {
            for parent in plan.references where parent != plan.name {
                let j = tables.plans.firstIndex { $0.name == parent }
                #expect(j != nil && j! < i, "\(plan.name) references \(parent), which must be copied first")
            }
        }
        #expect(tables.plans.first?.name == "tenants")
        #expect(tables.plan("group_members")?.key.map(\.name) == ["group_id", "member_id"])
        #expect(tables.plan("group_members")?.columns.first { $0.name == "seq" }?.sequence != nil, "identity sequences are found")
        #expect(tables.plan("webhook_endpoints")?.key.isEmpty == true, "one row per tenant")
    }

    @Test func aTenantTableWithoutAUsableKeyIsNamedAsAProblem() throws {
        let region = try MoveTestRegion("badkey", extraSQL: """
            CREATE TABLE audit_notes (tenant_id uuid NOT NULL, note text);
            CREATE TABLE role_grants (tenant_id uuid NOT NULL, id bigint NOT NULL, PRIMARY KEY (id, tenant_id));
            """)
        let tables = try region.pool.withConnection { try TenantTables.discover($0) }
        #expect(tables.problems.contains { $0.contains("audit_notes") && $0.contains("no primary key") })
        #expect(tables.problems.contains { $0.contains("role_grants") && $0.contains("does not start with tenant_id") })
        #expect(tables.plan("audit_notes") == nil && tables.plan("role_grants") == nil)
        // A move refuses to start on such a schema: the schema answer carries the problems to the mover.
        let tenant = region.provision()
        let schema = region.move(.get, "/schema", tenant: tenant)
        #expect(schema.status.code == 200, "\(schema.bodyText)")
        #expect(schema.json["problems"]?.array?.count == 2)
    }

    @Test func identifiersAreQuoted() {
        #expect(SQLName("users").quoted == "\"users\"")
        #expect(SQLName("we\"ird").quoted == "\"we\"\"ird\"")
        let plan = TablePlan(name: "a\"b", tenantColumn: "tenant_id",
                             columns: [.init(name: "tenant_id", type: "uuid", generated: false, sequence: nil),
                                       .init(name: "k\"", type: "text", generated: false, sequence: nil)],
                             key: [.init(name: "k\"", type: "text", generated: false, sequence: nil)], references: [])
        #expect(plan.exportPage(after: true, only: true).contains("\"a\"\"b\""))
        #expect(plan.exportPage(after: true, only: true).contains("t.\"k\"\"\""))
        #expect(plan.keyParameters(.array([.string("x")])) == ["x"])
        #expect(plan.keyParameters(.array([])) == nil)
        #expect(plan.keyParameters(.array([.null])) == nil)
    }
}
