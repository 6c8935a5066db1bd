#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import Postgres
import TestSupport

/// Every row of every table in a region database, as text (superuser: row-level security does not hide rows).
func allRowsText(_ deployment: Deployment, region: String, excluding excluded: Set<String> = []) throws -> String {
    let c = try deployment.regionAdmin(region)
    let tables = try c.query("SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
    var text = ""
    for i in 0..<tables.rowCount where !excluded.contains(tables.string(row: i, column: 0) ?? "") {
        let r = try c.query("SELECT t::text FROM \(tables.string(row: i, column: 0)!) t")
        for row in 0..<r.rowCount { text += (r.string(row: row, column: 0) ?? "") + "\n" }
    }
    return text
}

func json(_ r: HTTPResponse) -> JSONValue? { try? JSONDecoder.decode(r.body) }

@Suite(.serialized) struct GatewayDeploymentTests {
    @Test func dataStaysInTheTenantsHomeRegion() throws {
        let d = try Deployment("residency")
        defer { d.stop() }
        let us = try d.createTenant("acme-us", region: "us")
        let eu = try d.createTenant("acme-eu", region: "eu2")
        let usName = "alice.\(monotonicMillis())@us.example.com", euName = "bob.\(monotonicMillis())@eu.example.com"
        let r1 = try d.scim(.post, "/scim/v2/Users", token: us.token, body: userBody(usName))
        let r2 = try d.scim(.post, "/scim/v2/Users", token: eu.token, body: userBody(euName))
        #expect(r1.status.code == 201)
        #expect(r2.status.code == 201)
        let usRows = try allRowsText(d, region: "us"), euRows = try allRowsText(d, region: "eu2")
        #expect(usRows.contains(usName))
        #expect(!usRows.contains(euName))
        #expect(euRows.contains(euName))
        #expect(!euRows.contains(usName))
        #expect(!usRows.contains(eu.id))
        #expect(!euRows.contains(us.id))
        // Each token sees only its own tenant's users.
        let listUS = json(try d.scim(.get, "/scim/v2/Users", token: us.token))
        #expect(listUS?["totalResults"]?.int == 1)
        #expect(listUS?["Resources"]?[0]?["userName"]?.string == usName)
        let euID = json(r2)?["id"]?.string ?? "x"
        #expect(try d.scim(.get, "/scim/v2/Users/\(euID)", token: us.token).status.code == 404)
    }

    @Test func wrongRegionHostIsMisdirectedAndLocationsUseThePublicHost() throws {
        let d = try Deployment("hosts")
        defer { d.stop() }
        let us = try d.createTenant("hosts-us", region: "us")
        let wrong = try d.scim(.get, "/scim/v2/Users", token: us.token, host: "eu2-api.example.com")
        #expect(wrong.status.code == 421)
        #expect(json(wrong)?["detail"]?.string?.contains("https://api.example.com/scim/v2") == true)
        let created = try d.scim(.post, "/scim/v2/Users", token: us.token, body: userBody("loc@example.com"), host: "api.example.com")
        #expect(created.status.code == 201)
        #expect(created.headers["Location"]?.hasPrefix("https://api.example.com/scim/v2/Users/") == true)
        #expect(json(created)?["meta"]?["location"]?.string == created.headers["Location"])
        // On a host that belongs to no region (local use), URLs follow the Host the client used.
        let local = try d.scim(.post, "/scim/v2/Users", token: us.token, body: userBody("local@example.com"), host: "127.0.0.1:1234")
        #expect(local.headers["Location"]?.hasPrefix("http://127.0.0.1:1234/scim/v2/Users/") == true)
    }

    @Test func integrationLifecycleDeactivateUpdateTokenReactivate() throws {
        let d = try Deployment("lifecycle")
        defer { d.stop() }
        let t = try d.createTenant("jumpcloud", region: "eu2")
        let created = try d.scim(.post, "/scim/v2/Users", token: t.token, body: userBody("keep@example.com"))
        let userID = try #require(json(created)?["id"]?.string)

        #expect(try d.admin(.post, "/admin/v1/tenants/\(t.id)/integration/deactivate").0 == 200)
        let refused = try d.scim(.get, "/scim/v2/Users", token: t.token)
        #expect(refused.status.code == 401)
        #expect(refused.headers["WWW-Authenticate"]?.hasPrefix("Bearer") == true)
        #expect(json(refused)?["detail"]?.string?.contains("integration deactivated") == true)
        #expect(json(refused)?["schemas"]?[0]?.string == "urn:ietf:params:scim:api:messages:2.0:Error")
        let write = try d.scim(.post, "/scim/v2/Users", token: t.token, body: userBody("ghost@example.com"))
        #expect(write.status.code == 401)
        // Nothing is written to the directory (the request log records the refused request: that is its job).
        #expect(!(try allRowsText(d, region: "eu2", excluding: ["request_log"])).contains("ghost@example.com"))

        let (status, replaced) = try d.admin(.post, "/admin/v1/tenants/\(t.id)/integration/token")
        #expect(status == 201)
        let newToken = try #require(replaced?["token"]?["token"]?.string)
        #expect(json(try d.scim(.get, "/scim/v2/Users", token: t.token))?["detail"]?.string?.contains("invalid") == true)
        let stillOff = try d.scim(.get, "/scim/v2/Users", token: newToken)
        #expect(stillOff.status.code == 401)
        #expect(json(stillOff)?["detail"]?.string?.contains("integration deactivated") == true)

        #expect(try d.admin(.post, "/admin/v1/tenants/\(t.id)/integration/reactivate").0 == 200)
        let back = try d.scim(.get, "/scim/v2/Users/\(userID)", token: newToken)
        #expect(back.status.code == 200)
        #expect(json(back)?["userName"]?.string == "keep@example.com")
        #expect(try d.scim(.get, "/scim/v2/Users", token: t.token).status.code == 401)

        let (_, audit) = try d.admin(.get, "/admin/v1/audit?tenant=\(t.id)")
        let actions = audit?["entries"]?.array?.compactMap { $0["action"]?.string } ?? []
        #expect(actions.contains("integration.deactivate") && actions.contains("integration.update_token")
                && actions.contains("integration.reactivate"))
    }

    @Test func rotationGraceRevocationAndASecondReplica() throws {
        let d = try Deployment("rotation", gateways: 2)
        defer { d.stop() }
        let t = try d.createTenant("rotating", region: "us")
        let (_, tokens) = try d.admin(.get, "/admin/v1/tenants/\(t.id)/tokens")
        let oldID = try #require(tokens?["tokens"]?[0]?["id"]?.string)
        let (status, rotation) = try d.admin(.post, "/admin/v1/tenants/\(t.id)/tokens/\(oldID)/rotate", ["graceSeconds": 2])
        #expect(status == 201)
        let newToken = try #require(rotation?["token"]?["token"]?.string)
        let newID = try #require(rotation?["token"]?["id"]?.string)
        #expect(try d.scim(.get, "/scim/v2/Users", token: t.token).status.code == 200)
        #expect(try d.scim(.get, "/scim/v2/Users", token: newToken, gateway: 1).status.code == 200)
        sleepMillis(2500)
        #expect(try d.scim(.get, "/scim/v2/Users", token: t.token).status.code == 401)
        #expect(try d.scim(.get, "/scim/v2/Users", token: t.token, gateway: 1).status.code == 401)

        // Revoke on replica 0; replica 1 (which has the token cached) must refuse within a second.
        #expect(try d.scim(.get, "/scim/v2/Users", token: newToken, gateway: 1).status.code == 200)
        #expect(try d.admin(.post, "/admin/v1/tenants/\(t.id)/tokens/\(newID)/revoke", gateway: 0).0 == 200)
        let revokedAt = monotonicMillis()
        var refusedAfter: Int? = nil
        while monotonicMillis() - revokedAt < 3000 {
            if try d.scim(.get, "/scim/v2/Users", token: newToken, gateway: 1).status.code == 401 {
                refusedAfter = monotonicMillis() - revokedAt
                break
            }
            sleepMillis(20)
        }
        #expect(refusedAfter != nil && refusedAfter! < 1000, "refused after \(refusedAfter ?? -1) ms")
    }

    @Test func aDeadRegionAnswers503WhileTheOtherKeepsServing() throws {
        let d = try Deployment("outage")
        defer { d.stop() }
        let us = try d.createTenant("outage-us", region: "us")
        let eu = try d.createTenant("outage-eu", region: "eu2")
        #expect(try d.scim(.get, "/scim/v2/Users", token: us.token).status.code == 200)
        d.stopRegion("us", kill: true)
        let started = monotonicMillis()
        let down = try d.scim(.get, "/scim/v2/Users", token: us.token)
        #expect(down.status.code == 503)
        #expect(down.headers["Retry-After"] != nil)
        #expect(json(down)?["schemas"]?[0]?.string == "urn:ietf:params:scim:api:messages:2.0:Error")
        #expect(monotonicMillis() - started < 3000)
        for _ in 0..<20 { #expect(try d.scim(.get, "/scim/v2/Users", token: eu.token).status.code == 200) }
        try d.startRegion("us")
        // Served again once the gateway sees it up: its breaker may stay open until the next good health probe
        // (every second), so allow a few seconds.
        var status = 0
        let deadline = monotonicMillis() + 5000
        repeat {
            status = try d.scim(.get, "/scim/v2/Users", token: us.token).status.code
            if status != 200 { sleepMillis(100) }
        } while status != 200 && monotonicMillis() < deadline
        #expect(status == 200)
    }

    @Test func badOrMissingTokensAre401AndNoSecretIsLogged() throws {
        let d = try Deployment("secrets")
        defer { d.stop() }
        let t = try d.createTenant("quiet", region: "us")
        let (_, issued) = try d.admin(.post, "/admin/v1/tenants/\(t.id)/tokens", ["label": "second"])
        let second = try #require(issued?["token"]?.string)
        let scimKey = try #require(issued?["scimKey"]?.string)
        for token in [nil, "garbage", "scim_" + String(repeating: "a", count: 55)] as [String?] {
            let r = try d.scim(.get, "/scim/v2/Users?filter=userName+eq+%22x%22", token: token)
            #expect(r.status.code == 401)
            #expect(json(r)?["status"]?.string == "401")
        }
        #expect(try d.scim(.get, "/scim/v2/Users", token: t.token).status.code == 200)
        #expect(try d.scim(.get, "/scim/v2/Users", token: second).status.code == 200)
        let logs = d.logs
        #expect(logs.contains("\"request.id\""))
        #expect(!logs.contains(t.token))
        #expect(!logs.contains(second))
        #expect(!logs.contains(scimKey))
        #expect(!logs.contains(d.adminToken))
    }

    @Test func keyRotationWithoutDowntime() throws {
        let d = try Deployment("keys")
        defer { d.stop() }
        let t = try d.createTenant("keyed", region: "eu2")
        #expect(try d.scim(.get, "/scim/v2/Users", token: t.token).status.code == 200)
        let (pepperStatus, pepper) = try d.admin(.post, "/admin/v1/keys/pepper/rotate")
        #expect(pepperStatus == 200)
        let oldPepper = try #require(pepper?["previous"]?[0]?.string)
        #expect(try d.scim(.get, "/scim/v2/Users", token: t.token).status.code == 200)  // re-hashed on this use
        #expect(try d.admin(.post, "/admin/v1/keys/pepper/\(oldPepper)/retire").0 == 204)
        #expect(try d.scim(.get, "/scim/v2/Users", token: t.token).status.code == 200)

        let (linkStatus, link) = try d.admin(.post, "/admin/v1/keys/link/rotate?waitSeconds=20")
        #expect(linkStatus == 200, "\(link.map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "")")
        #expect(try d.scim(.get, "/scim/v2/Users", token: t.token).status.code == 200)
        let oldLink = try #require(link?["previous"]?[0]?.string)
        #expect(try d.admin(.post, "/admin/v1/keys/link/\(oldLink)/retire").0 == 204)
        sleepMillis(2500)  // regions reload the keyring
        #expect(try d.scim(.get, "/scim/v2/Users", token: t.token).status.code == 200)
    }
}
