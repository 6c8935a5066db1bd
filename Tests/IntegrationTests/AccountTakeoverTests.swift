import HTTPCore
import JSON
import TestSupport
import Testing

/// Issue 15, through real processes (gateway, both regions, PostgreSQL): a POST always makes a new user with a new
/// id or fails; it never takes over a live (deactivated) account and never revives a deleted one; externalId is the
/// client's and not unique; and the events feed tells the truth about each case.
@Suite(.serialized) struct AccountTakeoverTests {
    static let group = "urn:ietf:params:scim:schemas:core:2.0:Group"

    static func user(_ userName: String, externalId: String, title: String? = nil, active: Bool = true) -> JSONValue {
        guard case .object(var body) = userBody(userName, externalId: externalId, active: active) else { return .null }
        if let title { body.appendUnchecked(key: "title", value: .string(title)) }
        return .object(body)
    }

    static func patch(_ operation: String) -> JSONValue {
        try! JSONDecoder.decode(#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[\#(operation)]}"#)
    }

    /// The events of a tenant, read through the admin API (every event, oldest first, waiting until `count` arrive).
    static func events(_ d: Deployment, _ tenant: String, count: Int) throws -> [JSONValue] {
        let deadline = monotonicMillis() + 15_000
        while true {
            let (status, json) = try d.admin(.get, "/admin/v1/tenants/\(tenant)/events?limit=1000")
            #expect(status == 200)
            let events = json?["events"]?.array ?? []
            if events.count >= count || monotonicMillis() > deadline { return events }
            sleepMillis(50)
        }
    }

    @Test func aNewHireNeverInheritsAFormerEmployeesAccountOrGroups() throws {
        let d = try Deployment("takeover")
        defer { d.stop() }
        let t = try d.createTenant("takeover", region: "us", policy: "soft")
        func scim(_ method: HTTPMethod, _ path: String, _ body: JSONValue? = nil) throws -> HTTPResponse {
            try d.scim(method, "/scim/v2" + path, token: t.token, body: body)
        }
        // The former employee: titled, in "Admins", then deactivated by the IdP.
        let old = try scim(.post, "/Users", Self.user("omalley@example.com", externalId: "00u-omalley", title: "Site engineer"))
        #expect(old.status.code == 201)
        let oldID = try #require(json(old)?["id"]?.string)
        let admins = try scim(.post, "/Groups", ["schemas": [.string(Self.group)], "displayName": "Admins",
                                                 "members": [["value": .string(oldID)]]])
        let adminsID = try #require(json(admins)?["id"]?.string)
        #expect(try scim(.patch, "/Users/\(oldID)", Self.patch(#"{"op":"replace","value":{"active":false}}"#)).status.code == 200)

        // Same externalId, different userName: a new person, new id, no groups; the old account untouched.
        let hire = try scim(.post, "/Users", Self.user("newhire@example.com", externalId: "00u-omalley"))
        #expect(hire.status.code == 201)
        let hireID = try #require(json(hire)?["id"]?.string)
        #expect(hireID != oldID)
        #expect(json(hire)?["groups"] == nil)
        let oldNow = json(try scim(.get, "/Users/\(oldID)"))
        #expect(oldNow?["userName"]?.string == "omalley@example.com")
        #expect(oldNow?["title"]?.string == "Site engineer")
        #expect(oldNow?["groups"]?[0]?["value"]?.string == adminsID)
        let members = json(try scim(.get, "/Groups/\(adminsID)"))?["members"]?.array?.compactMap { $0["value"]?.string }
        #expect(members == [oldID])
        let byName = json(try scim(.get, "/Users?filter=userName%20eq%20%22omalley@example.com%22"))
        #expect(byName?["Resources"]?[0]?["id"]?.string == oldID)
        // Both users carry the externalId; the filter returns both (RFC 7643 §3.1: not unique).
        let byExternal = json(try scim(.get, "/Users?filter=externalId%20eq%20%2200u-omalley%22"))
        #expect(Set(byExternal?["Resources"]?.array?.compactMap { $0["id"]?.string } ?? []) == [oldID, hireID])

        // Same userName as the deactivated user: 409 uniqueness, nothing wiped.
        let again = try scim(.post, "/Users", Self.user("OMalley@example.com", externalId: "other"))
        #expect(again.status.code == 409)
        #expect(json(again)?["scimType"]?.string == "uniqueness")
        #expect(json(try scim(.get, "/Users/\(oldID)"))?["title"]?.string == "Site engineer")

        // Deleted (soft policy: a tombstone): memberships go with it; the id stays 404 for every operation, even once
        // a new user with the same userName and externalId exists, which gets a new id and no groups.
        #expect(try scim(.delete, "/Users/\(oldID)").status.code == 204)
        let reborn = try scim(.post, "/Users", Self.user("omalley@example.com", externalId: "00u-omalley"))
        #expect(reborn.status.code == 201)
        let rebornID = try #require(json(reborn)?["id"]?.string)
        #expect(rebornID != oldID && rebornID != hireID)
        #expect(json(reborn)?["meta"]?["version"]?.string == #"W/"1""#)
        #expect(json(reborn)?["groups"] == nil)
        #expect(try scim(.get, "/Users/\(oldID)").status.code == 404)
        #expect(try scim(.put, "/Users/\(oldID)", Self.user("omalley@example.com", externalId: "x")).status.code == 404)
        #expect(try scim(.patch, "/Users/\(oldID)", Self.patch(#"{"op":"replace","path":"active","value":true}"#)).status.code == 404)
        #expect(try scim(.delete, "/Users/\(oldID)").status.code == 404)
        #expect(json(try scim(.get, "/Groups/\(adminsID)"))?["members"] == nil)

        // The events feed: the deletion stands, each creation names its own new id.
        let events = try Self.events(d, t.id, count: 8)
        let summary = events.map { ($0["type"]?.string ?? "", $0["data"]?["user"]?["id"]?.string ?? $0["data"]?["group"]?["id"]?.string ?? "") }
        #expect(summary.map(\.0) == ["user.created", "group.created", "group.member_added", "user.deactivated", "user.created",
                                     "user.deleted", "group.member_removed", "user.created"])
        #expect(summary.filter { $0.0 == "user.created" }.map(\.1) == [oldID, hireID, rebornID])
        #expect(summary.first { $0.0 == "user.deleted" }?.1 == oldID)
    }

    @Test func hardDeletedIdsAreNeverHandedOutAgain() throws {
        let d = try Deployment("takeover-hard")
        defer { d.stop() }
        let t = try d.createTenant("takeover-hard", region: "eu2", policy: "hard")
        let first = try d.scim(.post, "/scim/v2/Users", token: t.token, body: Self.user("gone@example.com", externalId: "e-1"))
        let firstID = try #require(json(first)?["id"]?.string)
        #expect(try d.scim(.delete, "/scim/v2/Users/\(firstID)", token: t.token).status.code == 204)
        for (name, external) in [("gone@example.com", "e-2"), ("other@example.com", "e-1")] {
            let created = try d.scim(.post, "/scim/v2/Users", token: t.token, body: Self.user(name, externalId: external))
            #expect(created.status.code == 201)
            #expect(json(created)?["id"]?.string != firstID)
        }
        #expect(try d.scim(.get, "/scim/v2/Users/\(firstID)", token: t.token).status.code == 404)
    }
}
