import JSON
import Postgres
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import SCIMCore
import TestSupport
import Testing

/// Per-tenant attribute mapping (issue 18): IdP attributes (core, enterprise extension, the tenant's own schema
/// extensions) to the app's profile fields, checked when saved, previewed on sample users, stored with every user
/// write and recomputed after a change, in the read API and the events.
@Suite struct AttributeMappingTests {
    static let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    /// A custom extension like the one Profit.co's Okta app sends (department, manager as a string, a number).
    static let custom = "urn:ietf:params:scim:schemas:extension:profitco:2.0:User"
    static let extensions = #","schemaExtensions":[{"resourceType":"User","schema":{"id":"\#(custom)","name":"ProfitCo","attributes":[{"name":"department","type":"string"},{"name":"managerEmail","type":"string"},{"name":"level","type":"integer"},{"name":"contractor","type":"boolean"}]}}]"#

    static let mapping = """
        {"fields": [
          {"name": "department", "type": "string", "sources": ["\(custom):department", "\(enterprise):department"]},
          {"name": "jobTitle", "type": "string", "sources": ["title"]},
          {"name": "language", "type": "string", "sources": ["preferredLanguage", "locale"]},
          {"name": "managerId", "type": "string", "sources": ["\(enterprise):manager"]},
          {"name": "workEmail", "type": "string", "sources": ["emails[type eq \\"work\\"].value", "emails.value"]},
          {"name": "level", "type": "integer", "sources": ["\(custom):level"]},
          {"name": "contractor", "type": "boolean", "sources": ["\(custom):contractor"]},
          {"name": "phones", "type": "string", "multiValued": true, "sources": ["phoneNumbers.value"]}]}
        """

    /// A stored profile's members (the database keeps JSON objects without their key order).
    static func members(_ value: JSONValue?) -> [String: JSONValue] {
        Dictionary(uniqueKeysWithValues: (value?.object ?? JSONObject()).map { ($0.key, $0.value) })
    }

    static func user(_ name: String, _ extra: String) -> String {
        #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","\#(enterprise)","\#(custom)"],"userName":"\#(name)"\#(extra)}"#
    }

