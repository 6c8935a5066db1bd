import Crypto
import Glibc
import HTTPCore
import JSON
import Postgres
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import SCIMCore
import Synchronization
import Telemetry
import TestSupport
import Testing

/// A page of the pull API.
struct EventPageResult {
    var events: [JSONValue]
    var next: String
    var hasMore: Bool
    var types: [String] { events.compactMap { $0["type"]?.string } }
    var ids: [String] { events.compactMap { $0["id"]?.string } }
}

extension Tenant {
    /// `GET /internal/v1/tenants/{id}/<path>` (or another method) as the gateway sends it.
    @discardableResult
    func internalCall(_ method: HTTPMethod, _ path: String, _ body: String? = nil) -> HTTPResponse {
        region.send(method, "/internal/v1/tenants/\(id)/\(path)", tenant: id, body: body, contentType: "application/json")
    }

    func eventPage(after: String? = nil, limit: Int = 1000, sourceLocation: SourceLocation = #_sourceLocation) -> EventPageResult {
        var query = "limit=\(limit)"
        if let after { query += "&after=\(after)" }
        let response = internalCall(.get, "events?" + query)
        #expect(response.status.code == 200, "\(response.bodyText)", sourceLocation: sourceLocation)
        let json = response.json
        return EventPageResult(events: json["events"]?.array ?? [], next: json["next"]?.string ?? "",
                               hasMore: json["hasMore"]?.bool ?? false)
    }

    /// At least `count` events after `start`, waiting for them to become visible: an event is held back while any
    /// older write transaction on the PostgreSQL server is still open (other tests' included), so right after a
    /// write it may not be there yet. Fails the test after 15 s.
    func visible(_ count: Int, after start: String? = nil, sourceLocation: SourceLocation = #_sourceLocation)
        -> (events: [JSONValue], next: String)
    {
        let deadline = monotonicMillis() + 15_000
        while true {
            let result = allEvents(after: start)
            if result.events.count >= count || monotonicMillis() > deadline {
                #expect(result.events.count == count, "visible events", sourceLocation: sourceLocation)
                return result
            }
            sleepMillis(20)
        }
    }

    /// Every visible event from the start (or after a cursor), paging to the end.
    func allEvents(after start: String? = nil) -> (events: [JSONValue], next: String) {
        var after = start
        var out: [JSONValue] = []
        while true {
            let page = eventPage(after: after, limit: 100)
            out += page.events
            after = page.next
            if !page.hasMore { return (out, page.next) }
        }
    }
}

/// The transactional outbox and the pull API: which events each SCIM change writes, that rolled-back changes write
/// none, ordering under concurrency, paging, isolation, the read API and retention.
@Suite struct EventTests {
    static let userSchema = "urn:ietf:params:scim:schemas:core:2.0:User"

