import HTTPCore
import JSON
import TestSupport
import Testing

extension IdPReplay {
    /// Okta App Integration Wizard apps: every update, deactivation and group membership goes as GET-by-id then PUT;
    /// no PATCH anywhere [docs/idp-behaviour.md#okta-overview][docs/idp-behaviour.md#okta-aiw-overview][docs/idp-behaviour.md#okta-aiw-group-push].
    @Suite struct OktaAIW {
        /// GET-by-id, apply `edit` to the server's own representation, PUT it back (what Okta AIW does [docs/idp-behaviour.md#okta-overview][docs/idp-behaviour.md#okta-aiw-overview]).
        func getThenPut(_ okta: IdPClient, _ path: String, _ edit: (inout JSONObject) -> Void) throws -> IdPExchange {
            let fetched = try okta.send(.get, path)
            okta.expectResource(fetched)
            guard case .object(var o) = fetched.json else { return fetched }
            edit(&o)
            return try okta.send(.put, path, JSONValue.object(o).description)
        }

        @Test func testConnectorLinkExistingUserPutDeactivateReactivate() throws {
            let okta = try Okta.client("okta-aiw-users")
            // Test Connector Configuration sends only this [docs/idp-behaviour.md#okta-aiw-overview].
            okta.expectList(try okta.send(.get, "/Users?startIndex=1&count=2"), total: 0)

            // A user that already exists in the app: the lookup finds it and Okta PUTs its profile onto it [docs/idp-behaviour.md#okta-aiw-overview].
            let existing = try okta.create("/Users", #"{"userName":"ae@rostr.example","name":{"givenName":"Ann","familyName":"Exec"},"emails":[{"value":"ae@rostr.example","primary":true}],"active":true}"#).id
            let found = okta.expectList(try okta.send(.get, "/Users?filter=userName%20eq%20%22ae%40rostr.example%22&startIndex=1&count=100"), total: 1)
            #expect(found.first?["id"]?.string == existing)
            let linked = try getThenPut(okta, "/Users/\(existing)") { o in
                o["schemas"] = ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
                o["title"] = "Account Executive"
                o["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = ["department": "Sales"]
            }
            okta.expectResource(linked)
            #expect(linked.id == existing && linked.json["title"] == "Account Executive")
            #expect(linked.json["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == ["department": "Sales"])
            #expect(linked.json["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"])

            // A new assignment: lookup, then POST with the enterprise extension [docs/idp-behaviour.md#okta-aiw-connection-test-and-create].
            okta.expectList(try okta.send(.get, "/Users?filter=userName%20eq%20%22bob%40rostr.example%22&startIndex=1&count=100"), total: 0)
            let bob = try okta.create("/Users", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                 "userName":"bob@rostr.example","name":{"givenName":"Bob","familyName":"Builder"},
                 "emails":[{"primary":true,"value":"bob@rostr.example","type":"work"}],"displayName":"Bob Builder","locale":"en_US",
                 "title":"Engineer","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D"},
                 "password":"1mz050nq","active":true}
                """)
            #expect(bob.json["locale"] == "en_US" && bob.json["password"] == nil)

            // Deactivation is a PUT of the full user with active:false [docs/idp-behaviour.md#okta-overview][docs/idp-behaviour.md#okta-aiw-updates-and-deactivation][docs/idp-behaviour.md#okta-aiw-overview].
            let off = try getThenPut(okta, "/Users/\(bob.id)") { $0["active"] = false }
            okta.expectResource(off)
            #expect(off.json["active"] == false && off.json["title"] == "Engineer")
            #expect(try okta.storedUser(bob.id)?.active == false)
            let stillThere = try okta.send(.get, "/Users/\(bob.id)")
            okta.expectResource(stillThere)
            #expect(stillThere.json["active"] == false)

            // Reactivation: the lookup finds the inactive user, then GET and PUT active:true; the id is kept.
            let relookup = okta.expectList(try okta.send(.get, "/Users?filter=userName%20eq%20%22bob%40rostr.example%22&startIndex=1&count=100"),
                                           total: 1)
            #expect(relookup.first?["active"] == false)
            let on = try getThenPut(okta, "/Users/\(bob.id)") { $0["active"] = true }
            okta.expectResource(on)
            #expect(on.id == bob.id && on.json["active"] == true)
            #expect(try okta.storedUser(bob.id)?.active == true)
            #expect(try okta.quirks() == [:])
        }

        @Test func groupPushByFilterPostGetPut() throws {
            let okta = try Okta.client("okta-aiw-groups", region: .eu2)
            let bob = try okta.create("/Users", #"{"userName":"bob@ad.oktatest.com","active":true}"#).id
            let ann = try okta.create("/Users", #"{"userName":"ann@ad.oktatest.com","active":true}"#).id
            // Filter, then POST, then GET, then PUT [docs/idp-behaviour.md#okta-aiw-overview][docs/idp-behaviour.md#okta-aiw-group-push].
            okta.expectList(try okta.send(.get, "/Groups?filter=displayName%20eq%20%22APP-Rostr-Users%22&startIndex=1&count=100"), total: 0)
            let g = try okta.create("/Groups", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"APP-Rostr-Users","members":[]}"#).id
            okta.expectResource(try okta.send(.get, "/Groups/\(g)"))
            let put = try okta.send(.put, "/Groups/\(g)", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"\(g)","displayName":"APP-Rostr-Users",
                 "members":[{"value":"\(bob)","display":"bob@ad.oktatest.com"},{"value":"\(ann)","display":"ann@ad.oktatest.com"}]}
                """)
            okta.expectResource(put)
            #expect(try okta.storedMembers(g) == [bob, ann].sorted())
            // The GET that follows must carry the members [docs/idp-behaviour.md#okta-aiw-overview].
            let members = try okta.send(.get, "/Groups/\(g)").json["members"]?.array ?? []
            #expect(Set(members.compactMap { $0["value"]?.string }) == [bob, ann])
            #expect(members.first { $0["value"]?.string == bob }?["display"] == "bob@ad.oktatest.com")
            // The group is found by name, case-insensitively, before the next push [docs/idp-behaviour.md#okta-aiw-overview][docs/idp-behaviour.md#microsoft-scim-validator].
            let byName = okta.expectList(try okta.send(.get, "/Groups?filter=displayName%20eq%20%22app-rostr-users%22&startIndex=1&count=100"), total: 1)
            #expect(byName.first?["id"]?.string == g)
            // Unassigning one member is a PUT with the rest; unassigning all, a PUT with members [].
            okta.expectResource(try okta.send(.put, "/Groups/\(g)", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"\#(g)","displayName":"APP-Rostr-Users","members":[{"value":"\#(ann)"}]}"#))
            #expect(try okta.storedMembers(g) == [ann])
            let emptied = try okta.send(.put, "/Groups/\(g)", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"\#(g)","displayName":"APP-Rostr-Users","members":[]}"#)
            okta.expectResource(emptied)
            #expect(emptied.json["members"] == nil)
            #expect(try okta.storedMembers(g) == [])
            #expect(try okta.send(.delete, "/Groups/\(g)").status == 204)
            #expect(try okta.quirks() == [:])
        }
    }