    @Test func mappedProfilesAreStoredWithEveryWriteAndShownInTheReadAPIAndEvents() throws {
        let region = try Region()
        let t = region.tenant(extra: Self.extensions)
        let saved = t.internalCall(.put, "attribute-mapping", Self.mapping)
        #expect(saved.status.code == 200, "\(saved.bodyText)")
        t.recompute()
        let cursor = t.eventCursor()
        let id = t.create("/Users", Self.user("ada@example.com", #","title":"Engineer","locale":"en-GB","emails":[{"value":"home@example.com","type":"home"},{"value":"ada@work.example","type":"work"}],"phoneNumbers":[{"value":"+1 555 0100"},{"value":"+1 555 0101","primary":true}],"\#(Self.enterprise)":{"department":"R&D","manager":{"value":"0190a000-0000-7000-8000-0000000000aa"}},"\#(Self.custom)":{"level":7,"contractor":false}"#))
        let profile = t.internalCall(.get, "users/\(id)").json["profile"]
        #expect(profile?["department"] == "R&D")  // the custom extension has none: the enterprise one's
        #expect(profile?["jobTitle"] == "Engineer")
        #expect(profile?["language"] == "en-GB")  // no preferredLanguage: locale
        #expect(profile?["managerId"] == "0190a000-0000-7000-8000-0000000000aa")
        #expect(profile?["workEmail"] == "ada@work.example")
        #expect(profile?["level"] == 7)
        #expect(profile?["contractor"] == false)
        #expect(profile?["phones"] == ["+1 555 0101", "+1 555 0100"])  // primary first
        // The raw attributes stay in the SCIM representation, mapped or not.
        let user = t.internalCall(.get, "users/\(id)").json
        #expect(user["title"] == "Engineer" && user[Self.custom]?["level"] == 7)

        // A PATCH changes the profile with the document; the user.updated event carries it.
        t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"replace","path":"\#(Self.custom):department","value":"Platform"}"#))
        #expect(t.internalCall(.get, "users/\(id)").json["profile"]?["department"] == "Platform")
        let events = t.settledEvents(after: cursor).events
        #expect(events.compactMap { $0["type"]?.string } == ["user.created", "user.updated"])
        #expect(events[0]["data"]?["profile"]?["department"] == "R&D")
        #expect(events[1]["data"]?["profile"]?["department"] == "Platform")
        #expect(events[1]["data"]?["user"]?[Self.custom]?["department"] == "Platform")
    }

    @Test func aMappingChangeRecomputesProfilesWithOneEventPerChangedUser() throws {
        let region = try Region()
        let t = region.tenant(extra: Self.extensions)
        let withTitle = (0..<5).map { t.create("/Users", Self.user("t\($0)@example.com", #","title":"Role \#($0)""#)) }
        let without = (0..<4).map { t.create("/Users", Self.user("n\($0)@example.com", "")) }
        var cursor = t.eventCursor()
        #expect(t.internalCall(.put, "attribute-mapping", #"{"fields":[{"name":"jobTitle","type":"string","sources":["title"]}]}"#).status.code == 200)
        t.recompute()
        var changed = t.settledEvents(after: cursor).events.filter { $0["type"]?.string == "user.profile_changed" }
        // Every user gets a profile (from none): nine events, each once.
        #expect(changed.count == 9 && Set(changed.compactMap { $0["data"]?["user"]?["id"]?.string }).count == 9)
        #expect(changed.allSatisfy { $0["data"]?["before"] == .null })
        cursor = t.eventCursor()
        // Only the users whose value differs under the new mapping change: those with a title.
        #expect(t.internalCall(.put, "attribute-mapping",
                               #"{"fields":[{"name":"jobTitle","type":"string","sources":["userType","title"]},{"name":"x","type":"string","sources":["nickName"]}]}"#).status.code == 200)
        t.recompute()
        changed = t.settledEvents(after: cursor).events.filter { $0["type"]?.string == "user.profile_changed" }
        #expect(changed.count == 9)  // every profile gained the field "x" (null)
        cursor = t.eventCursor()
        #expect(t.internalCall(.put, "attribute-mapping",
                               #"{"fields":[{"name":"jobTitle","type":"string","sources":["nickName","title"]},{"name":"x","type":"string","sources":["nickName"]}]}"#).status.code == 200)
        t.recompute()
        changed = t.settledEvents(after: cursor).events.filter { $0["type"]?.string == "user.profile_changed" }
        #expect(changed.isEmpty)  // same values for everyone: no event
        #expect(Self.members(t.internalCall(.get, "users/\(withTitle[0])").json["profile"]) == ["jobTitle": "Role 0", "x": .null])
        #expect(Self.members(t.internalCall(.get, "users/\(without[0])").json["profile"]) == ["jobTitle": .null, "x": .null])
        // Removing the mapping clears every profile, once each.
        cursor = t.eventCursor()
        #expect(t.internalCall(.delete, "attribute-mapping").status.code == 200)
        t.recompute()
        changed = t.settledEvents(after: cursor).events.filter { $0["type"]?.string == "user.profile_changed" }
        #expect(changed.count == 9 && changed.allSatisfy { $0["data"]?["after"] == .null })
        #expect(t.internalCall(.get, "users/\(withTitle[1])").json["profile"] == .null)
    }

    @Test func badMappingsAreRefusedAndChangeNothing() throws {
        let region = try Region()
        let t = region.tenant(extra: Self.extensions)
        #expect(t.internalCall(.put, "attribute-mapping", #"{"fields":[{"name":"jobTitle","sources":["title"]}]}"#).status.code == 200)
        let before = t.internalCall(.get, "attribute-mapping").json
        let refused: [(String, String)] = [
            (#"{"fields":[{"name":"a","type":"integer","sources":["title"]}]}"#, "'title' is of type string, which does not fit the field's type integer"),
            (#"{"fields":[{"name":"a","type":"boolean","sources":["\#(Self.custom):level"]}]}"#, "is of type integer, which does not fit the field's type boolean"),
            (#"{"fields":[{"name":"a","sources":["favouriteColour"]}]}"#, "'fields[0].sources[0]': 'favouriteColour' is not an attribute"),
            (#"{"fields":[{"name":"a","sources":["urn:example:unknown:2.0:User:x"]}]}"#, "names a schema"),
            (#"{"fields":[{"name":"a","sources":["name"]}]}"#, "is complex"),
            (#"{"fields":[{"name":"a","sources":["\#(Self.custom)"]}]}"#, "whole extension object"),
            (#"{"fields":[{"name":"a","sources":["emails[type eq]"]}]}"#, "'fields[0].sources[0]'"),
            (#"{"fields":[{"name":"a","sources":[]}]}"#, "1 to 5 attribute paths"),
            (#"{"fields":[{"name":"1a","sources":["title"]}]}"#, "'fields[0].name'"),
            (#"{"fields":[{"name":"a","sources":["title"]},{"name":"A","sources":["title"]}]}"#, "'A' is mapped twice"),
            (#"{"fields":[{"name":"a","type":"date","sources":["title"]}]}"#, "'fields[0].type' must be one of"),
            (#"{"fields":[{"name":"a","sources":["title"],"default":"x"}]}"#, "'fields[0].default' is not a field"),
            (#"{"fields":{}}"#, "'fields' must be an array"),
        ]
        for (body, detail) in refused {
            let response = t.internalCall(.put, "attribute-mapping", body)
            #expect(response.status.code == 400, "\(body): \(response.bodyText)")
            #expect(response.detail?.contains(detail) == true, "\(body): \(response.detail ?? "")")
        }
        let huge = (0...AttributeMapping.maxFields).map { #"{"name":"f\#($0)","sources":["title"]}"# }.joined(separator: ",")
        #expect(t.internalCall(.put, "attribute-mapping", #"{"fields":[\#(huge)]}"#).status.code == 400)
        #expect(t.internalCall(.get, "attribute-mapping").json == before)
    }

    @Test func previewShowsProfilesProblemsAndUnmappedAttributesWithoutSaving() throws {
        let region = try Region()
        let t = region.tenant(extra: Self.extensions)
        let ada = t.create("/Users", Self.user("ada@example.com", #","title":"Engineer","nickName":"ada","\#(Self.enterprise)":{"department":"R&D","costCenter":"42"}"#))
        let bob = t.create("/Users", Self.user("bob@example.com", #","\#(Self.custom)":{"department":"Sales"}"#))
        let body = #"{"mapping":{"fields":[{"name":"department","sources":["\#(Self.custom):department","\#(Self.enterprise):department"]},{"name":"jobTitle","sources":["title"]}]},"users":["\#(ada)","\#(bob)"]}"#
        let preview = t.internalCall(.post, "attribute-mapping/preview", body)
        #expect(preview.status.code == 200, "\(preview.bodyText)")
        let users = preview.json["users"]?.array ?? []
        try #require(users.count == 2)
        #expect(users[0]["profile"] == ["department": "R&D", "jobTitle": "Engineer"])
        #expect(users[0]["current"] == .null && users[0]["changed"] == ["department", "jobTitle"])
        #expect(users[0]["unmapped"] == ["nickName", .string(Self.enterprise + ":costCenter"), "userName"])
        #expect(users[1]["profile"] == ["department": "Sales", "jobTitle": .null])
        #expect(preview.json["coverage"] == ["department": 2, "jobTitle": 1])
        // Nothing was saved.
        #expect(t.internalCall(.get, "attribute-mapping").json["mapping"] == .null)
        #expect(t.internalCall(.get, "users/\(ada)").json["profile"] == .null)
        // A sample of recent users, and refusals.
        let sample = t.internalCall(.post, "attribute-mapping/preview", #"{"mapping":{"fields":[{"name":"jobTitle","sources":["title"]}]},"sample":1}"#)
        #expect(sample.json["users"]?.array?.count == 1)
        #expect(t.internalCall(.post, "attribute-mapping/preview", #"{"mapping":{"fields":[{"name":"a","type":"integer","sources":["title"]}]}}"#).status.code == 400)
        let stranger = t.internalCall(.post, "attribute-mapping/preview", #"{"mapping":{"fields":[]},"users":["0190ffff-0000-7000-8000-000000000001"]}"#)
        #expect(stranger.status.code == 400 && stranger.detail?.contains("has no user") == true)
        #expect(t.internalCall(.post, "attribute-mapping/preview", #"{"mapping":{"fields":[]},"sample":51}"#).status.code == 400)
    }
}
