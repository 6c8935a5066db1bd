#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import NetIO
import Postgres
import TestSupport

extension Reliability {
    /// Tenant A (holding only its own token) attacks tenant B in the same region database: reads, lists, filters,
    /// writes, Bulk, member references, `$ref` URLs and cursors, with B's ids both guessed and leaked. Zero leaks means:
    /// no answer to A mentions any of B's ids, names or values, B's rows are byte-identical afterwards, and no row of A
    /// references B. Row-level security is then shown to hold on its own, with the application's scoping skipped.
    @Suite struct IsolationAttackTests {
        struct Victim {
            var tenant: String
            var token: String
            var user: String
            var user2: String
            var group: String
            var cursor: String
            /// Strings that must never reach tenant A.
            var markers: [String]
        }

        /// Tenant B's data, with distinctive values that would show up in any leak.
        static func victim(_ d: Deployment) throws -> Victim {
            let b = try d.createTenant("victim-b", region: "us")
            let u1 = try d.scim(.post, "/scim/v2/Users", token: b.token, body: [
                "userName": "bravo.secret@victim.example", "externalId": "VICTIM-EXT-1", "displayName": "Bravo Victim",
                "emails": [["value": "bravo.secret@victim.example", "type": "work", "primary": true]],
                "title": "VictimTitle"])
            let user = try #require(json(u1)?["id"]?.string)
            let u2 = try d.scim(.post, "/scim/v2/Users", token: b.token, body: userBody("bravo.second@victim.example", externalId: "VICTIM-EXT-2"))
            let user2 = try #require(json(u2)?["id"]?.string)
            let g = try d.scim(.post, "/scim/v2/Groups", token: b.token,
                               body: ["displayName": "VictimGroup", "externalId": "VICTIM-GEXT", "members": [["value": .string(user)]]])
            let group = try #require(json(g)?["id"]?.string)
            let page = json(try d.scim(.get, "/scim/v2/Users?cursor=&count=1", token: b.token))
            let cursor = try #require(page?["nextCursor"]?.string)
            return Victim(tenant: b.id, token: b.token, user: user, user2: user2, group: group, cursor: cursor,
                          markers: [user, user2, group, b.id, "bravo.secret", "bravo.second", "VICTIM-EXT", "VictimGroup",
                                    "VICTIM-GEXT", "Bravo Victim", "VictimTitle", user.uppercased()])
        }

        /// B's rows (as the superuser), to compare before and after the attack.
        static func victimRows(_ d: Deployment, _ tenant: String) throws -> String {
            let c = try d.regionAdmin("us")
            var text = ""
            for table in ["users", "user_emails", "groups", "group_members", "tenants"] {
                let column = table == "tenants" ? "id" : "tenant_id"
                let r = try c.query("SELECT t::text FROM \(table) t WHERE \(column) = $1::uuid ORDER BY t::text", [.text(tenant)])
                for row in 0..<r.rowCount { text += (r.string(row: row, column: 0) ?? "") + "\n" }
            }
            return text
        }

        static let bulkURN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
        static let patchURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

