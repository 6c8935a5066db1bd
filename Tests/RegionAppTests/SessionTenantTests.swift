import Testing
import HTTPCore
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents

/// Reads set the tenant at session level only when a pooled connection switches tenant. With one connection,
/// every request reuses the same session: the setting must always match the request's tenant, including after a
/// failed statement (whose rollback also reverts the session setting).
@Suite struct SessionTenantTests {
    @Test func oneConnectionServingTenantsInTurnNeverMixesThem() throws {
        let region = try Region(poolSize: 1)
        let a = region.tenant(), b = region.tenant()
        let ua = a.user("alice@a.example.com"), ub = b.user("bob@b.example.com")
        var bUsers = [ub]
        for round in 0..<5 {
            #expect(a.send(.get, "/Users/\(ua)").json["userName"]?.string == "alice@a.example.com", "round \(round)")
            #expect(a.send(.get, "/Users/\(ub)").status.code == 404)
            #expect(b.send(.get, "/Users/\(ub)").json["userName"]?.string == "bob@b.example.com")
            #expect(b.send(.get, "/Users/\(ua)").status.code == 404)
            #expect(a.ids("/Users") == [ua])
            #expect(Set(b.ids("/Users")) == Set(bUsers))
            // A write (transaction-local setting) between reads leaves the session setting as it was.
            bUsers.append(b.user("extra\(round)@b.example.com"))
            #expect(a.ids("/Users") == [ua])
        }
    }

    @Test func aFailedReadDoesNotLeaveAStaleSessionTenant() throws {
        let region = try Region(poolSize: 1)
        let a = region.tenant(), b = region.tenant()
        let ua = a.user("carol@a.example.com")
        let ub = b.user("dave@b.example.com")
        let database = RegionDatabase(pool: region.pool, region: "test", autoProvision: false, logger: .init(label: "t", level: .critical))
        #expect(a.ids("/Users") == [ua])
        // A read for B fails inside the statement that also switched the session to B: the server rolls the
        // setting back to A, so the connection must not believe it holds B.
        #expect(throws: (any Error).self) {
            _ = try database.read(tenant: b.id, { _ in [.sql("SELECT 1 / 0", [])] }, decode: { _, _ in 0 })
        }
        let tag = try region.pool.withConnection { $0.sessionTag }
        #expect(tag == nil)
        let seen = try database.read(tenant: b.id, { _ in [.sql("SELECT id::text FROM users WHERE tenant_id = $1::uuid", [.text(b.id)])] },
                                     decode: { _, r in (0..<r[0].rowCount).compactMap { r[0].string(row: $0, column: 0) } })
        #expect(seen == [ub])
        // Row-level security agrees: without the explicit tenant filter the session still sees only B.
        let unfiltered = try database.read(tenant: b.id, { _ in [.sql("SELECT id::text FROM users", [])] },
                                           decode: { _, r in (0..<r[0].rowCount).compactMap { r[0].string(row: $0, column: 0) } })
        #expect(unfiltered == [ub])
    }
}
