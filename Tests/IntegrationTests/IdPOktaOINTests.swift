import HTTPCore
import JSON
import TestSupport
import Testing

/// Okta's SCIM client: the headers it sends on every request [docs/idp-behaviour.md#okta-headers].
enum Okta {
    static let headers: [(String, String)] = [
        ("Accept", "application/scim+json"), ("Accept-Charset", "utf-8"), ("User-Agent", "Okta SCIM Client 1.0.0"),
        ("Accept-Encoding", "gzip,deflate"), ("Connection", "Keep-Alive"),
    ]
    static let bodyType = "application/scim+json; charset=utf-8"

    static func client(_ label: String, region: IdPRegion = .us) throws -> IdPClient {
        try IdPClient.provision(label, region: region, headers: headers, bodyType: bodyType, expectedType: MediaType.scim)
    }
}

extension IdPReplay {
    /// Okta OIN integrations and the "SCIM 2.0 Test App": profile updates by GET-then-PUT, activation and group
    /// changes by PATCH [docs/idp-behaviour.md#okta-overview].
    @Suite struct OktaOIN {
        @Test func testConnectorProbesAndRefusesABadToken() throws {
            let okta = try Okta.client("okta-oin-probe")
            // "count=2 is a constant" [docs/idp-behaviour.md#okta-connection-test][docs/idp-behaviour.md#okta-aiw-overview]; the early suite then lists groups [docs/idp-behaviour.md#okta-connection-test].
            okta.expectList(try okta.send(.get, "/Users?startIndex=1&count=2"), total: 0)
            okta.expectList(try okta.send(.get, "/Groups?count=100&startIndex=1"), total: 0)
            // A bad token: Okta shows the 401 and the admin retries [docs/idp-behaviour.md#okta-aiw-overview]; the SPEC test wants the Error envelope [docs/idp-behaviour.md#okta-spec-test].
            let bad = try okta.send(.get, "/Users?startIndex=1&count=2", authorization: .header("Bearer non-token"))
            okta.expectError(bad, 401)
            #expect(bad.response.headers["WWW-Authenticate"]?.hasPrefix("Bearer") == true)
            okta.expectError(try okta.send(.get, "/Users?startIndex=1&count=2", authorization: .none), 401)
        }

