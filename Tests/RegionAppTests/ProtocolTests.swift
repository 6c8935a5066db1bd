import Crypto
import HTTPCore
import JSON
import NetIO
import Postgres
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import RegionLink
import SCIMCore
import Telemetry
import Testing

/// The HTTP contract: signatures, the tenant API, errors, content negotiation, discovery, Bulk, isolation.
@Suite struct ProtocolTests {
    let region: Region
    init() throws { region = try Region() }

    // MARK: Link signature

    @Test func unsignedRequestsAre401AndWriteNothing() throws {
        let t = region.tenant()
        let unsigned = region.send(.post, "/scim/v2/Users", tenant: nil, body: #"{"userName":"x"}"#,
                                   headers: [("Authorization", "Bearer \(t.id)")])
        #expect(unsigned.status.code == 401)
        #expect(unsigned.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"])
        #expect(unsigned.detail == "request is not signed by the gateway")
        // A signature over different bytes (the body was changed on the way).
        var request = HTTPRequest(method: .post, target: "/scim/v2/Users", headers: ["Host": "h", "Content-Type": "application/scim+json"],
                                  body: Array(#"{"userName":"x"}"#.utf8))
        LinkSignature.sign(&request, tenant: t.id, baseURL: region.baseURL, requestID: "r1", key: testLinkKey,
                           nowSeconds: Int(Timestamp.nowEpochMillis() / 1000))
        request.body = Array(#"{"userName":"y"}"#.utf8)
        let tampered = region.responder.respond(to: request, context: RequestContext(remoteAddress: "", connectionID: 0, isTLS: false, receivedAtNanos: 0))
        #expect(tampered.status.code == 401)
        #expect(tampered.json["detail"] == "signature does not match")
        // Unknown key id.
        var foreign = HTTPRequest(method: .get, target: "/scim/v2/Users", headers: ["Host": "h"])
        LinkSignature.sign(&foreign, tenant: t.id, baseURL: region.baseURL, requestID: "r2",
                           key: Key(purpose: .link, id: "other", secret: Array(repeating: 1, count: 32), state: .current),
                           nowSeconds: Int(Timestamp.nowEpochMillis() / 1000))
        #expect(region.responder.respond(to: foreign, context: RequestContext(remoteAddress: "", connectionID: 0, isTLS: false, receivedAtNanos: 0))
            .json["detail"] == "unknown signing key id")
        #expect(t.ids("/Users").isEmpty)
        // Health endpoints need no signature.
        #expect(region.send(.get, "/healthz", tenant: nil).status.code == 200)
        #expect(region.send(.get, "/readyz", tenant: nil).json == ["status": "ready"])
    }

    @Test func requestIdIsEchoedAndLoggedWithTheRouteTemplateNotTheId() throws {
        let t = region.tenant()
        let id = t.user("log.me@example.com")
        var request = HTTPRequest(method: .get, target: "/scim/v2/Users/\(id)?attributes=userName", headers: ["Host": "h"])
        LinkSignature.sign(&request, tenant: t.id, baseURL: region.baseURL, requestID: "req-abc-123", key: testLinkKey,
                           nowSeconds: Int(Timestamp.nowEpochMillis() / 1000))
        let response = region.responder.respond(to: request, context: RequestContext(remoteAddress: "", connectionID: 0, isTLS: false, receivedAtNanos: 0))
        #expect(response.headers["X-Request-Id"] == "req-abc-123")
        let line = try #require(region.logs.lines.first { $0.contains("req-abc-123") })
        let log = try JSONDecoder.decode(line)
        #expect(log["msg"] == "request")
        #expect(log["route"] == "/scim/v2/Users/:id")
        #expect(log["method"] == "GET")
        #expect(log["status"] == 200)
        #expect(log["tenant.id"]?.string == t.id)
        #expect(log["duration_ms"]?.double != nil)
        #expect(!line.contains(id) && !line.contains("log.me"))
    }

    @Test func developmentModeAcceptsABearerTenantAndProvisionsIt() throws {
        let dev = try Region(development: true)
        let tenant = SecureRandom.uuid()
        let created = dev.send(.post, "/scim/v2/Users", tenant: nil, body: #"{"userName":"dev@example.com"}"#,
                               headers: [("Authorization", "Bearer \(tenant.uppercased())")])
        #expect(created.status.code == 201)
        // The base URL comes from the Host header.
        #expect(created.headers["Location"]?.hasPrefix("http://region.internal/scim/v2/Users/") == true)
        #expect(dev.send(.get, "/scim/v2/Users", tenant: nil, headers: [("Authorization", "Bearer not-a-uuid")]).status.code == 401)
        // Signed requests are still verified in development mode.
        #expect(dev.send(.get, "/scim/v2/Users", tenant: tenant).json["totalResults"] == 1)
    }

    // MARK: Tenant API

    @Test func tenantAPIIsIdempotentAndDeleteRemovesEveryRow() throws {
        let id = SecureRandom.uuid()
        let body = #"{"name":"acme","deprovisionPolicy":"soft"}"#
        let created = region.send(.put, "/internal/v1/tenants/\(id)", tenant: id, body: body)
        #expect(created.status.code == 201)
        #expect(created.json == ["id": .string(id), "name": "acme", "deprovisionPolicy": "soft", "schemaExtensions": [], "validators": [],
                               "uniqueExternalId": false,
                               "requestLog": ["mode": "full", "redactAttributes": [], "retentionSeconds": 1_209_600,
                                              "maxRecords": 100_000, "maxBodyBytes": 8192]])
        #expect(region.send(.put, "/internal/v1/tenants/\(id)", tenant: id, body: body).status.code == 200)
        #expect(region.send(.get, "/internal/v1/tenants/\(id)", tenant: id).json["deprovisionPolicy"] == "soft")
        // The signed tenant must be the path's tenant.
        let other = SecureRandom.uuid()
        #expect(region.send(.get, "/internal/v1/tenants/\(id)", tenant: other).status.code == 403)
        #expect(region.send(.put, "/internal/v1/tenants/\(id)", tenant: id, body: #"{"name":"","deprovisionPolicy":"x"}"#).status.code == 400)
        // A SCIM request for a tenant never provisioned here.
        let unknown = region.send(.get, "/scim/v2/Users", tenant: other)
        #expect(unknown.status.code == 404)
        #expect(unknown.detail == "tenant not provisioned in region test")
        // Delete removes users, groups and memberships.
        let t = Tenant(id: id, region: region)
        let u = t.user("u@example.com", #","emails":[{"value":"u@example.com"}]"#)
        t.group("g", #","members":[{"value":"\#(u)"}]"#)
        #expect(region.send(.delete, "/internal/v1/tenants/\(id)", tenant: id).status.code == 204)
        #expect(region.send(.get, "/internal/v1/tenants/\(id)", tenant: id).status.code == 404)
        #expect(region.send(.delete, "/internal/v1/tenants/\(id)", tenant: id).status.code == 404)
        #expect(t.send(.get, "/Users/\(u)").status.code == 404)
        let admin = try PostgresConnection(configuration: try RegionTestDatabase.get().adminConfiguration)
        for table in ["users", "user_emails", "groups", "group_members"] {
            #expect(try admin.query("SELECT count(*) FROM \(table) WHERE tenant_id = $1::uuid", [.text(id)]).int(row: 0, column: 0) == 0)
        }
    }

    @Test func tenantSchemaExtensionsAndValidators() throws {
        let t = region.tenant(extra: """
            ,"schemaExtensions":[{"resourceType":"User","schema":{"id":"urn:condeco:params:scim:schemas:extension:condeco:2.0:User",
              "name":"CondecoUser","attributes":[{"name":"badge","type":"string"},{"name":"floor","type":"integer"}]}}],
             "validators":[{"schema":"urn:ietf:params:scim:schemas:core:2.0:User","attribute":"preferredLanguage","rule":"iso639-1"},
                           {"schema":"urn:ietf:params:scim:schemas:core:2.0:User","attribute":"addresses.country","rule":"iso3166-1-alpha2"}]
            """)
        let urn = "urn:condeco:params:scim:schemas:extension:condeco:2.0:User"
        let ok = t.send(.post, "/Users", """
            {"userName":"c@condeco.com","preferredLanguage":"de","addresses":[{"type":"work","country":"DE","locality":"Berlin"}],
             "phoneNumbers":[{"type":"work","value":"+49 30 1"},{"type":"mobile","value":"+49 170 1"}],
             "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops","costCenter":"CC-1"},
             "\(urn)":{"badge":"B-7","floor":3}}
            """)
        #expect(ok.status.code == 201)
        #expect(ok.json[urn] == ["badge": "B-7", "floor": 3])
        #expect(ok.json["schemas"]?.array?.contains(.string(urn)) == true)
        let badLanguage = t.send(.post, "/Users", #"{"userName":"d@condeco.com","preferredLanguage":"German"}"#)
        #expect(badLanguage.status.code == 400)
        #expect(badLanguage.detail == "attribute 'preferredLanguage' must be a valid ISO 639-1 language code")
        #expect(t.send(.post, "/Users", #"{"userName":"e@condeco.com","addresses":[{"country":"XX"}]}"#).status.code == 400)
        #expect(t.ids("/Users?filter=" + PercentEncoding.encode("\(urn):floor gt 2")) == [ok.json["id"]?.string ?? ""])
        // Discovery tells the truth about this tenant.
        let schemas = t.send(.get, "/Schemas").json
        #expect(schemas["totalResults"] == 4)
        #expect(t.send(.get, "/Schemas/\(urn)").json["attributes"]?[1]?["type"] == "integer")
        #expect(t.send(.get, "/ResourceTypes/User").json["schemaExtensions"]?[1]?["schema"]?.string == urn)
        // Other tenants do not see it.
        #expect(region.tenant().send(.get, "/Schemas/\(urn)").status.code == 404)
        // Bad definitions are refused with the field named.
        let bad = region.send(.put, "/internal/v1/tenants/\(SecureRandom.uuid())", tenant: nil, body: "{}")
        #expect(bad.status.code == 401)
        let id = SecureRandom.uuid()
        let invalid = region.send(.put, "/internal/v1/tenants/\(id)", tenant: id, body: """
            {"name":"x","schemaExtensions":[{"resourceType":"User","schema":{"id":"not-a-urn","attributes":[{"name":"a"}]}}]}
            """)
        #expect(invalid.status.code == 400)
        #expect(invalid.detail == "'schemaExtensions[0].schema.id' must be a URN (urn:…, letters, digits and :._-)")
    }

    // MARK: Errors and negotiation

    @Test func errorsAreAlwaysSCIMJSON() {
        let t = region.tenant()
        let malformed = t.send(.post, "/Users", #"{"userName": "#)
        #expect(malformed.status.code == 400)
        #expect(malformed.scimType == "invalidSyntax")
        #expect(malformed.headers["Content-Type"] == "application/scim+json; charset=utf-8")
        let unknownPath = t.send(.get, "/Widgets")
        #expect(unknownPath.status.code == 404)
        #expect(unknownPath.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"])
        let wrongMethod = t.send(.delete, "/Users")
        #expect(wrongMethod.status.code == 405)
        #expect(wrongMethod.headers["Allow"] == "GET, POST")
        #expect(t.send(.post, "/ServiceProviderConfig", "{}").status.code == 405)
        #expect(t.send(.put, "/Schemas", "{}").status.code == 405)
        let me = t.send(.get, "/Me")
        #expect(me.status.code == 501)
        #expect(me.json["status"] == "501")
        let xml = region.send(.post, "/scim/v2/Users", tenant: t.id, body: "<user/>", contentType: "application/xml")
        #expect(xml.status.code == 415)
        #expect(xml.json["status"] == "415")
        // Missing Content-Type on a body is accepted (as JSON).
        #expect(region.send(.post, "/scim/v2/Users", tenant: t.id, body: #"{"userName":"noct"}"#, contentType: nil).status.code == 201)
        #expect(t.send(.post, "/Users", #"[1,2]"#).scimType == "invalidSyntax")
        #expect(t.send(.post, "/Users", #"{"userName":"dup","userName":"dup2"}"#).status.code == 400)
    }

    @Test func contentNegotiation() {
        let t = region.tenant()
        for (accept, expected) in [
            (nil, "application/scim+json; charset=utf-8"),
            ("application/scim+json", "application/scim+json; charset=utf-8"),
            ("application/json", "application/json; charset=utf-8"),
            ("application/json;q=0.9, application/scim+json", "application/scim+json; charset=utf-8"),
            ("*/*", "application/scim+json; charset=utf-8"),
        ] as [(String?, String)] {
            let response = t.send(.get, "/Users", headers: accept.map { [("Accept", $0)] } ?? [])
            #expect(response.headers["Content-Type"] == expected, "Accept: \(accept ?? "-")")
        }
        // Google sends application/json bodies.
        let google = region.send(.post, "/scim/v2/Users", tenant: t.id, body: #"{"userName":"g@example.com"}"#,
                                 headers: [("Accept", "application/json")], contentType: "application/json; charset=utf-8")
        #expect(google.status.code == 201)
        #expect(google.headers["Content-Type"] == "application/json; charset=utf-8")
    }

    @Test func databaseUnavailableIs503WithRetryAfter() throws {
        let closed = try PostgresConfiguration(url: "postgresql://scim@127.0.0.1:1/nowhere", connectTimeoutSeconds: 2)
        let down = try Region(configuration: closed)
        let response = down.send(.get, "/scim/v2/Users", tenant: SecureRandom.uuid())
        #expect(response.status.code == 503)
        #expect(response.headers["Retry-After"] == "1")
        #expect(response.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"])
        #expect(down.send(.get, "/readyz", tenant: nil).status.code == 503)
    }

    // MARK: Discovery

    @Test func discoveryTellsTheTruth() {
        let t = region.tenant()
        let spc = t.send(.get, "/ServiceProviderConfig").json
        #expect(spc["patch"] == ["supported": true])
        #expect(spc["bulk"] == ["supported": true, "maxOperations": 1000, "maxPayloadSize": 1_048_576])
        #expect(spc["filter"] == ["supported": true, "maxResults": 1000])
        #expect(spc["changePassword"] == ["supported": false])
        #expect(spc["sort"] == ["supported": true])
        #expect(spc["etag"] == ["supported": true])
        #expect(spc["pagination"]?["cursor"] == true)
        #expect(spc["meta"]?["location"] == "https://eu2-api.example.com/scim/v2/ServiceProviderConfig")
        let types = t.send(.get, "/ResourceTypes").json
        #expect(types["totalResults"] == 2)
        #expect(types["Resources"]?.array?.compactMap { $0["id"]?.string } == ["User", "Group"])
        #expect(t.send(.get, "/ResourceTypes/Group").json["endpoint"] == "/Groups")
        #expect(t.send(.get, "/ResourceTypes/Widget").status.code == 404)
        let schemas = t.send(.get, "/Schemas").json
        #expect(schemas["Resources"]?.array?.compactMap { $0["id"]?.string } == [
            "urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:core:2.0:Group"])
        #expect(t.send(.get, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group").json["name"] == "Group")
        #expect(t.send(.get, "/Schemas/urn:nope").status.code == 404)
    }

    // MARK: Bulk

    @Test func bulkResolvesBulkIdsInAnyOrderAndReportsEachOperation() {
        let t = region.tenant()
        let response = t.send(.post, "/Bulk", """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[
              {"method":"POST","path":"/Groups","bulkId":"g1","data":{"displayName":"Bulk Group","members":[{"type":"User","value":"bulkId:u1"}]}},
              {"method":"POST","path":"/Users","bulkId":"u1","data":{"userName":"bulk.user@example.com"}},
              {"method":"PATCH","path":"/Users/bulkId:u1","data":{"Operations":[{"op":"add","path":"title","value":"Bulked"}]}},
              {"method":"POST","path":"/Users","bulkId":"dup","data":{"userName":"BULK.USER@example.com"}},
              {"method":"DELETE","path":"/Users/0c1d5e8c-2b40-4b44-9d5e-6fd0e3a4c5a7"},
              {"method":"POST","path":"/Users","bulkId":"orphan","data":{"userName":"o","manager":"bulkId:missing"}}
            ]}
            """)
        #expect(response.status.code == 200)
        let ops = response.json["Operations"]?.array ?? []
        #expect(ops.count == 6)
        #expect(ops.map { $0["status"]?.string ?? "" } == ["201", "201", "200", "409", "404", "409"])
        #expect(response.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
        let userLocation = ops[1]["location"]?.string ?? ""
        let userID = String(userLocation.split(separator: "/").last ?? "")
        #expect(userLocation == "https://eu2-api.example.com/scim/v2/Users/\(userID)")
        #expect(ops[0]["bulkId"] == "g1")
        #expect(ops[3]["response"]?["scimType"] == "uniqueness")
        #expect(ops[5]["response"]?["detail"] == "bulkId 'missing' is not defined in this request")
        let groupID = String((ops[0]["location"]?.string ?? "").split(separator: "/").last ?? "")
        #expect(t.send(.get, "/Groups/\(groupID)").json["members"]?[0]?["value"]?.string == userID)
        #expect(t.send(.get, "/Users/\(userID)").json["title"] == "Bulked")
    }

    @Test func bulkFailOnErrorsCyclesAndLimits() throws {
        let t = region.tenant()
        let stop = t.send(.post, "/Bulk", """
            {"failOnErrors":1,"Operations":[
              {"method":"POST","path":"/Users","bulkId":"a","data":{"displayName":"no userName"}},
              {"method":"POST","path":"/Users","bulkId":"b","data":{"userName":"never@example.com"}}]}
            """)
        #expect(stop.json["Operations"]?.array?.count == 1)
        #expect(t.ids("/Users").isEmpty)
        let cycle = t.send(.post, "/Bulk", """
            {"Operations":[
              {"method":"POST","path":"/Groups","bulkId":"x","data":{"displayName":"X","members":[{"value":"bulkId:y"}]}},
              {"method":"POST","path":"/Groups","bulkId":"y","data":{"displayName":"Y","members":[{"value":"bulkId:x"}]}}]}
            """)
        #expect(cycle.json["Operations"]?.array?.map { $0["status"]?.string ?? "" } == ["409", "409"])
        var settings = RegionSettings()
        settings.serviceProvider.bulkMaxOperations = 2
        settings.serviceProvider.bulkMaxPayloadSize = 300
        let limited = try Region(settings: settings)
        let lt = limited.tenant()
        let three = #"{"Operations":[\#(Array(repeating: #"{"method":"DELETE","path":"/Users/x"}"#, count: 3).joined(separator: ","))]}"#
        let tooMany = lt.send(.post, "/Bulk", three)
        #expect(tooMany.status.code == 413)
        #expect(tooMany.json["status"] == "413")
        let big = #"{"Operations":[{"method":"POST","path":"/Users","bulkId":"a","data":{"userName":"\#(String(repeating: "x", count: 400))"}}]}"#
        #expect(lt.send(.post, "/Bulk", big).status.code == 413)
        #expect(lt.send(.get, "/ServiceProviderConfig").json["bulk"] == ["supported": true, "maxOperations": 2, "maxPayloadSize": 300])
    }

    // MARK: Isolation

    /// Row-level security is the second wall: the app role without `app.tenant_id` sees no rows at all, and with one
    /// tenant's id sees only that tenant's rows even when a query forgets its tenant condition.
    @Test func rowLevelSecurityHidesEverythingFromAnUnscopedQuery() throws {
        let a = region.tenant(), b = region.tenant()
        a.user("a@example.com"); b.user("b@example.com")
        let app = try PostgresConnection(configuration: try RegionTestDatabase.get().appConfiguration)
        for table in ["tenants", "users", "user_emails", "groups", "group_members"] {
            #expect(try app.query("SELECT count(*) FROM \(table)").int(row: 0, column: 0) == 0, "\(table)")
        }
        let scoped = try app.transaction { connection in
            try connection.query("SELECT set_config('app.tenant_id', $1, true)", [.text(a.id)])
            return try connection.query("SELECT user_name FROM users")
        }
        #expect(scoped.rowCount == 1)
        #expect(scoped.string(row: 0, column: 0) == "a@example.com")
        // Writing another tenant's rows is refused by the policy.
        #expect(throws: PostgresError.self) {
            try app.transaction { connection in
                try connection.query("SELECT set_config('app.tenant_id', $1, true)", [.text(a.id)])
                try connection.execute("UPDATE users SET tenant_id = $1::uuid", [.text(b.id)])
            }
        }
        let role = try app.query("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        #expect(role.bool(row: 0, column: 0) == false && role.bool(row: 0, column: 1) == false)
    }
}
