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
import TestSupport
import Testing

extension Tenant {
    /// Takes a snapshot (expects 201) and reads every page of it, `limit` records at a time.
    func snapshot(limit: Int = 7, sourceLocation: SourceLocation = #_sourceLocation) throws
        -> (replica: DirectoryReplica, cursor: String, token: String, pages: Int)
    {
        let created = internalCall(.post, "snapshots")
        try #require(created.status.code == 201, "\(created.bodyText)", sourceLocation: sourceLocation)
        let token = try #require(created.json["snapshot"]?.string)
        let cursor = try #require(created.json["eventCursor"]?.string)
        var replica = DirectoryReplica()
        var after: String? = nil
        var pages = 0
        repeat {
            let page = internalCall(.get, "snapshots/\(token)?limit=\(limit)" + (after.map { "&after=\($0)" } ?? ""))
            try #require(page.status.code == 200, "\(page.bodyText)", sourceLocation: sourceLocation)
            replica.load(page: page.json)
            pages += 1
            after = page.json["next"]?.string
        } while after != nil
        return (replica, cursor, token, pages)
    }

    /// Applies every settled event after `cursor`.
    func replay(_ replica: inout DirectoryReplica, after cursor: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for event in settledEvents(after: cursor).events {
            let known = replica.apply(event: event)
            #expect(known, "unknown event \(event)", sourceLocation: sourceLocation)
        }
    }
}

/// Reconciliation snapshots (issue 18): one consistent instant read page by page, and an events cursor after which
/// the feed holds exactly what the snapshot did not see.
@Suite struct SnapshotTests {
    static let rules = #"{"roles":[{"key":"admin"},{"key":"member"}],"rules":[{"group":{"displayName":"Admins"},"role":"admin"}],"defaultRole":"member"}"#

