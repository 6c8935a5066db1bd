import HTTPCore
import JSON
import TestSupport
import Testing

/// OneLogin's SCIM provisioner: "the content type header for all responses must be of type application/json" [docs/idp-behaviour.md#onelogin-overview].
/// What it sends as Accept is not in docs/idp-behaviour.md; following docs/idp-behaviour.md' advice [docs/idp-behaviour.md#how-to-read-this-file] we negotiate on Accept, so this client
/// sends `Accept: application/json` and must get `application/json` back, errors included.
enum OneLogin {
    static let headers: [(String, String)] = [("Accept", "application/json")]

    static func client(_ label: String, region: IdPRegion = .eu2) throws -> IdPClient {
        try IdPClient.provision(label, region: region, headers: headers, bodyType: "application/json", expectedType: MediaType.json)
    }
}

extension IdPReplay {
    /// OneLogin [docs/idp-behaviour.md#onelogin-overview]: lookups with a trailing `&`, PUT with a trailing `?`, bodies rendered from an admin-edited
    /// JSON template (odd URNs, typos, string booleans, `emails` as an object, nulls), Suspend as PUT active:false.
    @Suite struct OneLoginSCIM {
        @Test func enableConnectionCreateUpdateSuspendUnsuspendDelete() throws {
            let ol = try OneLogin.client("onelogin-users")
            // "Get User by userName with a value it knows does not exist": an empty list (404 also accepted) [docs/idp-behaviour.md#onelogin-overview].
            let probe = try ol.send(.get, "/Users?filter=userName+eq+%22onelogin-does-not-exist-8f2c%22&")
            ol.expectList(probe, total: 0)
            // Errors are application/json too, from the gateway (401) and from the region (404).
            ol.expectError(try ol.send(.get, "/Users?filter=userName+eq+%22x%22&", authorization: .header("Bearer wrong")), 401)
            ol.expectError(try ol.send(.get, "/Users/\(randomUUID())?"), 404)

            // The default Enterprise template [docs/idp-behaviour.md#onelogin-overview][docs/idp-behaviour.md#onelogin-template-bodies].
            ol.expectList(try ol.send(.get, "/Users?filter=userName+eq+%22onelogin-test-user01%22&"), total: 0)
            let manager = try ol.create("/Users", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"boss@onelogin.example","active":true}"#).id
            let created = try ol.create("/Users", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                 "userName":"onelogin-test-user01","name":{"givenName":"AAA Test","familyName":"User 01","formatted":"AAA Test User 01"},
                 "emails":[{"value":"user01@onelogin.example","type":"work","primary":true}],"title":"Tester",
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"QA","manager":{"value":"\(manager)","displayName":"The Boss"}}}
                """)
            let u = created.id
            #expect(created.json["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]?["manager"]?["value"]?.string == manager)
            #expect(ol.expectList(try ol.send(.get, "/Users?filter=userName+eq+%22onelogin-test-user01%22&"), total: 1).first?["id"]?.string == u)

            // PUT with a trailing `?`, non-standard schema URNs and a leading space, as observed [docs/idp-behaviour.md#onelogin-overview]: kept verbatim.
            let put = try ol.send(.put, "/Users/\(u)?", """
                {"schemas":["urn:scim:schemas:core:2.0","urn:scim:schemas:extension:enterprise:2.0"],"userName":"onelogin-test-user01",
                 "name":{"familyName":" User 01","givenName":"AAA Test"},"emails":[{"value":"user01@onelogin.example","type":"work","primary":true}],
                 "active":"{$user.active}"}
                """.replacingTemplateActive("true"))
            ol.expectResource(put)
            #expect(put.json["name"] == ["familyName": " User 01", "givenName": "AAA Test"] && put.json["active"] == true)
            #expect(put.json["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User"])

            // Suspend: the template's `"active":"{$user.active}"` renders as the string "false" [docs/idp-behaviour.md#onelogin-template-bodies][docs/idp-behaviour.md#onelogin-deprovisioning].
            let suspended = try ol.send(.put, "/Users/\(u)?", #"{"schemas":["urn:scim:schemas:core:2.0"],"userName":"onelogin-test-user01","name":{"familyName":" User 01","givenName":"AAA Test"},"active":"false"}"#)
            ol.expectResource(suspended)
            #expect(suspended.json["active"] == false)
            #expect(try ol.storedUser(u)?.active == false)
            let stillThere = try ol.send(.get, "/Users/\(u)?")
            ol.expectResource(stillThere)
            #expect(stillThere.json["active"] == false)
            let back = try ol.send(.put, "/Users/\(u)?", #"{"schemas":["urn:scim:schemas:core:2.0"],"userName":"onelogin-test-user01","name":{"familyName":" User 01","givenName":"AAA Test"},"active":"true"}"#)
            ol.expectResource(back)
            #expect(back.id == u && back.json["active"] == true)
            #expect(try ol.storedUser(u)?.active == true)

            // "Delete" as the deprovision action [docs/idp-behaviour.md#onelogin-deprovisioning].
            let deleted = try ol.send(.delete, "/Users/\(u)")
            #expect(deleted.status == 204)
            ol.expectError(try ol.send(.get, "/Users/\(u)?"), 404)
            #expect(try ol.quirks() == ["booleanAsString": 3])
        }

        @Test func templateHazardsAreAccepted() throws {
            let ol = try OneLogin.client("onelogin-template", region: .us)
            // A customer template [docs/idp-behaviour.md#onelogin-template-bodies][docs/idp-behaviour.md#how-to-read-this-file]: string boolean, a typo'd key, an unknown address key, `"id":null`,
            // `managerId`, `emails` as one object, explicit nulls.
            let created = try ol.create("/Users", """
                {"schemas":["urn:scim:schemas:core:2.0","urn:scim:schemas:extension:enterprise:2.0"],"id":null,
                 "userName":"template.user@onelogin.example","active":"true","prefferedLanguage":"en",
                 "name":{"givenName":"Tem","familyName":"Plate","middleName":null},"nickName":null,"title":null,
                 "emails":{"value":"template.user@onelogin.example","type":"work","primary":true},
                 "addresses":[{"type":"work","city":"Berlin","locality":"Berlin","country":"DE"}],
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":null,"manager":{"managerId":"42","value":null}}}
                """)
            #expect(withoutMeta(created.json) == canonical(parse("""
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"\(created.id)","userName":"template.user@onelogin.example",
                 "name":{"givenName":"Tem","familyName":"Plate"},"active":true,
                 "emails":[{"value":"template.user@onelogin.example","type":"work","primary":true}],
                 "addresses":[{"type":"work","locality":"Berlin","country":"DE"}]}
                """)))
            #expect(try ol.quirks() == ["booleanAsString": 1, "singleValueForMultiValued": 1])
        }

        @Test func refreshEntitlementsAndRuleDrivenMembership() throws {
            let ol = try OneLogin.client("onelogin-groups")
            let a = try ol.create("/Users", #"{"userName":"a@onelogin.example"}"#).id
            let b = try ol.create("/Users", #"{"userName":"b@onelogin.example"}"#).id
            let g1 = try ol.create("/Groups", #"{"displayName":"Sales"}"#).id
            let g2 = try ol.create("/Groups", #"{"displayName":"Support"}"#).id
            // "Refresh entitlements" lists the groups [docs/idp-behaviour.md#onelogin-overview].
            let listed = ol.expectList(try ol.send(.get, "/Groups"), total: 2)
            #expect(Set(listed.compactMap { $0["id"]?.string }) == [g1, g2])
            // Rules add users with PATCH [docs/idp-behaviour.md#onelogin-overview]; removal has been reported both ways [docs/idp-behaviour.md#how-to-read-this-file]: we accept both.
            ol.expectResource(try ol.send(.patch, "/Groups/\(g1)", patchOps(#"{"op":"add","path":"members","value":[{"value":"\#(a)"},{"value":"\#(b)"}]}"#)))
            #expect(try ol.storedMembers(g1) == [a, b].sorted())
            ol.expectResource(try ol.send(.patch, "/Groups/\(g1)", patchOps(#"{"op":"remove","path":"members","value":[{"value":"\#(a)"}]}"#)))
            #expect(try ol.storedMembers(g1) == [b])
            ol.expectResource(try ol.send(.patch, "/Groups/\(g1)", patchOps(#"{"op":"remove","path":"members[value eq \"\#(b)\"]"}"#)))
            #expect(try ol.storedMembers(g1) == [])
            #expect(try ol.quirks() == ["memberRemovalByValueArray": 1])
        }
    }
}

extension String {
    /// Renders OneLogin's `{$user.active}` template placeholder [docs/idp-behaviour.md#onelogin-template-bodies].
    func replacingTemplateActive(_ value: String) -> String {
        var out = ""
        var rest = Substring(self)
        let token = "{$user.active}"
        while let range = rest.firstRange(of: token) {
            out += rest[..<range.lowerBound]
            out += value
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