        @Test func assignUpdateDeactivateReactivate() throws {
            let okta = try Okta.client("okta-oin-users")
            // lookup [docs/idp-behaviour.md#okta-create-user] with %20 and startIndex/count [docs/idp-behaviour.md#okta-overview]: 200 and exactly the empty ListResponse of [docs/idp-behaviour.md#all-idps-the-common-contract].
            let lookup = try okta.send(.get, "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100")
            okta.expectList(lookup, total: 0)
            #expect(canonical(lookup.json) == canonical(parse("""
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]}
                """)))

            // Create with Okta's body: password (sync off), groups:[], locale [docs/idp-behaviour.md#okta-overview]. The answer is the full user, no password.
            let created = try okta.create("/Users", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
                 "name":{"givenName":"Test","familyName":"User"},
                 "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","locale":"en-US",
                 "externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}
                """)
            let id = created.id
            #expect(withoutMeta(created.json) == canonical(parse("""
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"\(id)","externalId":"00ujl29u0le5T6Aj10h7",
                 "userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},"displayName":"Test User",
                 "locale":"en-US","active":true,"emails":[{"value":"test.user@okta.local","type":"work","primary":true}]}
                """)))
            #expect(created.json["meta"]?["resourceType"] == "User")

            // Same userName again → 409 uniqueness [docs/idp-behaviour.md#okta-overview][docs/idp-behaviour.md#okta-spec-test].
            okta.expectError(try okta.send(.post, "/Users", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"TEST.USER@okta.local","active":true}"#),
                             409, scimType: "uniqueness")

            // The lookup in the `+` encoding [docs/idp-behaviour.md#okta-overview] now links to the user.
            let linked = okta.expectList(try okta.send(.get, "/Users?filter=userName+eq+%22test.user%40okta.local%22&startIndex=1&count=100"),
                                         total: 1)
            #expect(linked.first?["id"]?.string == id)

            // profile update [docs/idp-behaviour.md#okta-profile-update]: GET, then PUT the server's own representation with Okta's edits, a password and
            // Okta's legacy guide's [docs/idp-behaviour.md#okta-profile-update] non-ISO meta dates (ignored on input). The answer must round-trip: the GET plus the edits.
            let fetched = try okta.send(.get, "/Users/\(id)")
            okta.expectResource(fetched)
            guard case .object(var edited) = fetched.json else { Issue.record("GET returned no object"); return }
            edited["name"] = ["givenName": "Another", "middleName": "Excited", "familyName": "User"]
            edited["password"] = "TkdFNVdIVkxhM2c9"
            edited["groups"] = []
            edited["meta"] = ["resourceType": "User", "created": "04-12-2018 00:00:00", "lastModified": "04-12-2018 00:00:00", "version": "v1.0"]
            let put = try okta.send(.put, "/Users/\(id)", JSONValue.object(edited).description)
            okta.expectResource(put)
            edited["password"] = nil
            edited["groups"] = nil
            #expect(withoutMeta(put.json) == withoutMeta(.object(edited)))
            #expect(put.etag != fetched.etag)

            // deactivate [docs/idp-behaviour.md#okta-deactivate-and-reactivate]: no-path replace {active:false} [docs/idp-behaviour.md#okta-overview][docs/idp-behaviour.md#okta-deactivate-and-reactivate] → 200 with active false; inactive in the database,
            // still returned by GET.
            let off = try okta.send(.patch, "/Users/\(id)", patchOps(#"{"op":"replace","value":{"active":false}}"#))
            okta.expectResource(off)
            #expect(off.json["active"] == false)
            #expect(try okta.storedUser(id)?.active == false)
            #expect(try okta.send(.get, "/Users/\(id)").json["active"] == false)
            // Reassignment starts with the lookup, which must find the inactive user [docs/idp-behaviour.md#okta-deactivate-and-reactivate], then PATCHes it back.
            let again = okta.expectList(try okta.send(.get, "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100"),
                                        total: 1)
            #expect(again.first?["id"]?.string == id && again.first?["active"] == false)
            let on = try okta.send(.patch, "/Users/\(id)", patchOps(#"{"op":"replace","value":{"active":true}}"#))
            okta.expectResource(on)
            #expect(on.id == id && on.json["active"] == true)
            #expect(try okta.storedUser(id)?.active == true)
            // Import reads every page in a stable order [docs/idp-behaviour.md#okta-import-and-paging].
            #expect(okta.expectList(try okta.send(.get, "/Users?startIndex=1&count=100"), total: 1).first?["id"]?.string == id)
            // Okta's user flow is plain RFC 7644: no quirk fired.
            #expect(try okta.quirks() == [:])
        }

        @Test func groupPushRenameMembershipDeltaFullPushAndClear() throws {
            let okta = try Okta.client("okta-oin-groups", region: .eu2)
            let u1 = try okta.create("/Users", #"{"userName":"one@okta.local","active":true}"#).id
            let u2 = try okta.create("/Users", #"{"userName":"two@okta.local","active":true}"#).id
            okta.expectList(try okta.send(.get, "/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100"), total: 0)
            let created = try okta.create("/Groups", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}"#)
            let g = created.id
            #expect(withoutMeta(created.json) == canonical(parse(#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"\#(g)","displayName":"Test SCIMv2"}"#)))

            // Rename carrying the group's id in the value [docs/idp-behaviour.md#okta-overview]: the readOnly id is ignored, the name changes.
            let renamed = try okta.send(.patch, "/Groups/\(g)", patchOps(#"{"op":"replace","value":{"id":"\#(g)","displayName":"Test SCIMv2 (renamed)"}}"#))
            okta.expectResource(renamed)
            #expect(renamed.json["displayName"] == "Test SCIMv2 (renamed)")

            // Membership delta: add with display, then remove by filter and add the other in one request [docs/idp-behaviour.md#okta-overview].
            okta.expectResource(try okta.send(.patch, "/Groups/\(g)", patchOps(#"{"op":"add","path":"members","value":[{"value":"\#(u1)","display":"one@okta.local"}]}"#)))
            #expect(try okta.storedMembers(g) == [u1])
            let delta = try okta.send(.patch, "/Groups/\(g)", patchOps("""
                {"op":"remove","path":"members[value eq \\"\(u1)\\"]"},{"op":"add","path":"members","value":[{"value":"\(u2)","display":"two@okta.local"}]}
                """))
            okta.expectResource(delta)
            #expect(delta.json["members"]?.array?.compactMap { $0["value"]?.string } == [u2])
            #expect(delta.json["members"]?[0]?["display"] == "two@okta.local")
            #expect(try okta.storedMembers(g) == [u2])

            // Full push replaces all members [docs/idp-behaviour.md#okta-overview]; "Push now" on an emptied group sends replace [] [docs/idp-behaviour.md#okta-groups-and-membership].
            okta.expectResource(try okta.send(.patch, "/Groups/\(g)", patchOps("""
                {"op":"replace","path":"members","value":[{"value":"\(u1)","display":"one@okta.local"},{"value":"\(u2)","display":"two@okta.local"}]}
                """)))
            #expect(try okta.storedMembers(g) == [u1, u2].sorted())
            let cleared = try okta.send(.patch, "/Groups/\(g)", patchOps(#"{"op":"replace","path":"members","value":[]}"#))
            okta.expectResource(cleared)
            #expect(cleared.json["members"] == nil)
            #expect(try okta.storedMembers(g) == [])

            // Seen without `schemas`, members cleared inside a no-path value that also carries id and displayName [docs/idp-behaviour.md#okta-groups-and-membership].
            okta.expectResource(try okta.send(.patch, "/Groups/\(g)", patchOps(#"{"op":"add","path":"members","value":[{"value":"\#(u1)"}]}"#)))
            let unschemed = try okta.send(.patch, "/Groups/\(g)",
                                          #"{"Operations":[{"op":"replace","value":{"members":[],"id":"\#(g)","displayName":"Test SCIMv2 (renamed)"}}]}"#)
            okta.expectResource(unschemed)
            #expect(try okta.storedMembers(g) == [])

            // Unlink with "Delete the group in the target app" [docs/idp-behaviour.md#okta-overview].
            let deleted = try okta.send(.delete, "/Groups/\(g)")
            #expect(deleted.status == 204 && deleted.response.body.isEmpty)
            okta.expectError(try okta.send(.get, "/Groups/\(g)"), 404)
            // Telemetry: the id in the rename value twice (readOnly keys), the PatchOp without schemas once.
            #expect(try okta.quirks() == ["readOnlyKeysInNoPathValue": 2, "patchWithoutSchemas": 1])
        }
    }
}
