import HTTPCore
import JSON
import Postgres
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import SCIMCore
import TestSupport
import Testing

/// Tenant isolation of what issue 18 added: the API refuses another tenant's path, ids and snapshot tokens, and
/// row-level security keeps the new tables' rows to their tenant for the app role whatever the statement says.
@Suite struct DirectoryIsolationTests {
    @Test func anotherTenantsRulesUsersAndSnapshotsAreOutOfReach() throws {
        let region = try Region()
        let a = region.tenant(), b = region.tenant()
        let bUser = b.user("bravo@victim.example")
        let bGroup = b.group("Victims", #","members":[{"value":"\#(bUser)"}]"#)
        b.setRoles(#"{"roles":[{"key":"secret-role"}],"rules":[{"group":{"displayName":"Victims"},"role":"secret-role"}]}"#)
        #expect(b.internalCall(.put, "attribute-mapping", #"{"fields":[{"name":"n","sources":["userName"]}]}"#).status.code == 200)
        let bSnapshot = try #require(b.internalCall(.post, "snapshots").json["snapshot"]?.string)
        let aSnapshot = try #require(a.internalCall(.post, "snapshots").json["snapshot"]?.string)

        // A signed request for A naming B in the path: 403, for every new endpoint.
        for (method, path) in [(HTTPMethod.get, "roles"), (.put, "roles"), (.delete, "roles"), (.get, "attribute-mapping"),
                               (.put, "attribute-mapping"), (.delete, "attribute-mapping"), (.post, "attribute-mapping/preview"),
                               (.get, "users/\(bUser)"), (.post, "snapshots"), (.get, "snapshots/\(bSnapshot)"),
                               (.delete, "snapshots/\(bSnapshot)")] {
            let response = region.send(method, "/internal/v1/tenants/\(b.id)/\(path)", tenant: a.id, body: method == .get || method == .delete ? nil : "{}",
                                       contentType: "application/json")
            #expect(response.status.code == 403, "\(method) \(path): \(response.status.code)")
        }
        // Under A's own path, B's ids and tokens mean nothing.
        #expect(a.internalCall(.get, "users/\(bUser)").status.code == 404)
        #expect(a.internalCall(.get, "snapshots/\(bSnapshot)").status.code == 404)
        #expect(a.internalCall(.delete, "snapshots/\(bSnapshot)").status.code == 404)
        let byID = a.internalCall(.put, "roles", #"{"roles":[{"key":"x"}],"rules":[{"group":{"id":"\#(bGroup)"},"role":"x"}]}"#)
        #expect(byID.status.code == 400 && byID.detail?.contains("has no group") == true)
        let preview = a.internalCall(.post, "attribute-mapping/preview", #"{"mapping":{"fields":[]},"users":["\#(bUser)"]}"#)
        #expect(preview.status.code == 400 && preview.detail?.contains("has no user") == true)
        // A's snapshot holds A's (nothing of B's).
        let page = a.internalCall(.get, "snapshots/\(aSnapshot)?limit=1000").json
        #expect(page["users"]?.array == [] && page["groups"]?.array == [] && page["memberships"]?.array == [])
        // And B's state is intact.
        #expect(b.roles(bUser) == ["secret-role"])
        #expect(b.internalCall(.get, "roles").json["config"]?["roles"]?[0]?["key"] == "secret-role")
    }

    @Test func rowLevelSecurityKeepsTheNewTablesToTheirTenant() throws {
        let region = try Region()
        let a = region.tenant(), b = region.tenant()
        let user = b.user("rls@victim.example")
        b.group("Victims", #","members":[{"value":"\#(user)"}]"#)
        b.setRoles(#"{"roles":[{"key":"r"}],"rules":[{"group":{"displayName":"Victims"},"role":"r"}]}"#)
        #expect(b.internalCall(.put, "attribute-mapping", #"{"fields":[{"name":"n","sources":["userName"]}]}"#).status.code == 200)
        b.recompute()
        let app = try PostgresConnection(configuration: try RegionTestDatabase.get().appConfiguration)
        let tables = ["role_configs", "user_roles", "attribute_mappings", "directory_jobs"]
        // Scoped to A: B's rows are invisible and untouchable.
        _ = try app.query("SELECT set_config('app.tenant_id', $1, false)", [.text(a.id)])
        for table in tables {
            #expect(try app.query("SELECT count(*) FROM \(table) WHERE tenant_id = $1::uuid", [.text(b.id)]).int(row: 0, column: 0) == 0, "\(table)")
        }
        #expect(try app.execute("UPDATE user_roles SET roles = '{admin}' WHERE tenant_id = $1::uuid", [.text(b.id)]) == 0)
        #expect(try app.execute("DELETE FROM role_configs WHERE tenant_id = $1::uuid", [.text(b.id)]) == 0)
        #expect(try app.execute("UPDATE users SET profile = '{}' WHERE tenant_id = $1::uuid", [.text(b.id)]) == 0)
        let planted = Result { try app.execute("INSERT INTO user_roles (tenant_id, user_id, roles) VALUES ($1::uuid, $2::uuid, '{admin}')", [.text(b.id), .text(user)]) }
        if case .failure(let error as PostgresError) = planted {
            #expect(error.sqlState == "42501", "\(error)")
        } else {
            Issue.record("a row was planted in another tenant: \(planted)")
        }
        // The recompute worker's scope reads the job rows only (to find work), nothing else.
        _ = try app.query("SELECT set_config('app.tenant_id', '', false)")
        _ = try app.query("BEGIN")
        _ = try app.query("SELECT set_config('app.region_worker', 'on', true)")
        #expect(try app.query("SELECT count(*) FROM directory_jobs WHERE tenant_id = $1::uuid", [.text(b.id)]).int(row: 0, column: 0) == 1)
        for table in ["role_configs", "user_roles", "attribute_mappings"] {
            #expect(try app.query("SELECT count(*) FROM \(table)").int(row: 0, column: 0) == 0, "\(table) in the worker's scope")
        }
        _ = try app.query("ROLLBACK")
        #expect(b.roles(user) == ["r"])
    }
}