    /// The write in flight when the snapshot is taken (its transaction id is below the snapshot's horizon) shows up in
    /// the feed and not in the snapshot; the write that committed just before (with a higher transaction id, above
    /// the horizon) shows up in the snapshot and not in the feed.
    @Test func theFeedAfterTheCursorHoldsExactlyWhatTheSnapshotDidNotSee() throws {
        let region = try Region()
        let t = region.tenant()
        t.setRoles(Self.rules)
        let u1 = t.user("one@example.com")
        let admins = t.group("Admins", #","members":[{"value":"\#(u1)"}]"#)

        // A transaction in flight: a group inserted, not committed.
        let inFlight = try PostgresConnection(configuration: try RegionTestDatabase.get().appConfiguration)
        _ = try inFlight.pipeline([.sql("BEGIN"), .prepared(RegionDatabase.setTenant, [.text(t.id)])])
        let pending = "0190eeee-0000-7000-8000-\(String(t.id.suffix(12)))"
        try inFlight.query(
            """
            INSERT INTO groups (tenant_id, id, display_name, display_name_key, resource, created_at, last_modified)
            VALUES ($1, $2::uuid, 'Pending', 'pending', '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Pending"}',
                    date_trunc('milliseconds', now()), date_trunc('milliseconds', now()))
            """, [.uuid(t.id), .text(pending)])
        // A write that starts after it and commits before the snapshot.
        let u2 = t.user("two@example.com")

        let taken = try t.snapshot()
        #expect(taken.replica.users.keys.sorted() == [u1, u2].sorted())
        #expect(taken.replica.groups[pending] == nil && taken.replica.groups[admins] != nil)
        #expect(taken.replica.roles[u1]?.roles == ["admin"] && taken.replica.roles[u2]?.roles == ["member"])
        #expect(taken.replica.memberships == ["\(admins) \(u1) User"])

        try inFlight.executeScript("COMMIT")
        let u3 = t.user("three@example.com")
        t.removeMembers(admins, [u1])

        let events = t.settledEvents(after: taken.cursor).events
        let types = events.compactMap { $0["type"]?.string }
        // Nothing the snapshot already holds (u2's creation), everything it does not.
        #expect(types == ["group.created", "user.created", "user.roles_changed", "group.member_removed", "user.roles_changed"], "\(types)")
        #expect(events.first?["data"]?["group"]?["id"]?.string == pending)
        #expect(!events.contains { $0["data"]?["user"]?["id"]?.string == u2 })

        var replica = taken.replica
        t.replay(&replica, after: taken.cursor)
        let now = try t.snapshot()
        #expect(replica.differences(from: now.replica) == [])
        #expect(now.replica.users[u3] != nil && now.replica.roles[u1]?.roles == ["member"])
        // The cursor turns into a plain position once it has passed the snapshot.
        let page = t.internalCall(.get, "events?after=\(taken.cursor)&limit=1000").json
        #expect(page["next"]?.string?.hasPrefix("e") == true)
    }

    @Test func aSnapshotTakenWhileWritesContinuePlusTheEventsAfterItEqualsTheState() throws {
        let region = try Region(poolSize: 12)
        let t = region.tenant(policy: .hard)
        t.setRoles(Self.rules)
        #expect(t.internalCall(.put, "attribute-mapping", #"{"fields":[{"name":"title","sources":["title"]}]}"#).status.code == 200)
        t.recompute()
        let users = (0..<20).map { t.user("w\($0)@example.com", #","title":"T\#($0)""#) }
        let groups = ["Admins", "Staff", "Ops"].map { t.group($0) }
        let stop = Atomic<Bool>(false)
        let writes = Atomic<Int>(0)
        // Four writers: member adds and removes, title changes, new users, renames, deletions.
        final class Box: Sendable { let replica = Mutex<(DirectoryReplica, String)?>(nil) }
        let box = Box()
        onThreads(5) { i in
            if i == 4 {
                sleepMillis(150)
                do {
                    let s = try t.snapshot(limit: 5)
                    box.replica.withLock { $0 = (s.replica, s.cursor) }
                } catch {
                    Issue.record("snapshot failed: \(error)")
                }
                stop.store(true, ordering: .releasing)
                return
            }
            var n = 0
            while !stop.load(ordering: .acquiring) && n < 400 {
                n += 1
                let user = users[(i * 7 + n) % users.count], group = groups[(i + n) % groups.count]
                switch (i + n) % 6 {
                case 0: t.addMembers(group, [user])
                case 1: t.removeMembers(group, [user])
                case 2: t.send(.patch, "/Users/\(user)", patchOp(#"{"op":"replace","path":"title","value":"T\#(n)"}"#))
                case 3: t.user("new-\(i)-\(n)@example.com")
                case 4: t.send(.patch, "/Groups/\(group)", patchOp(#"{"op":"replace","path":"displayName","value":"\#(n % 2 == 0 ? "Admins" : "Admins-\(i)")"}"#))
                default:
                    let extra = t.user("gone-\(i)-\(n)@example.com")
                    t.addMembers(groups[0], [extra])
                    t.send(.delete, "/Users/\(extra)")
                }
                writes.add(1, ordering: .relaxed)
            }
        }
        let (snapshot, cursor) = try #require(box.replica.withLock { $0 })
        #expect(writes.load(ordering: .relaxed) > 20)
        t.recompute()
        var replica = snapshot
        t.replay(&replica, after: cursor)
        let now = try t.snapshot(limit: 50)
        let differences = replica.differences(from: now.replica)
        #expect(differences.isEmpty, "\(differences.prefix(10))")
        #expect(now.replica.users.count > 20)
    }

    @Test func eventsCarryAnIncreasingSequenceAndAnIdempotencyKey() throws {
        let region = try Region()
        let t = region.tenant()
        let u = t.user("seq@example.com")
        let g = t.group("Seq", #","members":[{"value":"\#(u)"}]"#)
        onThreads(4) { i in t.send(.patch, "/Users/\(u)", patchOp(#"{"op":"replace","path":"title","value":"T\#(i)"}"#)) }
        t.send(.delete, "/Groups/\(g)")
        let events = t.settledEvents(after: nil).events
        #expect(events.count == 8)
        let sequences = events.compactMap { $0["sequence"]?.string }
        #expect(sequences.count == events.count && sequences == sequences.sorted() && Set(sequences).count == sequences.count)
        let keys = events.compactMap { $0["idempotencyKey"]?.string }
        #expect(keys == events.compactMap { e in e["id"]?.string.map { t.id + "/" + $0 } })
        // Reading again (a redelivery, a consumer that lost its place) gives the same keys and sequences.
        let again = t.settledEvents(after: nil).events
        #expect(again.compactMap { $0["idempotencyKey"]?.string } == keys && again.compactMap { $0["sequence"]?.string } == sequences)
    }

    @Test func tokensCursorsAndLimits() throws {
        let region = try Region()
        let t = region.tenant(), other = region.tenant()
        t.user("a@example.com")
        let first = try t.snapshot(limit: 1)
        #expect(first.pages == 2)  // one user, then the end
        // Another tenant's token, an edited one, a bad page cursor, a bad limit.
        #expect(other.internalCall(.get, "snapshots/\(first.token)").status.code == 404)
        // The tag's first character changed: all of its 6 bits count (the last two characters of a 16-byte tag carry
        // unused bits, so editing them could decode to the same tag).
        var characters = Array(first.token)
        let tagStart = characters.index(after: try #require(characters.lastIndex(of: ".")))
        characters[tagStart] = characters[tagStart] == "A" ? "B" : "A"
        let edited = String(characters)
        #expect(t.internalCall(.get, "snapshots/\(edited)").status.code == 404)
        #expect(t.internalCall(.get, "snapshots/\(first.token)?after=zzz").status.code == 400)
        #expect(t.internalCall(.get, "snapshots/\(first.token)?limit=0").status.code == 400)
        // Two per tenant: the third is refused until one is released; a released snapshot is gone.
        let second = t.internalCall(.post, "snapshots")
        #expect(second.status.code == 201)
        let third = t.internalCall(.post, "snapshots")
        #expect(third.status.code == 429, "\(third.bodyText)")
        #expect(t.internalCall(.delete, "snapshots/\(first.token)").status.code == 204)
        #expect(t.internalCall(.get, "snapshots/\(first.token)").status.code == 410)
        #expect(t.internalCall(.delete, "snapshots/\(first.token)").status.code == 404)
        #expect(t.internalCall(.post, "snapshots").status.code == 201)
        // An events cursor that is neither form.
        #expect(t.internalCall(.get, "events?after=s%21%21").status.code == 400)
    }
}
