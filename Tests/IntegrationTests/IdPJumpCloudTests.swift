import HTTPCore
import JSON
import TestSupport
import Testing

/// JumpCloud's custom SCIM integration. Its request headers are not in docs/idp-behaviour.md (the matrix says "?") [docs/idp-behaviour.md#how-to-read-this-file]: we send
/// `Content-Type: application/json` and no Accept header, so the answers must default to `application/scim+json`.
enum JumpCloud {
    static func client(_ label: String, region: IdPRegion = .us, policy: String = "soft") throws -> IdPClient {
        try IdPClient.provision(label, region: region, policy: policy, headers: [], bodyType: "application/json",
                                expectedType: MediaType.scim)
    }

    /// The sanitized real create body [docs/idp-behaviour.md#jumpcloud-user-bodies].
    static let createBody = """
        {"active":true,
         "addresses":[{"country":"US","locality":"locality","postalCode":"80027","primary":true,"region":"region","streetAddress":"street-address","type":"work"}],
         "displayName":"displayname","emails":[{"primary":true,"type":"work","value":"testuser@example.io"}],
         "externalId":"66e2d689590450d073d2df3b","locale":"en-US","name":{"familyName":"lastname","givenName":"firstname"},
         "phoneNumbers":[{"primary":true,"type":"work","value":"tel:+1-555-555-5555"}],"preferredLanguage":"en-US",
         "schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
         "userName":"testuser@example.io"}
        """
}

extension IdPReplay {
    /// JumpCloud [docs/idp-behaviour.md#jumpcloud-overview]: the activation test creates and deletes a test user and group, updates are full PUTs with
    /// `null` and `[]` meaning "clear", PATCH is one op per attribute, member removal by value array.
    @Suite struct JumpCloudSCIM {
        @Test func activationTestCreatesAndDeletesATestUserAndGroup() throws {
            let jc = try JumpCloud.client("jumpcloud-activate")
            // "JumpCloud sends a GET /Users to validate the connection" [docs/idp-behaviour.md#how-to-read-this-file]: 200 even with no users.
            jc.expectList(try jc.send(.get, "/Users"), total: 0)
            // Wire order assumed from JumpCloud's documented [docs/idp-behaviour.md#jumpcloud-connection-test] description [docs/idp-behaviour.md#how-to-read-this-file].
            jc.expectList(try jc.send(.get, "/Users?filter=userName%20eq%20%22testuser%40example.io%22"), total: 0)
            let user = try jc.create("/Users", JumpCloud.createBody)
            // Stored and answered verbatim (the `tel:` URI too); `schemas` lists the enterprise URN only with data [docs/idp-behaviour.md#jumpcloud-user-bodies].
            var expected = try #require(parse(JumpCloud.createBody).object)
            expected["id"] = .string(user.id)
            expected["schemas"] = ["urn:ietf:params:scim:schemas:core:2.0:User"]
            #expect(withoutMeta(user.json) == canonical(.object(expected)))
            let group = try jc.create("/Groups", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"JumpCloud test group","members":[{"value":"\#(user.id)"}]}"#)
            #expect(group.json["members"]?.array?.compactMap { $0["value"]?.string } == [user.id])
            #expect(try jc.send(.delete, "/Groups/\(group.id)").status == 204)
            #expect(try jc.send(.delete, "/Users/\(user.id)").status == 204)
            jc.expectError(try jc.send(.get, "/Users/\(user.id)"), 404)
            jc.expectList(try jc.send(.get, "/Users?filter=userName%20eq%20%22testuser%40example.io%22"), total: 0)
        }