    @Test func userLifecycleWritesOneEventPerChange() throws {
        let region = try Region()
        let t = region.tenant(policy: .soft)
        let id = t.user("ada@example.com", #","active":true,"externalId":"e-1""#)
        t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"replace","path":"active","value":false}"#))
        t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"replace","path":"active","value":true}"#))
        t.send(.put, "/Users/\(id)", #"{"schemas":["\#(Self.userSchema)"],"userName":"ada@example.com","displayName":"Ada","active":true,"externalId":"e-1"}"#)
        // A request that writes nothing (a failed If-Match) is not an event.
        #expect(t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"replace","path":"displayName","value":"x"}"#),
                       headers: [("If-Match", #"W/"1""#)]).status.code == 412)
        #expect(t.send(.delete, "/Users/\(id)").status.code == 204)
        // An IdP re-creates the person it deleted: a new user with a new id; the deletion stands.
        let recreated = t.user("ada@example.com", #","externalId":"e-1""#)
        #expect(recreated != id)

        let events = t.visible(6).events
        #expect(events.map { $0["type"]?.string ?? "" } == ["user.created", "user.deactivated", "user.reactivated", "user.updated",
                                                             "user.deleted", "user.created"])
        #expect(events.prefix(5).allSatisfy { $0["data"]?["user"]?["id"]?.string == id && $0["tenantId"]?.string == t.id })
        #expect(events[5]["data"]?["user"]?["id"]?.string == recreated)
        #expect(events[5]["data"]?["user"]?["meta"]?["version"]?.string == #"W/"1""#)
        // Resource events carry the resource as GET showed it after that change.
        let updated = try #require(events[3]["data"]?["user"])
        #expect(updated["displayName"]?.string == "Ada")
        #expect(updated["meta"]?["version"]?.string == #"W/"4""#)
        #expect(updated["meta"]?["location"]?.string == region.baseURL + "/Users/" + id)
        #expect(updated["schemas"]?[0]?.string == Self.userSchema)
        #expect(events[1]["data"]?["user"]?["active"]?.bool == false)
        // A deletion carries the identity only.
        #expect(events[4]["data"]?["user"] == ["id": .string(id), "userName": "ada@example.com", "externalId": "e-1"])
        // Ids are unique and in stream order.
        let ids = events.compactMap { $0["id"]?.string }
        #expect(Set(ids).count == 6)
        #expect(ids.map(Self.position) == ids.map(Self.position).sorted())
    }

    static func position(_ eventID: String) -> EventPosition {
        let parts = eventID.split(separator: "_")
        return EventPosition(xid: UInt64(parts[1]) ?? 0, seq: Int64(parts[2]) ?? 0)
    }

    @Test func hardDeleteAndMembershipEvents() throws {
        let region = try Region()
        let t = region.tenant(policy: .hard)
        let u1 = t.user("u1"), u2 = t.user("u2")
        let start = t.visible(2).next
        let g = t.group("Engineering", #","members":[{"value":"\#(u1)"}]"#)
        t.send(.patch, "/Groups/\(g)", patchOp(#"{"op":"add","path":"members","value":[{"value":"\#(u2)"}]}"#))
        t.send(.patch, "/Groups/\(g)", patchOp(#"{"op":"replace","path":"displayName","value":"Eng"}"#))
        t.send(.patch, "/Groups/\(g)", patchOp(#"{"op":"remove","path":"members[value eq \"\#(u1)\"]"}"#))
        #expect(t.send(.delete, "/Users/\(u2)").status.code == 204)
        #expect(t.send(.delete, "/Groups/\(g)").status.code == 204)

        let events = t.visible(8, after: start).events
        #expect(events.map { $0["type"]?.string ?? "" } == [
            "group.created", "group.member_added", "group.member_added", "group.updated", "group.member_removed",
            "user.deleted", "group.member_removed", "group.deleted",
        ])
        func members(_ i: Int) -> [String] { (events[i]["data"]?["members"]?.array ?? []).compactMap { $0["value"]?.string } }
        #expect(members(1) == [u1])
        #expect(members(2) == [u2])
        #expect(members(4) == [u1])
        // Deleting a member removes it from its groups, in the same transaction.
        #expect(members(6) == [u2])
        #expect(events[6]["data"]?["group"]?["displayName"]?.string == "Eng")
        #expect(events[1]["data"]?["members"]?[0]?["type"]?.string == "User")
        #expect(events[3]["data"]?["group"]?["displayName"]?.string == "Eng")
        #expect(events[7]["data"]?["group"] == ["id": .string(g), "displayName": "Eng"])
        #expect(events[5]["data"]?["user"] == ["id": .string(u2), "userName": "u2"])
    }

    @Test func largeMembershipChangesAreChunkedAndGroupDeletionIsOneEvent() throws {
        let region = try Region()
        let t = region.tenant()
        // 1001 users through SQL-free SCIM would take a while; Bulk makes it one request per 1000.
        var ids: [String] = []
        for chunk in stride(from: 0, to: 1001, by: 500) {
            let operations = (chunk..<min(chunk + 500, 1001)).map { i in
                #"{"method":"POST","path":"/Users","bulkId":"b\#(i)","data":{"schemas":["\#(Self.userSchema)"],"userName":"m\#(i)"}}"#
            }.joined(separator: ",")
            let response = t.send(.post, "/Bulk", #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[\#(operations)]}"#)
            #expect(response.status.code == 200)
            ids += (response.json["Operations"]?.array ?? []).compactMap { $0["location"]?.string?.split(separator: "/").last.map(String.init) }
        }
        #expect(ids.count == 1001)
        let g = t.group("All")
        let start = t.visible(1002).next
        let values = ids.map { #"{"value":"\#($0)"}"# }.joined(separator: ",")
        #expect(t.send(.patch, "/Groups/\(g)", patchOp(#"{"op":"add","path":"members","value":[\#(values)]}"#)).status.code == 200)
        var events = t.visible(3, after: start)
        #expect(events.events.map { $0["type"]?.string ?? "" } == Array(repeating: "group.member_added", count: 3))
        let added = events.events.flatMap { ($0["data"]?["members"]?.array ?? []).compactMap { $0["value"]?.string } }
        #expect(events.events.map { $0["data"]?["members"]?.array?.count ?? 0 } == [500, 500, 1])
        // In the order the members were added.
        #expect(added == ids)

        // Replacing everything with one member: 1000 removals in two events.
        let put = t.send(.put, "/Groups/\(g)", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"All","members":[{"value":"\#(ids[0])"}]}"#)
        #expect(put.status.code == 200)
        events = t.visible(2, after: events.next)
        #expect(events.events.map { $0["type"]?.string ?? "" } == ["group.member_removed", "group.member_removed"])
        #expect(Set(events.events.flatMap { ($0["data"]?["members"]?.array ?? []).compactMap { $0["value"]?.string } }) == Set(ids.dropFirst()))

        // Deleting a group with members: group.deleted alone (the cascade is not reported member by member).
        #expect(t.send(.patch, "/Groups/\(g)", patchOp(#"{"op":"add","path":"members","value":[\#(values)]}"#)).status.code == 200)
        // ids[0] is still a member: 1000 added, in two events.
        let beforeDelete = t.visible(2, after: events.next).next
        #expect(t.send(.delete, "/Groups/\(g)").status.code == 204)
        #expect(t.visible(1, after: beforeDelete).events.map { $0["type"]?.string ?? "" } == ["group.deleted"])
    }

    @Test func rolledBackChangesWriteNoEvent() throws {
        let region = try Region()
        let t = region.tenant()
        let u = t.user("kept")
        let g = t.group("Existing")
        let before = t.visible(2)
        // The group row is inserted, then a member that does not exist fails the request: all rolled back.
        let missing = "00000000-0000-4000-8000-000000000001"
        #expect(t.send(.post, "/Groups", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Doomed","members":[{"value":"\#(missing)"}]}"#).status.code == 400)
        // The document is updated, then the membership replace fails.
        #expect(t.send(.put, "/Groups/\(g)", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Renamed","members":[{"value":"\#(missing)"}]}"#).status.code == 400)
        // A uniqueness conflict, and a failed If-Match.
        #expect(t.send(.post, "/Users", #"{"schemas":["\#(Self.userSchema)"],"userName":"KEPT"}"#).status.code == 409)
        #expect(t.send(.patch, "/Users/\(u)", patchOp(#"{"op":"replace","path":"displayName","value":"x"}"#),
                       headers: [("If-Match", #"W/"99""#)]).status.code == 412)
        // A transaction that wrote a user and its event, then rolled back.
        let connection = try PostgresConnection(configuration: try RegionTestDatabase.get().appConfiguration)
        try connection.executeScript("BEGIN")
        try connection.query("SELECT set_config('app.tenant_id', $1, true)", [.text(t.id)])
        try connection.query(
            """
            INSERT INTO users (tenant_id, id, user_name, user_name_key, resource, created_at, last_modified)
            VALUES ($1, gen_random_uuid(), 'ghost', 'ghost', '{"userName":"ghost"}', now(), now())
            """, [.uuid(t.id)])
        #expect(try connection.query("SELECT count(*) FROM events WHERE tenant_id = $1 AND xid = pg_current_xact_id()", [.uuid(t.id)])
            .int(row: 0, column: 0) == 1)
        try connection.executeScript("ROLLBACK")

        let after = t.allEvents()
        #expect(after.events.count == before.events.count)
        #expect(t.eventPage(after: before.next).events.isEmpty)
        #expect(t.send(.get, "/Groups/\(g)").json["displayName"]?.string == "Existing")
    }

    @Test func pagesResumeAndNowStartsAtThePresent() throws {
        let region = try Region()
        let t = region.tenant()
        let ids = (0..<25).map { t.user("p\($0)") }
        _ = t.visible(25)
        let first = t.eventPage(limit: 10)
        #expect(first.events.count == 10 && first.hasMore)
        let second = t.eventPage(after: first.next, limit: 10)
        #expect(second.events.count == 10 && second.hasMore)
        let third = t.eventPage(after: second.next, limit: 10)
        #expect(third.events.count == 5 && !third.hasMore)
        let all = first.events + second.events + third.events
        #expect(all.compactMap { $0["data"]?["user"]?["id"]?.string } == ids)
        // Caught up: an empty page, and the cursor still works afterwards.
        let idle = t.eventPage(after: third.next)
        #expect(idle.events.isEmpty && !idle.hasMore)
        let late = t.user("late")
        #expect(t.visible(1, after: idle.next).events.compactMap { $0["data"]?["user"]?["id"]?.string } == [late])

        // `after=now`: nothing from before.
        let now = t.eventPage(after: "now")
        #expect(now.events.isEmpty)
        let newest = t.user("newest")
        #expect(t.visible(1, after: now.next).events.compactMap { $0["data"]?["user"]?["id"]?.string } == [newest])

        for bad in ["after=nonsense", "after=e" + String(repeating: "A", count: 21), "limit=0", "limit=1001", "limit=x"] {
            let response = t.internalCall(.get, "events?" + bad)
            #expect(response.status.code == 400, "\(bad)")
        }
        #expect(t.internalCall(.get, "events?after=nonsense").scimType == "invalidCursor")
    }

    @Test func cursorsRoundTrip() {
        for position in [EventPosition.start, EventPosition(xid: 812, seq: 40_017), EventPosition(xid: .max, seq: .max)] {
            #expect(EventPosition(cursor: position.cursor) == position)
            #expect(position.cursor.count == 23)
        }
        #expect(EventPosition(cursor: "") == nil)
        #expect(EventPosition(cursor: "x" + EventPosition.start.cursor.dropFirst()) == nil)
        #expect(EventPosition(xid: 812, seq: 40_017).eventID == "evt_812_40017")
        #expect(EventPosition(xid: 1, seq: 9) < EventPosition(xid: 2, seq: 1))
    }

    @Test func tenantsSeeOnlyTheirOwnEvents() throws {
        let region = try Region()
        let a = region.tenant(), b = region.tenant()
        let ua = a.user("a-user"), ub = b.user("b-user")
        #expect(a.visible(1).events.compactMap { $0["data"]?["user"]?["id"]?.string } == [ua])
        #expect(b.visible(1).events.compactMap { $0["data"]?["user"]?["id"]?.string } == [ub])
        // A cursor is only a position: used by another tenant it reveals nothing of the first.
        let bStart = b.eventPage(after: nil).next
        #expect(a.eventPage(after: bStart).events.allSatisfy { $0["tenantId"]?.string == a.id })
        // The signed tenant must be the tenant of the path.
        let crossed = region.send(.get, "/internal/v1/tenants/\(b.id)/events", tenant: a.id)
        #expect(crossed.status.code == 403)
    }

    /// The property the ordering rests on: a transaction that is still open holds back every event of transactions
    /// that committed after it started writing, so a reader can never move its cursor past an event that will
    /// commit later.
    @Test func anOpenTransactionHoldsBackLaterCommits() throws {
        let region = try Region()
        let t = region.tenant()
        let start = t.allEvents().next
        let slow = try PostgresConnection(configuration: try RegionTestDatabase.get().appConfiguration)
        try slow.executeScript("BEGIN")
        try slow.query("SELECT set_config('app.tenant_id', $1, true)", [.text(t.id)])
        let early = try slow.query(
            """
            INSERT INTO users (tenant_id, id, user_name, user_name_key, resource, created_at, last_modified)
            VALUES ($1, gen_random_uuid(), 'early', 'early', '{"userName":"early"}', now(), now()) RETURNING id::text
            """, [.uuid(t.id)]).string(row: 0, column: 0)
        let late = t.user("late")
        // The late user committed, but its event sorts after the open transaction's: not visible yet.
        let held = t.eventPage(after: start)
        #expect(held.events.isEmpty)
        try slow.executeScript("COMMIT")
        let released = t.visible(2, after: held.next)
        #expect(released.events.compactMap { $0["data"]?["user"]?["id"]?.string } == [early, late].compactMap { $0 })
    }

    @Test func concurrentWritersLoseNoEventAndReadersSeeThemInOneOrder() throws {
        let region = try Region(poolSize: 12)
        let t = region.tenant()
        let start = t.allEvents().next
        let writers = 8, perWriter = 60
        let created = Collected<String>()
        let done = Atomic<Int>(0)
        let seen = Collected<JSONValue>()
        // Readers page concurrently with the writers, each from its own cursor; every one must see the same stream.
        let readerCount = 2
        let streams = (0..<readerCount).map { _ in Collected<JSONValue>() }
        onThreads(writers + readerCount) { i in
            if i < writers {
                for n in 0..<perWriter {
                    let response = t.send(.post, "/Users", #"{"schemas":["\#(Self.userSchema)"],"userName":"w\#(i)-\#(n)"}"#)
                    if let id = response.json["id"]?.string { created.append(id) }
                }
                done.add(1, ordering: .releasing)
            } else {
                // Until every event arrived (a reader cannot know when stragglers held back by an open
                // transaction become visible; it just keeps reading), with a generous limit.
                var cursor = start
                var received = 0
                let deadline = monotonicMillis() + 60_000
                while received < writers * perWriter && monotonicMillis() < deadline {
                    let page = t.eventPage(after: cursor, limit: 37)
                    for e in page.events { streams[i - writers].append(e) }
                    received += page.events.count
                    cursor = page.next
                    if page.events.isEmpty { sleepMillis(done.load(ordering: .acquiring) == writers ? 20 : 1) }
                }
            }
        }
        for e in t.visible(writers * perWriter, after: start).events { seen.append(e) }
        let expected = Set(created.all)
        #expect(expected.count == writers * perWriter)
        let reference = seen.all.compactMap { $0["id"]?.string }
        #expect(Set(seen.all.compactMap { $0["data"]?["user"]?["id"]?.string }) == expected)
        #expect(reference.count == writers * perWriter)
        for stream in streams {
            // No loss, no duplicate, same order as a reader that came afterwards.
            #expect(stream.all.compactMap { $0["id"]?.string } == reference)
        }
        #expect(reference.map(Self.position) == reference.map(Self.position).sorted())
    }

    @Test func readAPIPagesUsersGroupsAndMembers() throws {
        let region = try Region()
        let t = region.tenant(policy: .soft)
        let users = (0..<5).map { t.user("r\($0)") }.sorted()
        let g = t.group("Readers", #","members":[\#(users.map { #"{"value":"\#($0)"}"# }.joined(separator: ","))]"#)
        #expect(t.send(.delete, "/Users/\(users[4])").status.code == 204)

        var page = t.internalCall(.get, "users?limit=2").json
        #expect((page["users"]?.array ?? []).compactMap { $0["id"]?.string } == Array(users[0..<2]))
        #expect(page["users"]?[0]?["groups"]?[0]?["value"]?.string == g)
        #expect(page["users"]?[0]?["meta"]?["location"]?.string == region.baseURL + "/Users/" + users[0])
        page = t.internalCall(.get, "users?limit=2&after=\(page["next"]?.string ?? "")").json
        #expect((page["users"]?.array ?? []).compactMap { $0["id"]?.string } == Array(users[2..<4]))
        page = t.internalCall(.get, "users?limit=2&after=\(page["next"]?.string ?? "")").json
        // The soft-deleted user is not listed; an empty last page ends with next = null.
        #expect(page["users"]?.array?.isEmpty == true)
        #expect(page["next"] == .null)

        let groups = t.internalCall(.get, "groups").json
        #expect((groups["groups"]?.array ?? []).compactMap { $0["displayName"]?.string } == ["Readers"])
        #expect(groups["groups"]?[0]?["members"] == nil)
        #expect(groups["next"] == .null)

        var members: [String] = []
        var after = ""
        repeat {
            let m = t.internalCall(.get, "groups/\(g)/members?limit=3" + (after.isEmpty ? "" : "&after=\(after)")).json
            #expect(m["group"]?["displayName"]?.string == "Readers")
            members += (m["members"]?.array ?? []).compactMap { $0["value"]?.string }
            after = m["next"]?.string ?? ""
        } while !after.isEmpty
        #expect(members == Array(users[0..<4]))
        #expect(t.internalCall(.get, "groups/\(users[0])/members").status.code == 404)
        #expect(t.internalCall(.get, "users?after=zzz").status.code == 400)
    }

    @Test func retentionPurgesOnlyExpiredEvents() throws {
        let region = try Region()
        let t = region.tenant()
        let old = t.user("old"), fresh = t.user("fresh")
        let admin = try PostgresConnection(configuration: try RegionTestDatabase.get().adminConfiguration)
        try admin.query("UPDATE events SET occurred_at = now() - interval '20 days' WHERE tenant_id = $1 AND resource_id = $2::uuid",
                        [.uuid(t.id), .text(old)])
        let retention = EventRetention(pool: region.pool, retentionSeconds: 14 * 86_400, interval: .seconds(3600),
                                       logger: Logger(label: "test", level: .error), batchSize: 1)
        #expect(try retention.purge() >= 1)
        #expect(t.visible(1).events.compactMap { $0["data"]?["user"]?["id"]?.string } == [fresh])
    }
}
