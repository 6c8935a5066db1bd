#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import Postgres
import Synchronization
import TestSupport

/// What the SaaS app needs from the directory (issue 18), through the real processes: the IdP calls SCIM through
/// the gateway, the operator and the app call the admin API (relayed to the tenant's home region) and `scimctl`.
@Suite(.serialized) struct DirectoryTests {
    static let rules: JSONValue = [
        "roles": [["key": "admin", "name": "Administrator", "implies": ["editor"]], ["key": "editor"], ["key": "viewer"]],
        "rules": [["group": ["externalId": "okta-admins"], "role": "admin"],
                  ["group": ["displayName": "eng-"], "match": "prefix", "role": "editor"]],
        "defaultRole": .null,
    ]

    /// Runs `scimctl` against the deployment's admin listener; returns (exit status, output).
    static func scimctl(_ d: Deployment, _ arguments: [String]) throws -> (Int32?, String) {
        let log = d.directory + "/scimctl-\(monotonicMillis())-\(Int.random(in: 0..<1_000_000)).out"
        let process = try ChildProcess(executable: binaryDirectory() + "/scimctl",
                                       arguments: ["--url", "http://127.0.0.1:\(d.gateways[0].adminPort)",
                                                   "--admin-token-file", d.directory + "/admin-token"] + arguments,
                                       logPath: log)
        let status = process.wait(timeoutMillis: 60_000)
        return (status, process.log)
    }

    static func write(_ d: Deployment, _ name: String, _ json: JSONValue) -> String {
        let path = d.directory + "/" + name
        let f = fopen(path, "w")
        let bytes = json.encoded()
        _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
        fclose(f)
        return path
    }

