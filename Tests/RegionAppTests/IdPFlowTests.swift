import HTTPCore
import JSON
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import SCIMCore
import Testing

/// What the IdPs in docs/idp-behaviour.md send, straight at the region (the full replay suites run later through the
/// gateway). Each test names the trace it replays.
@Suite struct IdPFlowTests {
    let region: Region
    init() throws { region = try Region() }

    /// Okta Runscope SPEC test R1–R12 [docs/idp-behaviour.md#okta-spec-test], minus the gateway's token check.
    @Test func oktaSpecTestSequence() throws {
        let t = region.tenant()
        t.user("existing@example.com", #","name":{"givenName":"Ex","familyName":"Isting"},"emails":[{"value":"existing@example.com"}],"active":true"#)
        // R1: the first page has a user with the fields Okta checks, numbers as numbers.
        let r1 = t.send(.get, "/Users?count=1&startIndex=1")
        #expect(r1.json["totalResults"]?.int == 1 && r1.json["itemsPerPage"]?.int == 1 && r1.json["startIndex"]?.int == 1)
        let first = try #require(r1.json["Resources"]?[0])
        #expect(first["name"]?["familyName"] != nil && first["name"]?["givenName"] != nil && first["active"] == true)
        #expect(first["emails"]?[0]?["value"] != nil)
        // R2: the same user by id.
        let id = try #require(first["id"]?.string)
        #expect(t.send(.get, "/Users/\(id)").json["id"]?.string == id)
        // R3/R5: unknown userName → 200, totalResults 0.
        #expect(t.send(.get, "/Users?filter=userName%20eq%20%22abcdefgh%40example.com%22").json["totalResults"] == 0)
        // R4/R12: 404 with an Error body.
        let r4 = t.send(.get, "/Users/010101001010101011001010101011")
        #expect(r4.status.code == 404 && r4.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] && r4.detail != nil)
        // R6/R7: create and read back.
        let body = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Runscope300Hfluaklab151@example.com","name":{"givenName":"Given","familyName":"Family"},"emails":[{"primary":true,"value":"Runscope300Hfluaklab151@example.com","type":"work"}],"displayName":"Given Family","active":true}"#
        let r6 = t.send(.post, "/Users", body)
        #expect(r6.status.code == 201 && r6.json["active"] == true)
        let created = try #require(r6.json["id"]?.string)
        #expect(t.send(.get, "/Users/\(created)").json["name"]?["givenName"] == "Given")
        // R8: the same POST again → 409.
        #expect(t.send(.post, "/Users", body).status.code == 409)
        // R9: the lookup in capitals finds it.
        #expect(t.ids("/Users?filter=userName%20eq%20%22RUNSCOPE300HFLUAKLAB151%40example.com%22") == [created])
        // R10: Groups list.
        #expect(t.send(.get, "/Groups").status.code == 200)
    }

    /// Entra Test Connection and group flow [docs/idp-behaviour.md#entra-overview].
    @Test func entraTestConnectionAndGroups() throws {
        let t = region.tenant()
        let probe = t.send(.get, "/Users?filter=userName+eq+%22Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee%22")
        #expect(probe.status.code == 200 && probe.json["totalResults"] == 0 && probe.json["Resources"] == [])
        #expect(t.send(.get, "/Groups?excludedAttributes=members&filter=displayName+eq+%22a1b2%22").json["totalResults"] == 0)
        let u = t.create("/Users", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2","userName":"Test_User_1","active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_1@testuser.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[{"primary":"True","value":"r"}]}"#)
        // The validator rejects "True" echoed back: it must come back as a boolean.
        #expect(t.send(.get, "/Users/\(u)").json["roles"] == [["value": "r", "primary": true]])
        // Matching by the work email as Entra documents it.
        #expect(t.ids("/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22test_user_1%40TESTUSER.com%22") == [u])
        #expect(t.ids("/Users?filter=externalId%20eq%200a21f0f2") == [u])
        let g = t.create("/Groups", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}"#)
        #expect(t.send(.get, "/Groups/\(g)?excludedAttributes=members").json["members"] == nil)
        #expect(t.send(.patch, "/Groups/\(g)", patchOp(#"{"op":"Replace","path":"displayName","value":"1879db59-updatedDisplayName"}"#)).status.code == 200)
        #expect(t.send(.patch, "/Groups/\(g)", #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"name":"addMember","op":"Add","path":"members","value":[{"$ref":null,"value":"\#(u)","displayName":"x"}]}]}"#).status.code == 200)
        #expect(t.send(.get, "/Groups/\(g)").json["members"]?.array?.count == 1)
        #expect(t.send(.patch, "/Groups/\(g)", patchOp(#"{"op":"remove","path":"members"}"#)).json["members"] == nil)
        #expect(t.send(.delete, "/Groups/\(g)").status.code == 204)
        // Disable, then delete twice (validator preview).
        #expect(t.send(.patch, "/Users/\(u)", patchOp(#"{"op":"Replace","path":"active","value":"False"}"#)).json["active"] == false)
        #expect(t.send(.delete, "/Users/\(u)").status.code == 204)
        #expect(t.send(.delete, "/Users/\(u)").status.code == 404)
    }

    /// JumpCloud [docs/idp-behaviour.md#jumpcloud-user-bodies][docs/idp-behaviour.md#jumpcloud-patch-shapes]: `tel:` phones verbatim, `emails: null` clears, per-attribute replace ops.
    @Test func jumpCloudBodies() throws {
        let t = region.tenant()
        let u = t.create("/Users", #"{"active":true,"addresses":[{"country":"US","locality":"locality","postalCode":"80027","primary":true,"region":"region","streetAddress":"street-address","type":"work"}],"displayName":"displayname","emails":[{"primary":true,"type":"work","value":"testuser@example.io"}],"externalId":"66e2d689590450d073d2df3b","locale":"en-US","name":{"familyName":"lastname","givenName":"firstname"},"phoneNumbers":[{"primary":true,"type":"work","value":"tel:+1-555-555-5555"}],"preferredLanguage":"en-US","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"testuser@example.io"}"#)
        #expect(t.send(.get, "/Users/\(u)").json["phoneNumbers"]?[0]?["value"] == "tel:+1-555-555-5555")
        let minimal = t.send(.put, "/Users/\(u)", #"{"active":true,"emails":null,"id":"\#(u)","name":{"familyName":"lastname","givenName":"firstname"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"testuser@example.io"}"#)
        #expect(minimal.status.code == 200 && minimal.json["emails"] == nil && minimal.json["phoneNumbers"] == nil)
        #expect(t.ids("/Users?filter=emails.value+eq+%22testuser%40example.io%22").isEmpty)
        let patched = t.send(.patch, "/Users/\(u)", patchOp(#"{"op":"replace","path":"name.givenName","value":"John"},{"op":"replace","path":"active","value":false}"#))
        #expect(patched.json["name"]?["givenName"] == "John" && patched.json["active"] == false)
        // The test group is created with its member, then deleted, as is the test user.
        let g = t.group("jc test group", #","members":[{"value":"\#(u)"}]"#)
        #expect(t.send(.delete, "/Groups/\(g)").status.code == 204)
        #expect(t.send(.delete, "/Users/\(u)").status.code == 204)
    }

    /// OneLogin [docs/idp-behaviour.md#onelogin-overview][docs/idp-behaviour.md#onelogin-template-bodies]: trailing `&` and `?`, `emails` as an object, odd schema URNs, leading spaces kept.
    @Test func oneLoginTemplates() throws {
        let t = region.tenant()
        #expect(t.send(.get, "/Users?filter=userName+eq+%22onelogin-test-user01%22&").json["totalResults"] == 0)
        let u = t.create("/Users", #"{"schemas":["urn:scim:schemas:core:2.0","urn:scim:schemas:extension:enterprise:2.0"],"userName":"onelogin-test-user01","name":{"familyName":" User 01","givenName":"AAA Test"},"emails":{"value":"ol@example.com","type":"work","primary":true},"active":"true","prefferedLanguage":"en","id":null}"#)
        let user = t.send(.get, "/Users/\(u)?").json
        #expect(user["name"] == ["familyName": " User 01", "givenName": "AAA Test"])
        #expect(user["emails"] == [["value": "ol@example.com", "type": "work", "primary": true]])
        #expect(user["active"] == true)
        #expect(t.send(.put, "/Users/\(u)?", #"{"userName":"onelogin-test-user01","active":"false"}"#).json["active"] == false)
    }

    /// Profit.co's and Condeco's attribute sets round-trip (issue 6).
    @Test func seedAttributeSetsRoundTrip() throws {
        let t = region.tenant(policy: .refuse)
        let profit = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"jane@profit.co","name":{"familyName":"Doe","givenName":"Jane"},"emails":[{"value":"jane@profit.co","type":"work","primary":true}],"active":true,"title":"CTO","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Engineering"}}"#
        let created = t.send(.post, "/Users", profit)
        var expected = try #require(try JSONDecoder.decode(profit).object)
        expected["id"] = created.json["id"]
        let fetched = t.send(.get, "/Users/\(created.json["id"]?.string ?? "")?excludedAttributes=meta").json
        let got = try #require(fetched.object)
        #expect(Set(got.keys) == Set(expected.keys))
        for key in expected.keys { #expect(got[key] == expected[key], "\(key)") }
    }
}
