import HTTPCore
import JSON
import Postgres
@testable import RegionApp
@testable import RegionSCIM
import Testing

/// A write's prelude (tenant row, settings version, move fence) rides with its first statement while the tenant's
/// settings are cached. These tests change the database behind the cache's back (no NOTIFY) and check that every
/// answer is still the one the database's state calls for.
@Suite struct WritePreludeTests {
    let region: Region
    init() throws { region = try Region() }

    func sql(_ t: Tenant, _ text: String) throws {
        try region.pool.withTransaction(setup: [.prepared(RegionDatabase.setTenant, [.text(t.id)])]) { c in
            _ = try c.query(text, [.uuid(t.id)])
        }
    }

    @Test func aFenceSetBehindTheCacheStopsWritesAndEarlyErrorsToo() throws {
        let t = region.tenant()
        let u = t.user("cached@example.com")  // the tenant's settings are cached from here on
        try sql(t, "INSERT INTO tenant_moves (tenant_id, move_id, epoch, state, peer_region) VALUES ($1, gen_random_uuid(), 1, 'frozen', 'us')")
        let created = t.send(.post, "/Users", #"{"userName":"during-freeze@example.com"}"#)
        #expect(created.status.code == 503, "\(created.bodyText)")
        let patched = t.send(.patch, "/Users/\(u)", patchOp(#"{"op":"replace","path":"displayName","value":"Frozen"}"#))
        #expect(patched.status.code == 503)
        // A body the cached schema would refuse (400) is still answered from the database's state: paused.
        #expect(t.send(.post, "/Users", #"{"displayName":"no userName"}"#).status.code == 503)
        try sql(t, "DELETE FROM tenant_moves WHERE tenant_id = $1")
        #expect(t.send(.post, "/Users", #"{"userName":"after-freeze@example.com"}"#).status.code == 201)
        #expect(t.send(.get, "/Users/\(u)").json["displayName"] == nil, "the PATCH during the freeze left nothing")
        #expect(t.send(.get, "/Users?filter=userName+eq+%22during-freeze@example.com%22").json["totalResults"] == 0)
    }

    /// With the tenant's settings cached, a user write's prelude rides with its first statement and its COMMIT with
    /// its last: a POST is one round trip, a PATCH and a PUT two (lock, then write + re-read + COMMIT), a DELETE two
    /// (its 404 must be able to roll back: see `aUserDeleteNamingAGroupChangesNothing`).
    /// Counted by the pool (this test's region has the pool to itself).
    @Test func userWritesTakeOneRoundTripPlusTheLock() throws {
        let t = region.tenant()
        let u = t.user("trips@example.com")  // caches the settings
        func trips(_ request: () -> HTTPResponse) -> (Int, Int) {
            let before = region.pool.statistics.roundTrips
            let status = request().status.code
            return (status, region.pool.statistics.roundTrips - before)
        }
        let created = trips { t.send(.post, "/Users", #"{"userName":"one-trip@example.com"}"#) }
        #expect(created == (201, 1))
        let patched = trips { t.send(.patch, "/Users/\(u)", patchOp(#"{"op":"replace","path":"displayName","value":"Two"}"#)) }
        #expect(patched == (200, 2))
        let replaced = trips { t.send(.put, "/Users/\(u)", #"{"userName":"trips@example.com","displayName":"Put"}"#) }
        #expect(replaced == (200, 2))
        let deleted = trips { t.send(.delete, "/Users/\(u)") }
        #expect(deleted == (204, 2))
        // A failed write still ends cleanly: a duplicate userName is refused (409) by the statement COMMIT rode with,
        // which therefore never ran, and the connection goes back rolled back.
        let duplicate = trips { t.send(.post, "/Users", #"{"userName":"one-trip@example.com"}"#) }
        #expect(duplicate.0 == 409)
        #expect(t.send(.get, "/Users?filter=userName+eq+%22one-trip@example.com%22").json["totalResults"] == 1)
        #expect(t.send(.get, "/Users/\(u)").status.code == 404)
        // A group's write re-reads the group and its members in one pipeline (they were two round trips).
        let member = t.user("member-trips@example.com")
        _ = t.group("Warm", #","members":[{"value":"\#(member)"}]"#)  // statements prepared on the pool's connection
        let group = trips { t.send(.post, "/Groups", #"{"displayName":"Trips","members":[{"value":"\#(member)"}]}"#) }
        #expect(group.0 == 201 && group.1 == 4, "5 when the re-read sent its two statements one by one")
    }

    /// DELETE /Users/{id} with a group's id answers 404 and changes nothing: the group's own memberships in other
    /// groups (removed by the same transaction's `dropMemberships`) are rolled back with it.
    @Test func aUserDeleteNamingAGroupChangesNothing() throws {
        let t = region.tenant()
        _ = t.user("warm@example.com")  // settings cached: the speculative path
        let child = t.group("Child")
        let parent = t.group("Parent", #","members":[{"value":"\#(child)","type":"Group"}]"#)
        let before = t.send(.get, "/Groups/\(parent)")
        #expect(t.send(.delete, "/Users/\(child)").status.code == 404)
        let after = t.send(.get, "/Groups/\(parent)")
        #expect(after.json["members"]?.array?.compactMap { $0["value"]?.string } == [child])
        #expect(after.json["meta"]?["version"] == before.json["meta"]?["version"])
    }

    /// The guard of migration 11 names the same paused states as `TenantFence` (its text cannot change after it
    /// shipped, so a new state there needs a new migration).
    @Test func theWriteGuardFencesTheStatesTheFenceNames() {
        #expect(RegionSchema.v11.sql.contains("state IN \(TenantFence.pausedStatesSQL)"))
    }

    @Test func settingsChangedBehindTheCacheAreUsedAtOnce() throws {
        let t = region.tenant()
        _ = t.user("first@example.com")
        // Another replica made externalId unique (settings version bumped; this process was not told).
        try sql(t, "UPDATE tenants SET unique_external_id = true, settings_version = settings_version + 1 WHERE id = $1")
        #expect(t.send(.post, "/Users", #"{"userName":"a@example.com","externalId":"E1"}"#).status.code == 201)
        let second = t.send(.post, "/Users", #"{"userName":"b@example.com","externalId":"E1"}"#)
        #expect(second.status.code == 409, "the new setting applied to the first write after it: \(second.bodyText)")
    }
}