        @Test func tenantACannotReachTenantB() throws {
            let d = try Deployment.reliability("isolation")
            defer { d.stop() }
            let b = try Self.victim(d)
            let a = try d.createTenant("attacker-a", region: "us")
            let aUser = try #require(json(try d.scim(.post, "/scim/v2/Users", token: a.token, body: userBody("alpha@attacker.example")))?["id"]?.string)
            let aGroup = try #require(json(try d.scim(.post, "/scim/v2/Groups", token: a.token, body: ["displayName": "AttackerGroup"]))?["id"]?.string)
            let before = try Self.victimRows(d, b.tenant)
            let client = SCIMClient(port: d.gateways[0].port, token: a.token)
            let base = "https://api.example.com/scim/v2"

            var attempts = 0, leaks: [String] = [], wrongStatus: [String] = []
            /// One attack: the status must be one of `expected`, and nothing of B may appear in the answer.
            func attack(_ name: String, _ method: HTTPMethod, _ target: String, _ body: JSONValue? = nil, headers: [(String, String)] = [],
                        via: SCIMClient? = nil, expect expected: Set<Int>) -> JSONValue? {
                attempts += 1
                let (response, exchange) = (via ?? client).send(method, target, body: body, headers: headers)
                let headerText = response.map { $0.headers.map { $0.name + ": " + $0.value }.joined(separator: "\n") } ?? ""
                // What A itself sent may be echoed (an error detail naming the id A asked for is not a leak).
                let sent = (target + (body.map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "") + headers.map { $0.1 }.joined()).lowercased()
                for marker in b.markers where !sent.contains(marker.lowercased()) && (exchange.body.contains(marker) || headerText.contains(marker)) {
                    leaks.append("\(name): answer contains \(marker)")
                }
                if !expected.contains(exchange.status) { wrongStatus.append("\(name): \(exchange.status) \(exchange.body.prefix(200))") }
                return response.flatMap { try? JSONDecoder.decode($0.body) }
            }
            func emptyList(_ j: JSONValue?) -> Bool { j?["totalResults"]?.int == 0 }

            // Reads by leaked and guessed ids.
            for (kind, id) in [("Users", b.user), ("Users", b.user2), ("Groups", b.group)] {
                _ = attack("GET \(kind) by leaked id", .get, "/scim/v2/\(kind)/\(id)", expect: [404])
                _ = attack("GET \(kind) by upper-case id", .get, "/scim/v2/\(kind)/\(id.uppercased())", expect: [404])
                _ = attack("GET \(kind) with attributes", .get, "/scim/v2/\(kind)/\(id)?attributes=id,meta", expect: [404])
                _ = attack("GET \(kind) If-None-Match", .get, "/scim/v2/\(kind)/\(id)", headers: [("If-None-Match", "W/\"1\"")], expect: [404])
                _ = attack("GET \(kind) path traversal", .get, "/scim/v2/\(kind)/\(aUser)/../\(id)", expect: [404])
                _ = attack("GET \(kind) encoded traversal", .get, "/scim/v2/\(kind)/..%2F\(kind)%2F\(id)", expect: [404])
                _ = attack("GET \(kind) by id under the other type", .get, "/scim/v2/\(kind == "Users" ? "Groups" : "Users")/\(id)", expect: [404])
            }
            for guess in ["00000000-0000-0000-0000-000000000001", String(b.user.dropLast()) + "0", "*", "%", "' OR 1=1--"] {
                _ = attack("GET by guessed id", .get, "/scim/v2/Users/\(PercentEncoding.encode(guess))", expect: [404])
            }
            // Lists and filters naming B's ids and values.
            let filters = [
                "id eq \"\(b.user)\"", "id eq \"\(b.group)\"", "userName eq \"bravo.secret@victim.example\"",
                "userName sw \"bravo\"", "externalId eq \"VICTIM-EXT-1\"", "emails.value co \"victim\"",
                "emails[value eq \"bravo.secret@victim.example\"]", "title eq \"VictimTitle\"", "displayName eq \"Bravo Victim\"",
                "id pr", "userName pr or not (userName pr)", "meta.created gt \"2000-01-01T00:00:00Z\"",
            ]
            for f in filters {
                let j = attack("filter \(f)", .get, "/scim/v2/Users?filter=\(PercentEncoding.encode(f))&count=1000", expect: [200])
                if let resources = j?["Resources"]?.array, resources.contains(where: { $0["id"]?.string != aUser }) {
                    leaks.append("filter \(f): a resource other than A's own")
                }
                _ = attack(".search \(f)", .post, "/scim/v2/Users/.search", ["filter": .string(f)], expect: [200])
            }
            for f in ["members.value eq \"\(b.user)\"", "displayName eq \"VictimGroup\"", "externalId eq \"VICTIM-GEXT\"", "id eq \"\(b.group)\""] {
                let j = attack("group filter \(f)", .get, "/scim/v2/Groups?filter=\(PercentEncoding.encode(f))", expect: [200])
                if !emptyList(j) { leaks.append("group filter \(f) matched") }
            }
            let all = attack("list users", .get, "/scim/v2/Users?count=1000&sortBy=userName", expect: [200])
            #expect(all?["totalResults"]?.int == 1)
            let groups = attack("list groups", .get, "/scim/v2/Groups?count=1000", expect: [200])
            #expect(groups?["totalResults"]?.int == 1)
            _ = attack("server-wide .search", .post, "/scim/v2/.search", ["filter": "id pr"], expect: [200])
            _ = attack("list past the end", .get, "/scim/v2/Users?startIndex=2&count=1000", expect: [200])

            // Cursors: B's own, tampered, and spliced.
            _ = attack("B's cursor", .get, "/scim/v2/Users?cursor=\(b.cursor)&count=1", expect: [400])
            _ = try d.scim(.post, "/scim/v2/Users", token: a.token, body: userBody("alpha2@attacker.example"))
            let aCursor = try #require(json(try d.scim(.get, "/scim/v2/Users?cursor=&count=1", token: a.token))?["nextCursor"]?.string)
            // (A's own cursor works: the next page is A's second user, and nothing of B.)
            let next = attack("A's own cursor", .get, "/scim/v2/Users?cursor=\(aCursor)&count=1", expect: [200])
            #expect(next?["Resources"]?[0]?["userName"]?.string != nil)
            let parts = aCursor.split(separator: ".")
            let spliced = String(b.cursor.split(separator: ".")[0]) + "." + String(parts[1])
            _ = attack("B's payload with A's MAC", .get, "/scim/v2/Users?cursor=\(spliced)&count=1", expect: [400])
            var flipped = Array(aCursor.utf8)
            flipped[3] = flipped[3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            _ = attack("tampered cursor", .get, "/scim/v2/Users?cursor=\(String(decoding: flipped, as: UTF8.self))&count=1", expect: [400])
            _ = attack("Users cursor on Groups", .get, "/scim/v2/Groups?cursor=\(aCursor)&count=1", expect: [400])

            // Writes to B's resources.
            let patch: JSONValue = ["schemas": [.string(Self.patchURN)], "Operations": [["op": "replace", "path": "title", "value": "pwned"]]]
            _ = attack("PATCH B's user", .patch, "/scim/v2/Users/\(b.user)", patch, expect: [404])
            _ = attack("PUT B's user", .put, "/scim/v2/Users/\(b.user)", userBody("bravo.secret@victim.example"), expect: [404])
            _ = attack("DELETE B's user", .delete, "/scim/v2/Users/\(b.user)", expect: [404])
            _ = attack("PATCH B's group (add A's user)", .patch, "/scim/v2/Groups/\(b.group)",
                       ["schemas": [.string(Self.patchURN)], "Operations": [["op": "add", "path": "members", "value": [["value": .string(aUser)]]]]],
                       expect: [404])
            _ = attack("PATCH B's group (remove B's member)", .patch, "/scim/v2/Groups/\(b.group)",
                       ["schemas": [.string(Self.patchURN)], "Operations": [["op": "remove", "path": .string("members[value eq \"\(b.user)\"]")]]],
                       expect: [404])
            _ = attack("DELETE B's group", .delete, "/scim/v2/Groups/\(b.group)", expect: [404])
            _ = attack("PUT B's group", .put, "/scim/v2/Groups/\(b.group)", ["displayName": "taken"], expect: [404])
            // Member references to B's users from A's groups.
            _ = attack("create group with B's user", .post, "/scim/v2/Groups", ["displayName": "g1", "members": [["value": .string(b.user)]]], expect: [400, 404])
            _ = attack("create group with B's group", .post, "/scim/v2/Groups",
                       ["displayName": "g2", "members": [["value": .string(b.group), "type": "Group"]]], expect: [400, 404])
            _ = attack("add B's user to A's group", .patch, "/scim/v2/Groups/\(aGroup)",
                       ["schemas": [.string(Self.patchURN)], "Operations": [["op": "add", "path": "members", "value": [["value": .string(b.user)]]]]],
                       expect: [400, 404])
            _ = attack("replace A's members with B's", .patch, "/scim/v2/Groups/\(aGroup)",
                       ["schemas": [.string(Self.patchURN)], "Operations": [["op": "replace", "path": "members", "value": [["value": .string(b.user2)]]]]],
                       expect: [400, 404])
            _ = attack("PUT A's group with B's member", .put, "/scim/v2/Groups/\(aGroup)",
                       ["displayName": "AttackerGroup", "members": [["value": .string(b.user)]]], expect: [400, 404])
            _ = attack("member by $ref only", .patch, "/scim/v2/Groups/\(aGroup)",
                       ["schemas": [.string(Self.patchURN)], "Operations": [["op": "add", "path": "members", "value": [["$ref": .string("\(base)/Users/\(b.user)")]]]]],
                       expect: [400])
            // `$ref` pointing at B while `value` names A's user: the value decides, B is untouched.
            _ = attack("member with B's $ref", .patch, "/scim/v2/Groups/\(aGroup)",
                       ["schemas": [.string(Self.patchURN)], "Operations": [["op": "add", "path": "members",
                        "value": [["value": .string(aUser), "$ref": .string("\(base)/Users/\(b.user)")]]]]], expect: [200, 204])
            _ = attack("PATCH id of A's user to B's", .patch, "/scim/v2/Users/\(aUser)",
                       ["schemas": [.string(Self.patchURN)], "Operations": [["op": "replace", "path": "id", "value": .string(b.user)]]], expect: [400])

            // Bulk.
            func bulk(_ name: String, _ ops: [JSONValue], expectOps: Set<String>) {
                let j = attack("Bulk: \(name)", .post, "/scim/v2/Bulk", ["schemas": [.string(Self.bulkURN)], "Operations": .array(ops)], expect: [200])
                for op in j?["Operations"]?.array ?? [] where !expectOps.contains(op["status"]?.string ?? "?") {
                    wrongStatus.append("Bulk: \(name): operation status \(op["status"]?.string ?? "?")")
                }
            }
            bulk("PATCH B's user", [["method": "PATCH", "path": .string("/Users/\(b.user)"), "data": patch]], expectOps: ["404"])
            bulk("DELETE B's group", [["method": "DELETE", "path": .string("/Groups/\(b.group)")]], expectOps: ["404"])
            bulk("PUT B's user", [["method": "PUT", "path": .string("/Users/\(b.user)"), "data": userBody("x@attacker.example")]], expectOps: ["404"])
            bulk("absolute URL path to B", [["method": "DELETE", "path": .string("\(base)/Users/\(b.user)")]], expectOps: ["400", "404"])
            bulk("group with B's member", [["method": "POST", "path": "/Groups", "bulkId": "g", "data": ["displayName": "bg", "members": [["value": .string(b.user)]]]]],
                 expectOps: ["400", "404"])
            // A bulkId equal to B's user id: `bulkId:<B's id>` must resolve to what A created, never to B's user.
            bulk("bulkId named like B's id", [
                ["method": "POST", "path": "/Users", "bulkId": .string(b.user), "data": userBody("bulkuser@attacker.example")],
                ["method": "PATCH", "path": .string("/Users/bulkId:\(b.user)"), "data": patch],
                ["method": "POST", "path": "/Groups", "bulkId": "g2", "data": ["displayName": "bulkgroup", "members": [["value": .string("bulkId:\(b.user)")]]]],
            ], expectOps: ["201", "200", "204"])
            bulk("undefined bulkId", [["method": "PATCH", "path": .string("/Users/bulkId:\(b.user2)"), "data": patch]], expectOps: ["400", "404", "409"])
            bulk("bulkId reference to B's group", [["method": "POST", "path": "/Groups", "bulkId": "g3",
                                                    "data": ["displayName": "bg3", "members": [["value": .string("bulkId:\(b.group)")]]]]],
                 expectOps: ["400", "404", "409"])

            // Headers and credentials.
            _ = attack("X-SCIM-Tenant header naming B", .get, "/scim/v2/Users", headers: [("X-SCIM-Tenant", b.tenant)], expect: [200])
            _ = attack("link headers naming B", .get, "/scim/v2/Users",
                       headers: [("X-SCIM-Key-Id", "k1"), ("X-SCIM-Signature", "AAAA"), ("X-SCIM-Base-URL", "https://evil.example/scim/v2")],
                       expect: [200])
            let aID = try #require(a.token.split(separator: "_").dropFirst().first)
            let bID = try #require(b.token.split(separator: "_").dropFirst().first)
            let aSecret = String(try #require(a.token.split(separator: "_").last).prefix(32))
            _ = attack("B's token id with A's secret", .get, "/scim/v2/Users", via: SCIMClient(port: d.gateways[0].port, token: "\(bID):\(aSecret)"), expect: [401])
            _ = attack("A's token id with a guessed secret", .get, "/scim/v2/Users",
                       via: SCIMClient(port: d.gateways[0].port, token: "\(aID):" + String(repeating: "A", count: 32)), expect: [401])
            _ = attack("a second Authorization header with B's token", .get, "/scim/v2/Users",
                       headers: [("Authorization", "Bearer \(b.token)")], expect: [200, 400, 401])
            _ = attack("A on the other region's host", .get, "/scim/v2/Users/\(b.user)", headers: [("Host", "eu2-api.example.com")], expect: [421])
            // Straight to the region, skipping the gateway: unsigned, or signed with garbage, claiming to be B.
            let region = SCIMClient(port: d.regionPorts["us"]!, token: nil)
            _ = attack("region direct, unsigned", .get, "/scim/v2/Users/\(b.user)", via: region, expect: [401])
            _ = attack("region direct, forged signature", .get, "/scim/v2/Users/\(b.user)", headers: [
                ("X-SCIM-Tenant", b.tenant), ("X-SCIM-Key-Id", "k1"), ("X-SCIM-Timestamp", "\(Int(time(nil)))"),
                ("X-SCIM-Nonce", "n"), ("X-SCIM-Signature", String(repeating: "0", count: 64)), ("X-SCIM-Base-URL", base)],
                via: region, expect: [401])

            // Last (later answers to A would contain these names, now A's own): names B uses are free in A, since a
            // 409 would tell A that B has them.
            _ = attack("A reuses B's userName and externalId", .post, "/scim/v2/Users",
                       userBody("bravo.secret@victim.example", externalId: "VICTIM-EXT-1").merging(["id": .string(b.user)]), expect: [201])
            _ = attack("A reuses B's group name", .post, "/scim/v2/Groups", ["displayName": "VictimGroup", "id": .string(b.group)], expect: [201])
            // Nothing of B changed; nothing of A points at B.
            let after = try Self.victimRows(d, b.tenant)
            if before != after { leaks.append("B's rows changed") }
            let crossRefs = try d.regionAdmin("us").query("""
                SELECT count(*) FROM group_members m WHERE m.tenant_id <> $1::uuid
                  AND m.member_id IN (SELECT id FROM users WHERE tenant_id = $1::uuid UNION SELECT id FROM groups WHERE tenant_id = $1::uuid)
                """, [.text(b.tenant)])
            if crossRefs.int(row: 0, column: 0) != 0 { leaks.append("\(crossRefs.int(row: 0, column: 0) ?? -1) membership rows of another tenant reference B") }
            // B still sees exactly its own data.
            let bGroup = json(try d.scim(.get, "/scim/v2/Groups/\(b.group)", token: b.token))
            #expect(bGroup?["members"]?.array?.compactMap { $0["value"]?.string } == [b.user])
            #expect(json(try d.scim(.get, "/scim/v2/Users", token: b.token))?["totalResults"]?.int == 2)

            report("isolation: \(attempts) attempts from tenant A against tenant B, \(leaks.count) leaks, \(wrongStatus.count) unexpected statuses")
            #expect(leaks.isEmpty, "\(leaks.joined(separator: "\n"))")
            #expect(wrongStatus.isEmpty, "\(wrongStatus.joined(separator: "\n"))")
            expectNoSecrets(secretForms([a.token, b.token], admin: d.adminToken), in: d.logs, place: "process logs")
        }

        /// Two tenants read and write concurrently through the same pooled region connections (which keep the tenant at
        /// session level between reads): every answer must belong to the tenant that asked.
        @Test func concurrentTenantsNeverSeeEachOthersRows() throws {
            let d = try Deployment.reliability("isolation_race")
            defer { d.stop() }
            let tenants = try (0..<3).map { try d.createTenant("race-\($0)", region: "us") }
            var ids: [[String]] = []
            for (i, t) in tenants.enumerated() {
                var mine: [String] = []
                for n in 0..<5 {
                    let r = try d.scim(.post, "/scim/v2/Users", token: t.token, body: userBody("t\(i)-u\(n)@race.example", externalId: "T\(i)-\(n)"))
                    mine.append(try #require(json(r)?["id"]?.string))
                }
                ids.append(mine)
            }
            let port = d.gateways[0].port
            let userIDs = ids
            let answers = Collected<(asker: Int, body: String, status: Int)>()
            let stop = StopFlag()
            let load = background {
                onThreads(6) { thread in
                    let me = thread % tenants.count
                    let client = SCIMClient(port: port, token: tenants[me].token)
                    var n = 0
                    while !stop.isRaised {
                        n += 1
                        let exchange: Exchange
                        switch n % 5 {
                        case 0: exchange = client.send(.get, "/scim/v2/Users/\(userIDs[me][n % 5])").1
                        case 1: exchange = client.send(.get, "/scim/v2/Users?filter=externalId+sw+%22T\(me)-%22").1
                        case 2: exchange = client.send(.get, "/scim/v2/Users?count=50").1
                        case 3: exchange = client.send(.patch, "/scim/v2/Users/\(userIDs[me][n % 5])", body: ["schemas": [.string(Self.patchURN)],
                                                       "Operations": [["op": "replace", "path": "title", "value": .string("T\(me)-title-\(n)")]]]).1
                        default: exchange = client.send(.get, "/scim/v2/Users?cursor=&count=2&sortBy=userName").1
                        }
                        answers.append((me, exchange.body, exchange.status))
                    }
                }
            }
            sleepMillis(1500)
            stop.raise()
            load.join()
            var foreign = 0, failed = 0
            for answer in answers.all {
                if !(200...299).contains(answer.status) {
                    failed += 1
                    if failed < 4 { Issue.record("\(answer.status) \(answer.body.prefix(300))") }
                }
                for (other, otherIDs) in ids.enumerated() where other != answer.asker {
                    if otherIDs.contains(where: { answer.body.contains($0) }) || answer.body.contains("t\(other)-u") { foreign += 1 }
                }
            }
            report("isolation under concurrency: \(answers.all.count) requests from 3 tenants on shared connections, \(foreign) foreign rows seen, \(failed) non-2xx")
            expectNoSecrets(secretForms(tenants.map(\.token), admin: d.adminToken), in: d.logs, place: "process logs")
            #expect(foreign == 0)
            #expect(failed == 0)
            #expect(answers.all.count > 100)
        }

        /// Row-level security on its own: the app role (what the region connects as) running statements that skip the
        /// `tenant_id = $1` scoping sees and changes nothing of another tenant.
        @Test func rowLevelSecurityHoldsWithoutApplicationScoping() throws {
            let d = try Deployment.reliability("rls")
            defer { d.stop() }
            let b = try Self.victim(d)
            let a = try d.createTenant("rls-a", region: "us")
            _ = try d.scim(.post, "/scim/v2/Users", token: a.token, body: userBody("alpha@rls.example"))
            let superuser = try d.regionAdmin("us")
            let app = try PostgresConnection(configuration: d.regionDatabases["us"]!.appConfiguration)
            let tables = ["users", "user_emails", "groups", "group_members", "tenants"]
            var checks = 0

            // The app role is not a superuser and cannot bypass RLS.
            let role = try app.query("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            #expect(role.bool(row: 0, column: 0) == false && role.bool(row: 0, column: 1) == false)

            // No tenant set: every table looks empty to the app role, although the superuser sees rows.
            for table in tables {
                let everything = try superuser.query("SELECT count(*) FROM \(table)").int(row: 0, column: 0) ?? 0
                #expect(everything > 0, "\(table) has no rows to hide")
                #expect(try app.query("SELECT count(*) FROM \(table)").int(row: 0, column: 0) == 0, "unscoped \(table)")
                checks += 1
            }
            // Scoped to A, statements naming B's rows find, change and delete nothing.
            _ = try app.query("SELECT set_config('app.tenant_id', $1, false)", [.text(a.id)])
            for table in tables {
                let column = table == "tenants" ? "id" : "tenant_id"
                #expect(try app.query("SELECT count(*) FROM \(table) WHERE \(column) = $1::uuid", [.text(b.tenant)]).int(row: 0, column: 0) == 0)
                #expect(try app.query("SELECT count(*) FROM \(table) WHERE \(column) <> $1::uuid", [.text(a.id)]).int(row: 0, column: 0) == 0)
                checks += 2
            }
            #expect(try app.execute("UPDATE users SET display_name = 'pwned' WHERE tenant_id = $1::uuid", [.text(b.tenant)]) == 0)
            #expect(try app.execute("DELETE FROM users WHERE id = $1::uuid", [.text(b.user)]) == 0)
            #expect(try app.execute("DELETE FROM group_members WHERE group_id = $1::uuid", [.text(b.group)]) == 0)
            #expect(try app.execute("DELETE FROM tenants WHERE id = $1::uuid", [.text(b.tenant)]) == 0)
            checks += 4
            // Writing rows into B, or moving A's rows to B, is refused by the policy's WITH CHECK.
            let insert = Result {
                try app.execute("""
                    INSERT INTO users (tenant_id, id, user_name, user_name_key, resource, created_at, last_modified)
                    VALUES ($1::uuid, gen_random_uuid(), 'planted', 'planted', '{}', now(), now())
                    """, [.text(b.tenant)])
            }
            #expect(Self.isRLSViolation(insert), "insert into B: \(insert)")
            let move = Result { try app.execute("UPDATE users SET tenant_id = $1::uuid WHERE tenant_id = $2::uuid", [.text(b.tenant), .text(a.id)]) }
            #expect(Self.isRLSViolation(move), "move A's rows to B: \(move)")
            // Turning row security off for the session is refused rather than silently bypassing the policy.
            _ = try app.query("SET row_security = off")
            let off = Result { try app.query("SELECT count(*) FROM users") }
            #expect(Self.isRLSViolation(off), "row_security=off: \(off)")
            _ = try app.query("SET row_security = on")
            checks += 3
            // A malformed tenant setting fails closed.
            _ = try app.query("SELECT set_config('app.tenant_id', $1, false)", [.text("' OR 1=1 --")])
            let malformed = Result { try app.query("SELECT count(*) FROM users") }
            if case .success(let r) = malformed { #expect(r.int(row: 0, column: 0) == 0) }
            checks += 1
            #expect(try Self.victimRows(d, b.tenant).contains("bravo.secret@victim.example"))
            report("row-level security: \(checks) unscoped or cross-tenant statements as the app role, 0 rows of another tenant seen or changed")
            expectNoSecrets(secretForms([a.token, b.token], admin: d.adminToken), in: d.logs, place: "process logs")
        }

        static func isRLSViolation<T>(_ result: Result<T, any Error>) -> Bool {
            guard case .failure(let error) = result, let p = error as? PostgresError else { return false }
            // 42501 insufficient_privilege: "new row violates row-level security policy" / "query would be affected by
            // row-level security policy".
            return p.sqlState == "42501"
        }
    }
}

extension JSONValue {
    /// The object with `extra`'s keys added (for building attack bodies).
    func merging(_ extra: JSONObject) -> JSONValue {
        guard case .object(var o) = self else { return self }
        for (k, v) in extra { o.appendUnchecked(key: k, value: v) }
        return .object(o)
    }
}
