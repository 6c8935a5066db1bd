import Crypto
import Glibc
import Lifecycle
import HTTPCore
import JSON
import Postgres
@testable import RegionMove
@testable import RegionSCIM
import Synchronization
import Telemetry
import TestSupport
import Testing

/// A tenant table no migration of ours has: another engineer's table, added after the move was written.
let widgetsTable = """
    CREATE TABLE widgets (
        tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        id bigint GENERATED ALWAYS AS IDENTITY,
        label text COLLATE "C" NOT NULL,
        payload jsonb NOT NULL,
        tags text[] NOT NULL DEFAULT '{}',
        blob bytea,
        ratio double precision,
        at timestamptz NOT NULL DEFAULT now(),
        position xid8 NOT NULL DEFAULT pg_current_xact_id(),
        label_length integer GENERATED ALWAYS AS (length(label)) STORED,
        PRIMARY KEY (tenant_id, id)
    );
    ALTER TABLE widgets ENABLE ROW LEVEL SECURITY;
    ALTER TABLE widgets FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON widgets USING (tenant_id = (SELECT scim_current_tenant()))
        WITH CHECK (tenant_id = (SELECT scim_current_tenant()));
    """

/// The region's move endpoints against real databases: two regions in one process, called without sockets.
@Suite(.serialized) struct RegionMoveTests {
    /// Copies every table of `tenant` from `source` to `target` (export everything, import everything), the way the
    /// mover's first round does, and returns the number of rows copied.
    @discardableResult
    func copyAll(_ tenant: String, from source: MoveTestRegion, to target: MoveTestRegion, token: String) throws -> Int {
        let schema = source.move(.get, "/schema", tenant: tenant).json
        var copied = 0
        for table in schema["tables"]?.array ?? [] {
            let name = table["name"]!.string!
            var after: JSONValue = .null
            while true {
                let page = source.move(.post, "/export", tenant: tenant,
                                       json: ["table": .string(name), "buckets": 1, "after": after, "limit": 700, "maxBytes": 65536])
                #expect(page.status.code == 200, "\(page.bodyText)")
                let rows = Int(page.headers["X-Move-Rows"] ?? "0") ?? 0
                if rows > 0 {
                    let imported = target.send(.post, "/internal/v1/tenants/\(tenant)/move/import?\(token)&table=\(name)", tenant: tenant,
                                               body: page.body)
                    #expect(imported.status.code == 200, "\(imported.bodyText)")
                    copied += imported.json["inserted"]?.int ?? 0
                }
                guard page.headers["X-Move-More"] == "1", let next = page.headers["X-Move-After"],
                      let bytes = Base64.decode(next), let key = try? JSONDecoder.decode(bytes) else { break }
                after = key
            }
        }
        return copied
    }