    /// The Okta SCIM 2.0 SPEC test (Runscope) sequence R1–R12 [docs/idp-behaviour.md#okta-spec-test], with its variables, plus paging [docs/idp-behaviour.md#okta-import-and-paging].
    @Suite struct OktaSpecTest {
        @Test func runscopeSequence() throws {
            var okta = try Okta.client("okta-spec", region: .eu2)
            okta.headers = okta.headers.map { $0.0 == "User-Agent" ? ("User-Agent", "OKTA SCIM Integration") : $0 }  // [docs/idp-behaviour.md#okta-connection-test]
            // The server must already hold at least one user, first in default order and active [docs/idp-behaviour.md#okta-spec-test].
            let seeded = try okta.create("/Users", #"{"userName":"existing@example.com","name":{"givenName":"Ex","familyName":"Isting"},"emails":[{"value":"existing@example.com","primary":true}],"active":true}"#).id

            // R1
            let r1 = okta.expectList(try okta.send(.get, "/Users?count=1&startIndex=1"), total: 1)
            let first = try #require(r1.first)
            for field in [first["id"], first["name"]?["familyName"], first["name"]?["givenName"], first["userName"], first["active"],
                          first["emails"]?[0]?["value"]] {
                #expect(field != nil && field != .null)
            }
            // R2
            let r2 = try okta.send(.get, "/Users/\(first["id"]?.string ?? "")")
            okta.expectResource(r2)
            #expect(r2.id == seeded && r2.json["active"] == true && r2.json["userName"] == first["userName"])
            // R3: an unknown userName
            okta.expectList(try okta.send(.get, "/Users?filter=userName%20eq%20%22abcdefgh%40example.com%22"), total: 0)
            // R4: a random id
            okta.expectError(try okta.send(.get, "/Users/010101001010101011001010101011"), 404)
            // R5
            okta.expectList(try okta.send(.get, "/Users?filter=userName%20eq%20%22Runscope300Hfluaklab151%40example.com%22"), total: 0)
            // R6
            func body(email: String) -> String {
                """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Runscope300Hfluaklab151@example.com",
                 "name":{"givenName":"Runscope300","familyName":"Hfluaklab151"},
                 "emails":[{"primary":true,"value":"\(email)","type":"work"}],
                 "displayName":"Runscope300 Hfluaklab151","active":true}
                """
            }
            let r6 = try okta.create("/Users", body(email: "Runscope300Hfluaklab151@runscope.com"))
            #expect(r6.json["active"] == true && r6.json["userName"] == "Runscope300Hfluaklab151@example.com")
            #expect(canonical(r6.json["name"] ?? nil) == canonical(["givenName": "Runscope300", "familyName": "Hfluaklab151"]))
            #expect(r6.json["schemas"]?.array?.contains("urn:ietf:params:scim:schemas:core:2.0:User") == true)
            // R7
            let r7 = try okta.send(.get, "/Users/\(r6.id)")
            okta.expectResource(r7)
            #expect(r7.json["userName"] == r6.json["userName"] && r7.json["name"] == r6.json["name"])
            // R8: the same user again, with the email set to the userName → 409
            okta.expectError(try okta.send(.post, "/Users", body(email: "Runscope300Hfluaklab151@example.com")), 409,
                             scimType: "uniqueness")
            // R9: the userName in capitals finds the user (case-insensitive userName, RFC 7643 §4.1.1)
            let r9 = okta.expectList(try okta.send(.get, "/Users?filter=userName%20eq%20%22RUNSCOPE300HFLUAKLAB151%40example.com%22"), total: 1)
            #expect(r9.first?["id"]?.string == r6.id)
            // R10: Groups within 600 ms
            let started = monotonicMillis()
            okta.expectList(try okta.send(.get, "/Groups"), total: 0)
            #expect(monotonicMillis() - started < 600)
            // R11: a bad token
            okta.expectError(try okta.send(.get, "/Users?filter=userName%20eq%20%22abcdefgh%40example.com%22",
                                           authorization: .header("Bearer non-token")), 401)
            // R12
            okta.expectError(try okta.send(.get, "/Users/00919288221112222"), 404)

            // Paging: the order is the same whatever startIndex and count are [docs/idp-behaviour.md#okta-import-and-paging].
            for n in 0..<3 { _ = try okta.create("/Users", #"{"userName":"page\#(n)@example.com","active":true}"#) }
            let all = okta.expectList(try okta.send(.get, "/Users?startIndex=1&count=100"), total: 5).compactMap { $0["id"]?.string }
            var paged: [String] = []
            for start in stride(from: 1, through: 5, by: 2) {
                let page = okta.expectList(try okta.send(.get, "/Users?startIndex=\(start)&count=2"), total: 5, startIndex: start)
                paged += page.compactMap { $0["id"]?.string }
            }
            #expect(paged == all)
            #expect(all.first == seeded)
            #expect(try okta.quirks() == [:])
        }
    }
}