        @Test func whereDeleteIsRefusedTheTestUserIsDeactivated() throws {
            let jc = try JumpCloud.client("jumpcloud-refuse", region: .eu2, policy: "refuse")
            let user = try jc.create("/Users", JumpCloud.createBody)
            // DELETE unsupported (405) → "the test user will be deactivated" [docs/idp-behaviour.md#jumpcloud-connection-test]; by PATCH, the form JumpCloud's own client sends [docs/idp-behaviour.md#jumpcloud-patch-shapes].
            jc.expectError(try jc.send(.delete, "/Users/\(user.id)"), 405)
            let off = try jc.send(.patch, "/Users/\(user.id)", patchOps(#"{"op":"replace","path":"active","value":false}"#))
            jc.expectResource(off)
            let stored = try jc.storedUser(user.id)
            #expect(stored?.active == false && stored?.deleted == false)
            #expect(try jc.send(.get, "/Users/\(user.id)").json["active"] == false)
        }

        @Test func fullAndMinimalPutPerAttributePatchDeprovisionAndBack() throws {
            let jc = try JumpCloud.client("jumpcloud-users")
            let u = try jc.create("/Users", JumpCloud.createBody).id
            // Full PUT [docs/idp-behaviour.md#jumpcloud-user-bodies]: userName differs from the email, empty arrays clear, photos and the extension appear.
            let full = try jc.send(.put, "/Users/\(u)", """
                {"active":true,"addresses":[],"displayName":"John Doe",
                 "emails":[{"primary":true,"type":"work","value":"john.doe@example.io"}],
                 "externalId":"664447f5c0c418f2d05e5318","id":"\(u)","locale":"en-US",
                 "name":{"familyName":"Doe","givenName":"John"},"phoneNumbers":[],
                 "photos":[{"value":"https://img.example.com/2a27.png"}],"preferredLanguage":"en-US",
                 "schemas":["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","urn:ietf:params:scim:schemas:core:2.0:User"],
                 "title":"Captain","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"C-Suite"},
                 "userName":"john.doe@example.com"}
                """)
            jc.expectResource(full)
            #expect(withoutMeta(full.json) == canonical(parse("""
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                 "id":"\(u)","externalId":"664447f5c0c418f2d05e5318","userName":"john.doe@example.com",
                 "name":{"familyName":"Doe","givenName":"John"},"displayName":"John Doe","title":"Captain","preferredLanguage":"en-US",
                 "locale":"en-US","active":true,"emails":[{"value":"john.doe@example.io","type":"work","primary":true}],
                 "photos":[{"value":"https://img.example.com/2a27.png"}],
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"C-Suite"}}
                """)))
            // Minimal PUT with an explicit `"emails":null` [docs/idp-behaviour.md#jumpcloud-user-bodies]: the emails are gone, also from the email index.
            let minimal = try jc.send(.put, "/Users/\(u)", #"{"active":true,"emails":null,"id":"\#(u)","name":{"familyName":"lastname","givenName":"firstname"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"testuser@example.io"}"#)
            jc.expectResource(minimal)
            #expect(withoutMeta(minimal.json) == canonical(parse("""
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"\(u)","userName":"testuser@example.io",
                 "name":{"familyName":"lastname","givenName":"firstname"},"active":true}
                """)))
            jc.expectList(try jc.send(.get, "/Users?filter=emails.value%20eq%20%22john.doe%40example.io%22"), total: 0)
            // One replace per attribute, `active` as a JSON boolean [docs/idp-behaviour.md#jumpcloud-patch-shapes]; `user_deprovision` = inactive [docs/idp-behaviour.md#jumpcloud-deactivate-and-delete].
            let off = try jc.send(.patch, "/Users/\(u)", patchOps("""
                {"op":"replace","path":"name.givenName","value":"John"},{"op":"replace","path":"name.familyName","value":"Smith"},
                {"op":"replace","path":"active","value":false}
                """))
            jc.expectResource(off)
            #expect(off.json["name"] == ["familyName": "Smith", "givenName": "John"] && off.json["active"] == false)
            #expect(try jc.storedUser(u)?.active == false)
            #expect(try jc.send(.get, "/Users/\(u)").json["active"] == false)
            let on = try jc.send(.patch, "/Users/\(u)", patchOps(#"{"op":"replace","path":"active","value":true}"#))
            jc.expectResource(on)
            #expect(on.id == u)
            #expect(try jc.storedUser(u)?.active == true)
            #expect(try jc.quirks() == [:])
        }

        @Test func groupsTakeOverByNameAddRemoveByValueRename() throws {
            let jc = try JumpCloud.client("jumpcloud-groups", region: .eu2)
            let a = try jc.create("/Users", #"{"userName":"a@jc.example","active":true}"#).id
            let b = try jc.create("/Users", #"{"userName":"b@jc.example","active":true}"#).id
            // A group of the same name already exists in the app: JumpCloud finds it and takes it over [docs/idp-behaviour.md#jumpcloud-groups].
            let existing = try jc.create("/Groups", #"{"displayName":"Engineering"}"#).id
            #expect(jc.expectList(try jc.send(.get, "/Groups?filter=displayName%20eq%20%22Engineering%22"), total: 1).first?["id"]?.string == existing)
            // Groups are created with their members, never empty [docs/idp-behaviour.md#jumpcloud-groups]; members carry only `value` [docs/idp-behaviour.md#jumpcloud-patch-shapes].
            let g = try jc.create("/Groups", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Platform","members":[{"value":"\#(a)"}]}"#).id
            jc.expectResource(try jc.send(.patch, "/Groups/\(g)", patchOps(#"{"op":"add","path":"members","value":[{"value":"\#(b)"}]}"#)))
            #expect(try jc.storedMembers(g) == [a, b].sorted())
            // Azure-style removal: path=members with a value array [docs/idp-behaviour.md#jumpcloud-patch-shapes].
            let removed = try jc.send(.patch, "/Groups/\(g)", patchOps(#"{"op":"remove","path":"members","value":[{"value":"\#(a)"}]}"#))
            jc.expectResource(removed)
            #expect(try jc.storedMembers(g) == [b])
            // Rename [docs/idp-behaviour.md#jumpcloud-groups]; the exact form is [docs/idp-behaviour.md#how-to-read-this-file].
            let renamed = try jc.send(.patch, "/Groups/\(g)", patchOps(#"{"op":"replace","path":"displayName","value":"Eng"}"#))
            jc.expectResource(renamed)
            #expect(renamed.json["displayName"] == "Eng" && renamed.json["members"]?.array?.count == 1)
            // Disassociating the group deactivates its members [docs/idp-behaviour.md#jumpcloud-groups], then the group goes.
            jc.expectResource(try jc.send(.patch, "/Users/\(b)", patchOps(#"{"op":"replace","path":"active","value":false}"#)))
            #expect(try jc.storedUser(b)?.active == false)
            #expect(try jc.send(.delete, "/Groups/\(g)").status == 204)
            #expect(try jc.quirks() == ["memberRemovalByValueArray": 1])
        }
    }
}