    /// The target's comparison of its rows of `table` with the source's, for `buckets` buckets in two ranges.
    func compare(_ source: MoveTestRegion, _ target: MoveTestRegion, _ tenant: String, table: String, buckets: Int) -> [JSONValue] {
        [(0, buckets / 2), (buckets / 2, buckets)].map { from, to in
            let digests = source.move(.post, "/digests", tenant: tenant,
                                      json: ["table": .string(table), "buckets": .number(JSONNumber(buckets)), "from": .number(JSONNumber(from)),
                                             "to": .number(JSONNumber(to))])
            #expect(digests.status.code == 200, "\(digests.bodyText)")
            // As the mover sends them: the source's digests put into the body unparsed.
            let body = Array(#"{"digests":"#.utf8) + digests.body + Array(#","only":null}"#.utf8)
            return target.send(.post, "/internal/v1/tenants/\(tenant)/move/compare?table=\(table)&buckets=\(buckets)&from=\(from)&to=\(to)",
                               tenant: tenant, body: body).json
        }
    }

    @Test func aTenantIsCopiedRowForRowIncludingATableAddedLater() throws {
        let source = try MoveTestRegion("src", extraSQL: widgetsTable)
        let target = try MoveTestRegion("dst", extraSQL: widgetsTable)
        let tenant = source.provision()
        let other = source.provision()
        var users: [String] = []
        for i in 0..<60 {
            let r = source.scim(.post, "/Users", tenant: tenant, #"""
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user\#(i)@example.com","displayName":"Ünïcødé \#(i) \"q\"",
                 "emails":[{"value":"user\#(i)@example.com","primary":true}],"active":\#(i % 5 != 0)}
                """#)
            #expect(r.status.code == 201)
            users.append(r.json["id"]?.string ?? "")
        }
        source.scim(.delete, "/Users/\(users[3])", tenant: tenant)  // a tombstone (soft policy)
        let group = source.scim(.post, "/Groups", tenant: tenant, #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G"}"#)
            .json["id"]?.string ?? ""
        let members = users.prefix(40).dropFirst(5).map { #"{"value":"\#($0)"}"# }.joined(separator: ",")
        let added = source.scim(.patch, "/Groups/\(group)", tenant: tenant, patchOp(#"{"op":"add","path":"members","value":[\#(members)]}"#))
        #expect([200, 204].contains(added.status.code), "\(added.bodyText)")
        _ = try source.sql(tenant, "INSERT INTO idp_quirks (tenant_id, quirk, count, first_seen, last_seen) VALUES ($1, 'entraBooleanStrings', 7, now(), now())",
                           [.uuid(tenant)])
        _ = try source.sql(tenant, """
            INSERT INTO webhook_endpoints (tenant_id, url, secret_key_id, secret_sealed, cursor_xid)
            VALUES ($1, 'https://hooks.example.com/x', 'webhook-1', '\\x00ff10'::bytea, '5'::xid8)
            """, [.uuid(tenant)])
        _ = try source.sql(tenant, """
            INSERT INTO webhook_dead_letters (tenant_id, after_xid, after_seq, last_xid, last_seq, event_count, attempts)
            VALUES ($1, '1'::xid8, 1, '2'::xid8, 2, 3, 15)
            """, [.uuid(tenant)])
        for i in 0..<30 {
            _ = try source.sql(tenant, "INSERT INTO widgets (tenant_id, label, payload, tags, blob, ratio) VALUES ($1, $2, $3, $4, $5, $6)",
                               [.uuid(tenant), .text("w\(i) ☃ 'x'"), .jsonb(#"{"n":\#(i),"nested":{"a":[1,2.5,"x"]}}"#), .text("{a,\"b c\"}"),
                                .bytes([0, 1, 2, UInt8(i)]), .double(Double(i) / 3)])
        }
        _ = try source.sql(other, "INSERT INTO widgets (tenant_id, label, payload) VALUES ($1, 'other', '{}')", [.uuid(other)])
        let before = try source.dump(tenant)
        #expect(before["widgets"]?.count == 30)
        #expect((before["events"]?.count ?? 0) > 60)

        let move = SecureRandom.uuid()
        let token = "move=\(move)&epoch=1"
        // The target takes the tenant only while a move holds it as incoming.
        let early = target.send(.post, "/internal/v1/tenants/\(tenant)/move/import?\(token)&table=users", tenant: tenant, body: Array("[]".utf8))
        #expect(early.status.code == 409)
        let fence = target.send(.put, "/internal/v1/tenants/\(tenant)/move/fence?\(token)", tenant: tenant,
                                json: ["state": "incoming", "peerRegion": "src"])
        #expect(fence.status.code == 200, "\(fence.bodyText)")
        try copyAll(tenant, from: source, to: target, token: token)

        // Row for row, every table, the new one included; the generated column was derived again.
        let after = try target.dump(tenant)
        for table in before.keys.sorted() {
            let a = after[table] ?? [], b = before[table] ?? []
            #expect(a == b, "\(table): \(a.count) rows copied of \(b.count); first difference: \(zip(a, b).first { $0 != $1 }.map { "\($0) ≠ \($1)" } ?? "-")")
        }
        for table in before.keys.sorted() {
            for answer in compare(source, target, tenant, table: table, buckets: 7) {
                #expect(answer["clear"]?.array?.isEmpty == true && answer["copy"]?.array?.isEmpty == true, "\(table): \(answer)")
                #expect(answer["sourceDigest"]?.string == answer["targetDigest"]?.string)
            }
        }
        // A changed row, a missing one and an extra one are each found, in their own bucket only. The missing one is
        // the first user after users[10] in another of the 16 buckets (the same bucket for both — one run in 16 with
        // fixed indexes — made this test fail as "1 differing bucket, expected 2").
        func bucket(_ id: String) throws -> Int64? {
            // As TablePlan.bucket: the key after the tenant column, for users (id) alone.
            try source.sql(tenant, "SELECT (('x' || substr(md5(ROW($1::uuid)::text), 1, 8))::bit(32)::bigint % 16)",
                           [.uuid(id)]).int(row: 0, column: 0)
        }
        let changedBucket = try bucket(users[10])
        guard let gone = try users[11...].first(where: { try bucket($0) != changedBucket }) else {
            Issue.record("every user in one bucket")
            return
        }
        _ = try target.pool.withTransaction(setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)])]) { c in
            try c.query("SET LOCAL session_replication_role = replica")
            try c.query("UPDATE users SET display_name = 'changed' WHERE id = $1", [.uuid(users[10])])
            try c.query("DELETE FROM users WHERE id = $1", [.uuid(gone)])
            try c.query("UPDATE widgets SET ratio = ratio + 1e-12 WHERE id = 5")
        }
        let userAnswers = compare(source, target, tenant, table: "users", buckets: 16)
        let differing = userAnswers.flatMap { ($0["clear"]?.array ?? []) + ($0["copy"]?.array ?? []) }.compactMap(\.int)
        #expect(Set(differing) == Set([changedBucket, try bucket(gone)].compactMap { $0 }.map(Int.init)), "\(userAnswers)")
        #expect(userAnswers.map { $0["targetRows"]?.int ?? 0 }.reduce(0, +) == 59)
        let widgetAnswers = compare(source, target, tenant, table: "widgets", buckets: 16)
        #expect(widgetAnswers.flatMap { $0["copy"]?.array ?? [] }.count == 1, "a last-digit change of a double is a difference")
        // Triggers were off: no events for the copied rows, member counts not counted twice.
        #expect(try target.sql(tenant, "SELECT member_count FROM groups WHERE id = $1", [.uuid(group)]).int(row: 0, column: 0) == 35)
        #expect(try target.sql(other, "SELECT count(*) FROM widgets").int(row: 0, column: 0) == 0, "only the moved tenant")
        // While incoming, the target refuses SCIM writes (503, marked as a pause) and serves nothing new.
        let refused = target.scim(.post, "/Users", tenant: tenant, #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x@example.com"}"#)
        #expect(refused.status.code == 503)
        #expect(refused.headers["Retry-After"] != nil && refused.headers["X-Scim-Write-Pause"] == "tenant-move")

        // Activation: sequences move past the copied values, writes go on.
        let largest = try target.sql(tenant, "SELECT max(id) FROM widgets").int(row: 0, column: 0) ?? 0
        _ = try target.pool.withConnection { try $0.query("SELECT setval(pg_get_serial_sequence('widgets', 'id'), 1)") }
        #expect(target.send(.put, "/internal/v1/tenants/\(tenant)/move/fence?\(token)", tenant: tenant,
                            json: ["state": "active", "peerRegion": "src"]).status.code == 200)
        let next = try target.sql(tenant, "INSERT INTO widgets (tenant_id, label, payload) VALUES ($1, 'new', '{}') RETURNING id", [.uuid(tenant)])
            .int(row: 0, column: 0) ?? 0
        #expect(next > largest)
        let created = target.scim(.post, "/Users", tenant: tenant, #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"new@example.com"}"#)
        #expect(created.status.code == 201)
        #expect(target.scim(.get, "/Users/\(users[7])", tenant: tenant).status.code == 200)
        #expect(target.scim(.get, "/Users/\(gone)", tenant: tenant).status.code == 404, "deleted on the target above")
        #expect(target.scim(.get, "/Users/\(users[3])", tenant: tenant).status.code == 404, "a tombstone stays a tombstone")
    }

    @Test func aFrozenTenantRefusesWritesAfterTheWritesInFlightHaveEnded() throws {
        let region = try MoveTestRegion("freeze")
        let tenant = region.provision(), other = region.provision()
        let token = "move=\(SecureRandom.uuid())&epoch=1"
        let body = { (n: String) in #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"\#(n)@example.com"}"# }
        #expect(region.send(.put, "/internal/v1/tenants/\(tenant)/move/fence?\(token)", tenant: tenant,
                            json: ["state": "copying", "peerRegion": "eu2"]).status.code == 200)
        #expect(region.scim(.post, "/Users", tenant: tenant, body("a")).status.code == 201, "copying: writes go on")

        // A write in flight: it locked the tenant row and read no fence, and has not committed yet.
        let held = try PostgresConnection(configuration: region.database.appConfiguration)
        try held.executeScript("BEGIN")
        _ = try held.query("SELECT set_config('app.tenant_id', $1, true)", [.text(tenant)])
        _ = try held.query("SELECT 1 FROM tenants WHERE id = $1::uuid FOR KEY SHARE", [.uuid(tenant)])
        #expect(try held.query("SELECT count(*) FROM tenant_moves WHERE tenant_id = $1::uuid AND state = 'frozen'", [.uuid(tenant)])
            .int(row: 0, column: 0) == 0)
        _ = try held.query("""
            INSERT INTO users (tenant_id, id, user_name, user_name_key, resource, created_at, last_modified)
            VALUES ($1::uuid, gen_random_uuid(), 'late@example.com', 'late@example.com', '{}', now(), now())
            """, [.uuid(tenant)])
        let started = Timestamp.monotonicNanos()
        let freeze = Mutex<(Int, UInt64)?>(nil)
        let thread = ThreadHandle.start(name: "freeze") {
            let r = region.send(.put, "/internal/v1/tenants/\(tenant)/move/fence?\(token)", tenant: tenant,
                                json: ["state": "frozen", "peerRegion": "eu2"])
            freeze.withLock { $0 = (r.status.code, Timestamp.monotonicNanos()) }
        }
        usleep(400_000)
        #expect(freeze.withLock { $0 } == nil, "the freeze waits for the write in flight")
        // New writes are refused at once (the fence committed before the wait), reads and other tenants go on.
        let refused = region.scim(.post, "/Users", tenant: tenant, body("b"))
        #expect(refused.status.code == 503)
        #expect(refused.headers["X-Scim-Write-Pause"] == "tenant-move" && refused.headers["Retry-After"] == "2")
        #expect(region.scim(.get, "/Users?filter=userName%20eq%20%22a@example.com%22", tenant: tenant).json["totalResults"]?.int == 1)
        #expect(region.scim(.post, "/Users", tenant: other, body("c")).status.code == 201)
        try held.executeScript("COMMIT")
        thread.join()
        let (status, at) = freeze.withLock { $0 } ?? (0, 0)
        #expect(status == 200)
        #expect(at - started >= 400_000_000, "returned only after the write in flight committed")
        // Tenant settings and webhook changes are fenced too; deleting the tenant is refused while a move holds it.
        #expect(region.send(.put, "/internal/v1/tenants/\(tenant)", tenant: tenant,
                            body: Array(#"{"name":"renamed","deprovisionPolicy":"hard"}"#.utf8)).status.code == 503)
        #expect(region.send(.put, "/internal/v1/tenants/\(tenant)/webhook", tenant: tenant,
                            body: Array(#"{"url":"https://hooks.example.com/a"}"#.utf8)).status.code == 503)
        #expect(region.send(.delete, "/internal/v1/tenants/\(tenant)", tenant: tenant).status.code == 409)

        // An abort removes the fence: writes go on, nothing was lost.
        #expect(region.send(.delete, "/internal/v1/tenants/\(tenant)/move/fence?\(token)", tenant: tenant).json["removed"]?.bool == true)
        #expect(region.scim(.post, "/Users", tenant: tenant, body("d")).status.code == 201)
        #expect(try region.sql(tenant, "SELECT count(*) FROM users").int(row: 0, column: 0) == 3)
    }

    @Test func aStaleMoverIsFencedOffByTheEpoch() throws {
        let region = try MoveTestRegion("epoch")
        let tenant = SecureRandom.uuid()
        let move = SecureRandom.uuid()
        func fence(_ epoch: Int, _ state: String) -> Int {
            region.send(.put, "/internal/v1/tenants/\(tenant)/move/fence?move=\(move)&epoch=\(epoch)", tenant: tenant,
                        json: ["state": .string(state), "peerRegion": "us"]).status.code
        }
        func importRow(_ epoch: Int) -> HTTPResponse {
            region.send(.post, "/internal/v1/tenants/\(tenant)/move/import?move=\(move)&epoch=\(epoch)&table=tenants", tenant: tenant,
                        body: Array(#"[{"id":"\#(tenant)","name":"t","deprovision_policy":"hard","schema_extensions":[],"validators":[],"settings_version":1,"created_at":"2026-01-01T00:00:00+00:00","updated_at":"2026-01-01T00:00:00+00:00","unique_external_id":false,"request_log":{}}]"#.utf8))
        }
        #expect(fence(1, "incoming") == 200)
        #expect(importRow(1).json["inserted"]?.int == 1)
        #expect(fence(2, "incoming") == 200, "a takeover raises the epoch")
        let stale = importRow(1)
        #expect(stale.status.code == 409)
        #expect(stale.json["detail"]?.string?.contains("newer mover") == true)
        #expect(fence(1, "active") == 409, "nor may the stale mover change the fence")
        #expect(importRow(2).status.code == 200)
        #expect(region.send(.put, "/internal/v1/tenants/\(tenant)/move/fence?move=\(SecureRandom.uuid())&epoch=9", tenant: tenant,
                            json: ["state": "incoming", "peerRegion": "us"]).status.code == 409, "another move cannot take the tenant")
        // Rows of another tenant are refused whole; a body that is not an array is a 400.
        let foreign = region.send(.post, "/internal/v1/tenants/\(tenant)/move/import?move=\(move)&epoch=2&table=tenants", tenant: tenant,
                                  body: Array(#"[{"id":"\#(SecureRandom.uuid())","name":"x","deprovision_policy":"hard"}]"#.utf8))
        #expect(foreign.status.code == 400)
        #expect(region.send(.post, "/internal/v1/tenants/\(tenant)/move/import?move=\(move)&epoch=2&table=tenants", tenant: tenant,
                            body: Array("{}".utf8)).status.code == 400)
        // An incoming tenant is purged, never unfenced; the purge leaves nothing.
        #expect(region.send(.delete, "/internal/v1/tenants/\(tenant)/move/fence?move=\(move)&epoch=2", tenant: tenant).status.code == 409)
        let purged = region.send(.post, "/internal/v1/tenants/\(tenant)/move/purge?move=\(move)&epoch=2", tenant: tenant, json: ["limit": 100])
        #expect(purged.json["done"]?.bool == true)
        #expect(region.move(.get, "/residue", tenant: tenant).json["total"]?.int == 0)
        #expect(region.send(.post, "/internal/v1/tenants/\(tenant)/move/purge?move=\(move)&epoch=2", tenant: tenant, json: [:]).json["done"]?.bool == true,
                "a repeated purge is a no-op")
    }

    /// A catch-up round finds what changed since a horizon without hashing every row: exactly the buckets of the rows
    /// inserted or updated after it, in every table they touched, and nothing for a quiet table.
    @Test func changedBucketsNameExactlyTheRowsWrittenSinceAHorizon() throws {
        let region = try MoveTestRegion("changed")
        let tenant = region.provision()
        var users: [String] = []
        for i in 0..<40 {
            users.append(region.scim(.post, "/Users", tenant: tenant, #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"c\#(i)@example.com"}"#)
                .json["id"]?.string ?? "")
        }
        // The horizon is the cluster's oldest running transaction: another test's open transaction in the same
        // PostgreSQL holds it back (the answer is then a safe superset). Exactness is what this test is about, so it
        // takes a horizon that has passed its own writes, waiting (bounded) for other tests' transactions to end.
        var horizon = ""
        func changed(_ table: String) -> (buckets: [Int], rows: Int) {
            let r = region.move(.post, "/changed", tenant: tenant, json: ["table": .string(table), "buckets": 64, "since": .string(horizon)])
            #expect(r.status.code == 200, "\(r.bodyText)")
            return ((r.json.array ?? []).compactMap(\.int), Int(r.headers["X-Move-Rows"] ?? "") ?? -1)
        }
        let deadline = ContinuousClock.now + .seconds(60)
        repeat {
            horizon = try #require(region.move(.get, "/schema", tenant: tenant).json["horizon"]?.string)
            if changed("users").rows == 0 { break }
            usleep(200_000)
        } while ContinuousClock.now < deadline
        #expect(changed("users").rows == 0 && changed("users").buckets.isEmpty, "nothing since the horizon")
        region.scim(.patch, "/Users/\(users[7])", tenant: tenant, patchOp(#"{"op":"replace","path":"displayName","value":"New"}"#))
        let created = region.scim(.post, "/Users", tenant: tenant, #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"late@example.com"}"#)
            .json["id"]?.string ?? ""
        let expected = try region.sql(tenant, """
            SELECT array_agg(DISTINCT b ORDER BY b)::text
            FROM (SELECT ('x' || substr(md5(ROW(id)::text), 1, 8))::bit(32)::bigint % 64 AS b FROM users WHERE id = ANY($1::uuid[])) k
            """, [.text("{\(users[7]),\(created)}")]).string(row: 0, column: 0)
        let users2 = changed("users")
        #expect(users2.rows == 2)
        #expect("{" + users2.buckets.map(String.init).joined(separator: ",") + "}" == expected, "the buckets of the patched and the created user")
        #expect(changed("events").rows == 2, "their two events")
        #expect(changed("groups").rows == 0)
        #expect(region.move(.post, "/changed", tenant: tenant, json: ["table": "users", "buckets": 64, "since": "soon"]).status.code == 400)
    }

    @Test func aMovedSourceIsPurgedToTheLastRow() throws {
        let region = try MoveTestRegion("purge")
        let tenant = region.provision(), other = region.provision()
        for i in 0..<25 {
            region.scim(.post, "/Users", tenant: tenant, #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u\#(i)@example.com"}"#)
        }
        region.scim(.post, "/Users", tenant: other, #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"keep@example.com"}"#)
        let token = "move=\(SecureRandom.uuid())&epoch=1"
        // Not before the cut-over: a copying or frozen source is never purged.
        #expect(region.send(.put, "/internal/v1/tenants/\(tenant)/move/fence?\(token)", tenant: tenant,
                            json: ["state": "copying", "peerRegion": "eu2"]).status.code == 200)
        #expect(region.send(.post, "/internal/v1/tenants/\(tenant)/move/purge?\(token)", tenant: tenant, json: [:]).status.code == 409)
        #expect(region.send(.put, "/internal/v1/tenants/\(tenant)/move/fence?\(token)", tenant: tenant,
                            json: ["state": "moved", "peerRegion": "eu2"]).status.code == 409, "copying cannot jump to moved")
        for state in ["frozen", "moved"] {
            #expect(region.send(.put, "/internal/v1/tenants/\(tenant)/move/fence?\(token)", tenant: tenant,
                                json: ["state": .string(state), "peerRegion": "eu2"]).status.code == 200)
        }
        var rounds = 0
        while true {
            let r = region.send(.post, "/internal/v1/tenants/\(tenant)/move/purge?\(token)", tenant: tenant, json: ["limit": 10])
            #expect(r.status.code == 200, "\(r.bodyText)")
            rounds += 1
            if r.json["done"]?.bool == true || rounds > 50 { break }
        }
        #expect(rounds > 3, "bounded batches")
        let residue = region.move(.get, "/residue", tenant: tenant).json
        #expect(residue["total"]?.int == 0, "\(residue)")
        #expect(region.scim(.get, "/Users", tenant: tenant).status.code == 404)
        #expect(try region.sql(other, "SELECT count(*) FROM users").int(row: 0, column: 0) == 1, "other tenants keep everything")
    }

    @Test func theTargetsTransactionIDsAreRaisedAboveTheSources() throws {
        let region = try MoveTestRegion("xid")
        let tenant = SecureRandom.uuid()
        let token = "move=\(SecureRandom.uuid())&epoch=1"
        #expect(region.send(.put, "/internal/v1/tenants/\(tenant)/move/fence?\(token)", tenant: tenant,
                            json: ["state": "incoming", "peerRegion": "us"]).status.code == 200)
        let now = UInt64(region.move(.get, "/schema", tenant: tenant).json["xid"]?.string ?? "0") ?? 0
        let r = region.send(.post, "/internal/v1/tenants/\(tenant)/move/xid-floor?\(token)", tenant: tenant,
                            json: ["above": .string(String(now + 3000))])
        #expect(r.status.code == 200, "\(r.bodyText)")
        #expect(r.json["reached"]?.bool == true)
        #expect((UInt64(r.json["xid"]?.string ?? "0") ?? 0) > now + 3000)
        #expect((r.json["burned"]?.int ?? 0) > 0)
        let bounded = region.send(.post, "/internal/v1/tenants/\(tenant)/move/xid-floor?\(token)", tenant: tenant,
                                  json: ["above": .string(String(now + 1_000_000_000)), "maxBurn": 100])
        #expect(bounded.json["reached"]?.bool == false && bounded.json["burned"]?.int == 100)
    }

    @Test func badMoveCallsGetClearAnswers() throws {
        let region = try MoveTestRegion("bad")
        let tenant = region.provision()
        #expect(region.move(.post, "/digests", tenant: tenant, json: ["table": "nope", "buckets": 4]).status.code == 404)
        #expect(region.move(.post, "/digests", tenant: tenant, json: ["table": "users", "buckets": 0]).status.code == 400)
        #expect(region.move(.post, "/digests", tenant: tenant, json: ["table": "users", "buckets": 4, "from": 3, "to": 9]).status.code == 400)
        #expect(region.move(.post, "/export", tenant: tenant, json: ["table": "users", "buckets": 4, "after": ["a", "b"]]).status.code == 400)
        #expect(region.move(.post, "/export", tenant: tenant, json: ["table": "users", "buckets": 4, "only": [9]]).status.code == 400)
        #expect(region.send(.post, "/internal/v1/tenants/\(tenant)/move/compare?table=users&buckets=4", tenant: tenant,
                            body: Array(#"{"digests": [[0, 1, "x", "y"]], "only": null}"#.utf8)).status.code == 400, "digests that are not numbers")
        #expect(region.send(.post, "/internal/v1/tenants/\(tenant)/move/compare?table=users&buckets=4", tenant: tenant,
                            body: Array("[[0, 1, 2, 3]]".utf8)).status.code == 400, "not the {digests, only} object")
        #expect(region.send(.post, "/internal/v1/tenants/\(tenant)/move/compare?table=users&buckets=4", tenant: tenant,
                            body: Array("{}".utf8)).status.code == 400)
        #expect(region.move(.post, "/export", tenant: tenant, raw: Array("not json".utf8)).status.code == 400)
        #expect(region.move(.put, "/fence", tenant: tenant, json: ["state": "copying", "peerRegion": "eu2"]).status.code == 400, "no token")
        #expect(region.send(.put, "/internal/v1/tenants/\(tenant)/move/fence?move=\(SecureRandom.uuid())&epoch=1", tenant: tenant,
                            json: ["state": "copying", "peerRegion": "EU 2!"]).status.code == 400)
        #expect(region.send(.put, "/internal/v1/tenants/\(tenant)/move/fence?move=\(SecureRandom.uuid())&epoch=1", tenant: tenant,
                            json: ["state": "sideways", "peerRegion": "eu2"]).status.code == 400)
        // The signed tenant must be the tenant in the path.
        #expect(region.send(.get, "/internal/v1/tenants/\(tenant)/move/residue", tenant: SecureRandom.uuid()).status.code == 403)
        // The digests of an empty table are an empty list.
        let empty = region.move(.post, "/digests", tenant: tenant, json: ["table": "webhook_endpoints", "buckets": 4])
        #expect(empty.status.code == 200 && empty.bodyText == "[]")
    }
}