    @Test func rulePrecedenceAndMembershipChangesUpdateRolesWithOneEventPerChangedUser() throws {
        let d = try Deployment("roles")
        defer { d.stop() }
        let t = try DirectoryClient(d, name: "roles", region: "eu2")
        let u1 = try t.user("u1@roles.example"), u2 = try t.user("u2@roles.example")
        let u3 = try t.user("u3@roles.example"), u4 = try t.user("u4@roles.example")
        let admins = try t.group("App Admins", externalId: "okta-admins")
        let eng = try t.group("eng-web")
        let sales = try t.group("Sales")
        // Sales by id, giving the lowest role: the rules as scimctl sends them.
        var rules = Self.rules
        if case .object(var o) = rules, case .array(var list)? = o["rules"] {
            list.append(["group": ["id": .string(sales)], "role": "viewer"])
            o.set("rules", .array(list))
            rules = .object(o)
        }
        let (code, output) = try Self.scimctl(d, ["roles", "set", t.id, "--file", Self.write(d, "rules.json", rules)])
        #expect(code == 0, "\(output)")
        #expect(output.contains("recompute: pending") || output.contains("recompute: running") || output.contains("recompute: done"), "\(output)")
        try t.waitForRecompute()
        #expect(try [u1, u2, u3, u4].map { try t.roles($0) } == [[], [], [], []])

        func step(_ what: String, _ expected: [String: [String]], _ action: () throws -> Void) throws {
            let cursor = try t.settledEvents(after: nil).next
            try action()
            let changes = try t.roleChanges(after: cursor)
            #expect(changes.count == expected.count, "\(what): one event per user whose roles changed: \(changes)")
            #expect(Dictionary(changes.map { ($0.user, $0.after) }, uniquingKeysWith: { a, _ in a }) == expected, "\(what)")
            for (user, roles) in expected { #expect(try t.roles(user) == roles, "\(what): \(user)") }
        }
        try step("add to a prefix-mapped group", [u1: ["editor"], u2: ["editor"]]) {
            t.patch("/Groups/\(eng)", [["op": "add", "path": "members", "value": [["value": .string(u1)], ["value": .string(u2)]]]])
        }
        try step("add to the externalId-mapped group: admin implies editor", [u1: ["admin", "editor"]]) {
            t.patch("/Groups/\(admins)", [["op": "add", "path": "members", "value": [["value": .string(u1)]]]])
        }
        try step("PUT Sales: u3 gains viewer; u2 keeps editor (higher precedence): no event", [u3: ["viewer"]]) {
            let body: JSONValue = ["schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales",
                                   "members": [["value": .string(u2)], ["value": .string(u3)]]]
            #expect(t.scim.send(.put, "/scim/v2/Groups/\(sales)", body: body).0?.status.code == 200)
        }
        try step("replace eng-web's members: u1 keeps editor through admin, u2 falls to viewer, u4 gains editor",
                 [u2: ["viewer"], u4: ["editor"]]) {
            t.patch("/Groups/\(eng)", [["op": "replace", "path": "members", "value": [["value": .string(u4)]]]])
        }
        try step("rename a group its rule matches by externalId: nothing", [:]) {
            t.patch("/Groups/\(admins)", [["op": "replace", "path": "displayName", "value": "Administrators"]])
        }
        try step("change its externalId: its member loses admin", [u1: []]) {
            t.patch("/Groups/\(admins)", [["op": "replace", "path": "externalId", "value": "okta-former-admins"]])
        }
        try step("remove", [u4: []]) {
            t.patch("/Groups/\(eng)", [["op": "remove", "path": .string("members[value eq \"\(u4)\"]")]])
        }
        try step("delete Sales: its members lose viewer", [u2: [], u3: []]) {
            #expect(t.scim.send(.delete, "/scim/v2/Groups/\(sales)").0?.status.code == 204)
        }
        // The read API shows the roles with each user.
        let (_, page) = try t.admin(.get, "users?limit=10")
        #expect(page["users"]?.array?.allSatisfy { $0["effectiveRoles"]?.array == [] && $0["rolesVersion"] != nil } == true)

        // Bad input: clear 400s that change nothing.
        let before = try t.admin(.get, "roles").1
        let unknown = "0190ffff-0000-7000-8000-0000000000aa"
        let bad: [(JSONValue, String)] = [
            (["roles": [["key": "a"]], "rules": [["group": ["id": .string(unknown)], "role": "a"]]], "this tenant has no group"),
            (["roles": [["key": "a", "implies": ["b"]], ["key": "b", "implies": ["a"]]]], "cycle: a → b → a"),
            (["roles": [["key": "a"]], "rules": [["group": ["displayName": 42], "role": "a"]]], "must be a string"),
            (["roles": [["key": "a"]], "assignment": "several"], "'assignment' must be 'highest' or 'all'"),
            (["roles": [["key": "a"]], "rules": .array((0...1000).map { ["group": ["displayName": .string("g\($0)")], "role": "a"] })],
             "at most 1000"),
        ]
        for (body, message) in bad {
            let (status, answer) = try t.admin(.put, "roles", body)
            #expect(status == 400 && answer["message"]?.string?.contains(message) == true, "\(answer)")
        }
        #expect(try t.admin(.get, "roles").1 == before)
        let (badCode, badOutput) = try Self.scimctl(d, ["roles", "set", t.id, "--file", Self.write(d, "bad.json", ["roles": "admin"])])
        #expect(badCode == 1 && badOutput.contains("400") && badOutput.contains("'roles' must be an array"), "\(badOutput)")
        // The changes are in the audit log.
        let audit = try d.admin(.get, "/admin/v1/audit?tenant=\(t.id)").1
        #expect(audit?["entries"]?.array?.contains { $0["action"]?.string == "roles.configure" } == true)

        // The operator console shows the rules and the recompute (read-only), hostile group names inert.
        let hostile = "<img src=x onerror=alert(1)>"
        #expect(try t.admin(.put, "roles", ["roles": [["key": "viewer"]],
                                            "rules": [["group": ["displayName": .string(hostile)], "role": "viewer"],
                                                      ["group": ["displayName": "eng-"], "match": "prefix", "role": "viewer"]]]).0 == 200)
        try t.waitForRecompute()
        let console = WebClient(port: d.gateways[0].adminPort)
        #expect(try console.send(.post, "/console/login", form: [("token", d.adminToken)]).status.code == 303)
        let consolePage = try console.send(.get, "/console/tenants/\(t.id)")
        #expect(consolePage.status.code == 200)
        let html = consolePage.bodyText
        #expect(html.contains("Roles and profile fields") && html.contains("recompute done") && html.contains("displayName eng-"), "\(html.suffix(3000))")
        #expect(html.contains("No attribute mapping") && !html.contains("<img src=x") && html.contains("&lt;img src=x"), "\(html.suffix(3000))")
    }

    @Test func attributeMappingWithPreviewThroughTheAdminAPIAndScimctl() throws {
        let d = try Deployment("mapping")
        defer { d.stop() }
        let t = try DirectoryClient(d, name: "mapping", region: "us")
        let custom = "urn:ietf:params:scim:schemas:extension:condeco:2.0:User"
        let (patched, _) = try d.admin(.patch, "/admin/v1/tenants/\(t.id)", ["schemaExtensions": [[
            "resourceType": "User", "schema": ["id": .string(custom), "name": "Condeco",
                                               "attributes": [["name": "costCentre", "type": "string"], ["name": "floor", "type": "integer"]]],
        ]]])
        #expect(patched == 200)
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        let ada = try t.user("ada@mapping.example", [
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", .string(enterprise), .string(custom)],
            "title": "Engineer", custom: ["costCentre": "CC-7", "floor": 3], enterprise: ["department": "R&D"],
        ])
        let mapping: JSONValue = ["fields": [
            ["name": "department", "sources": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"]],
            ["name": "jobTitle", "sources": ["title"]],
            ["name": "costCentre", "sources": .array([.string(custom + ":costCentre")])],
            ["name": "floor", "type": "integer", "sources": .array([.string(custom + ":floor")])],
        ]]
        let file = Self.write(d, "mapping.json", mapping)
        let (code, preview) = try Self.scimctl(d, ["mapping", "preview", t.id, "--file", file, "--users", ada])
        #expect(code == 0 && preview.contains("\"costCentre\":\"CC-7\"") && preview.contains("coverage:"), "\(preview)")
        #expect(try t.admin(.get, "users/\(ada)").1["profile"] == .null)  // the preview saved nothing
        // Path segments of the relayed read API must be UUIDs: anything else is a 404 at the gateway.
        #expect(try t.admin(.get, "users/..%2Fgroups").0 == 404)
        #expect(try t.admin(.get, "groups/not-a-group!/members").0 == 404)
        let readers = try t.group("Readers of the mapping", members: [ada])
        let members = try t.admin(.get, "groups/\(readers)/members")
        #expect(members.0 == 200 && "\(members.1)".contains(ada), "\(members.1)")
        let (setCode, setOutput) = try Self.scimctl(d, ["mapping", "set", t.id, "--file", file])
        #expect(setCode == 0, "\(setOutput)")
        try t.waitForRecompute("attribute-mapping")
        let profile = try t.admin(.get, "users/\(ada)").1["profile"]
        #expect(DirectoryReplica.sameJSON(profile, ["department": "R&D", "jobTitle": "Engineer", "costCentre": "CC-7", "floor": 3]))
        // A wrong type is refused with the field named, and nothing changes.
        let (status, answer) = try t.admin(.put, "attribute-mapping", ["fields": [["name": "floor", "type": "boolean", "sources": .array([.string(custom + ":floor")])]]])
        #expect(status == 400 && answer["message"]?.string?.contains("'fields[0].sources[0]'") == true, "\(answer)")
        #expect(DirectoryReplica.sameJSON(try t.admin(.get, "users/\(ada)").1["profile"], profile))
    }

    @Test func aSnapshotTakenWhileWritesContinuePlusTheEventsAfterItReproducesTheDatabaseRowByRow() throws {
        let d = try Deployment("snapshot")
        defer { d.stop() }
        let t = try DirectoryClient(d, name: "snapshot", region: "us")
        #expect(try t.admin(.put, "roles", ["roles": [["key": "admin"], ["key": "member"]],
                                            "rules": [["group": ["displayName": "Admins"], "role": "admin"]], "defaultRole": "member"]).0 == 200)
        #expect(try t.admin(.put, "attribute-mapping", ["fields": [["name": "jobTitle", "sources": ["title"]]]]).0 == 200)
        let users = try (0..<60).map { try t.user("s\($0)@snapshot.example", ["title": .string("T\($0)")]) }
        let groups = try ["Admins", "Staff", "Ops", "Admins-2"].map { try t.group($0, members: Array(users.prefix(10))) }
        try t.waitForRecompute()

        // Three IdP connections keep writing through the gateway while the snapshot is read page by page.
        let stop = StopFlag()
        let failures = Collected<String>()
        let writes = Atomic<Int>(0)
        let writers = background {
            onThreads(3) { i in
                let client = SCIMClient(port: d.gateways[0].port, token: t.token)
                var n = 0
                while !stop.isRaised && n < 2000 {
                    n += 1
                    let user = users[(i * 13 + n * 7) % users.count], group = groups[(i + n) % groups.count]
                    let patch = { (ops: JSONValue) -> JSONValue in ["schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops] }
                    var response: HTTPResponse?
                    switch (i + n) % 6 {
                    case 0: response = client.send(.patch, "/scim/v2/Groups/\(group)", body: patch([["op": "add", "path": "members", "value": [["value": .string(user)]]]])).0
                    case 1: response = client.send(.patch, "/scim/v2/Groups/\(group)", body: patch([["op": "remove", "path": .string("members[value eq \"\(user)\"]")]])).0
                    case 2: response = client.send(.patch, "/scim/v2/Users/\(user)", body: patch([["op": "replace", "path": "title", "value": .string("T\(n)")]])).0
                    case 3: response = client.send(.post, "/scim/v2/Users", body: userBody("new-\(i)-\(n)@snapshot.example")).0
                    case 4:
                        // Renames move a group in and out of the rules (a name already taken is a 409: fine).
                        response = client.send(.patch, "/scim/v2/Groups/\(group)", body: patch([["op": "replace", "path": "displayName", "value": .string(n % 2 == 0 ? "Admins" : "Group-\(i)-\(n)")]])).0
                        if response?.status.code == 409 { response = nil }
                    default:
                        let created = client.send(.post, "/scim/v2/Users", body: userBody("gone-\(i)-\(n)@snapshot.example")).0
                        if let id = created.flatMap({ try? JSONDecoder.decode($0.body) })?["id"]?.string {
                            _ = client.send(.patch, "/scim/v2/Groups/\(groups[0])", body: patch([["op": "add", "path": "members", "value": [["value": .string(id)]]]]))
                            response = client.send(.delete, "/scim/v2/Users/\(id)").0
                        }
                    }
                    if let response, !(200...299).contains(response.status.code) {
                        failures.append("\(response.status.code) \(response.bodyText.prefix(200))")
                    }
                    writes.add(1, ordering: .relaxed)
                }
            }
        }
        sleepMillis(300)
        let writesBefore = writes.load(ordering: .relaxed)
        // Between two pages, at least five more writes commit (or three seconds pass).
        let taken = try t.snapshot(limit: 25, between: {
            let target = writes.load(ordering: .relaxed) + 5, deadline = monotonicMillis() + 3000
            while writes.load(ordering: .relaxed) < target && monotonicMillis() < deadline { sleepMillis(5) }
        })
        let writesDuring = writes.load(ordering: .relaxed) - writesBefore
        sleepMillis(300)
        stop.raise()
        writers.join()
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        #expect(writesDuring > 20, "writes continued while the snapshot was read (\(writesDuring))")
        try t.waitForRecompute()

        var replica = taken.replica
        let (events, _) = try t.settledEvents(after: taken.cursor)
        for event in events {
            let known = replica.apply(event: event)
            #expect(known, "unknown event \(event)")
        }
        let fromDatabase = try t.differencesFromDatabase(replica)
        #expect(fromDatabase.isEmpty, "\(fromDatabase.prefix(10))")
        let now = try t.snapshot(limit: 1000)
        #expect(replica.differences(from: now.replica).isEmpty, "\(replica.differences(from: now.replica).prefix(10))")
        print("DIRECTORY snapshot under writes: \(taken.replica.users.count) users, \(taken.replica.memberships.count) memberships; "
              + "\(writesDuring) writes while it was read; \(events.count) events after its cursor; replay equals the database")

        // scimctl writes the same snapshot as JSON lines and says where to resume.
        let (code, output) = try Self.scimctl(d, ["snapshot", t.id, "--limit", "40"])
        #expect(code == 0)
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.filter { $0.hasPrefix("{\"user\"") }.count == now.replica.users.count)
        #expect(lines.filter { $0.hasPrefix("{\"membership\"") }.count == now.replica.memberships.count)
        #expect(output.contains("resume the events with: scimctl events \(t.id) --after "), "\(output.suffix(300))")
    }
}
