import HTTPCore
import JSON
import TestSupport
import Testing

/// Microsoft Entra ID's provisioning service ("scim" job): `application/scim+json` requests [docs/idp-behaviour.md#entra-overview]. Its Accept header is
/// not documented in docs/idp-behaviour.md [docs/idp-behaviour.md#how-to-read-this-file]: we send `application/scim+json`, which Entra's feedback forum says [docs/idp-behaviour.md#entra-headers-and-media-types] Entra's validator requires back.
enum Entra {
    static let headers: [(String, String)] = [("Accept", "application/scim+json")]

    static func client(_ label: String, region: IdPRegion = .eu2) throws -> IdPClient {
        try IdPClient.provision(label, region: region, headers: headers, bodyType: "application/scim+json",
                                expectedType: MediaType.scim)
    }

    static let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
}

extension IdPReplay {
    /// Entra's default dialect (no `aadOptscim062020` flag): capitalised ops, `"False"` strings, member removal by value
    /// array, `+`-encoded filters with `%22` or raw quotes, `excludedAttributes=members` [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#entra-default-dialect-patch][docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#entra-default-dialect-patch].
    @Suite struct EntraDefault {
        @Test func testConnectionIsAnEmptyListResponseNot404() throws {
            let entra = try Entra.client("entra-probe")
            let guid = "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
            // Both encodings have been seen [docs/idp-behaviour.md#microsoft-scim-validator][docs/idp-behaviour.md#entra-overview]: %22, and raw quotes after `+`.
            for target in ["/Users?filter=userName+eq+%22\(guid)%22", "/Users?filter=userName+eq+\"\(guid)\""] {
                let probe = try entra.send(.get, target)
                entra.expectList(probe, total: 0)
                #expect(canonical(probe.json) == canonical(parse("""
                    {"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]}
                    """)), "\(target)")
            }
            // "fetch a random user and group" to validate credentials [docs/idp-behaviour.md#entra-connection-test].
            entra.expectList(try entra.send(.get, "/Groups?excludedAttributes=members&filter=displayName+eq+%22\(guid)%22"), total: 0)
            entra.expectError(try entra.send(.get, "/Users?filter=userName+eq+%22\(guid)%22", authorization: .header("Bearer wrong")), 401)
            // Gallery apps with schema discovery read /Schemas when the provisioning page is saved [docs/idp-behaviour.md#entra-overview].
            let schemas = try entra.send(.get, "/Schemas")
            #expect(schemas.status == 200 && schemas.contentType == MediaType.scim)
            let ids = (schemas.json["Resources"]?.array ?? []).compactMap { $0["id"]?.string }
            #expect(ids.contains("urn:ietf:params:scim:schemas:core:2.0:User") && ids.contains(Entra.enterprise))
            #expect(schemas.json["totalResults"] == .number(JSONNumber(ids.count)))
            // Gallery validation: at least 25 requests per second [docs/idp-behaviour.md#microsoft-reference-tests]. Sequential lookups through the gateway, one
            // connection each (the debug build; the release build is faster).
            let started = monotonicMillis()
            for n in 0..<50 {
                entra.expectList(try entra.send(.get, "/Users?filter=userName+eq+%22probe-\(n)%22"), total: 0)
            }
            let elapsed = monotonicMillis() - started
            #expect(elapsed < 2000, "50 lookups took \(elapsed) ms")
            print("entra: 50 sequential filter lookups through the gateway in \(elapsed) ms")
        }

        /// The legacy documentation body: top-level nulls and an enterprise URN with a typo (`2.0User`) [docs/idp-behaviour.md#entra-overview].
        @Test func legacyCreateBodyWithNullsAndATypoURN() throws {
            let entra = try Entra.client("entra-legacy")
            let created = try entra.create("/Users", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
                 "externalId":"jyoung","userName":"Test_User_legacy@contoso.com","active":true,"addresses":null,
                 "displayName":"Jo Young","emails":[{"primary":true,"type":"work","value":"jyoung@contoso.com"}],
                 "meta":{"resourceType":"User"},"name":{"familyName":"Young","givenName":"Jo"},
                 "phoneNumbers":null,"preferredLanguage":null,"title":null,"department":null,"manager":null}
                """)
            #expect(withoutMeta(created.json) == canonical(parse("""
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"\(created.id)","externalId":"jyoung",
                 "userName":"Test_User_legacy@contoso.com","name":{"familyName":"Young","givenName":"Jo"},"displayName":"Jo Young",
                 "active":true,"emails":[{"value":"jyoung@contoso.com","type":"work","primary":true}]}
                """)))
            // The legacy example matches on the unquoted externalId [docs/idp-behaviour.md#entra-overview].
            #expect(entra.expectList(try entra.send(.get, "/Users?filter=externalId+eq+jyoung"), total: 1).first?["id"]?.string == created.id)
            #expect(try entra.quirks() == ["unquotedFilterValue": 1])
        }

        @Test func createMatchUpdateDisableReEnableDelete() throws {
            let entra = try Entra.client("entra-users")
            let userName = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
            // Match by the matching attribute, then create [docs/idp-behaviour.md#entra-overview].
            entra.expectList(try entra.send(.get, "/Users?filter=userName+eq+%22\(userName)%22"), total: 0)
            let created = try entra.create("/Users", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","\(Entra.enterprise)"],
                 "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"\(userName)","active":true,
                 "emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"},
                           {"type":"other","value":"alias@testuser.com"}],
                 "meta":{"resourceType":"User"},
                 "name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}
                """)
            let u = created.id
            #expect(created.json["roles"] == nil && created.json["active"] == true)
            // The other matching filters Entra documents [docs/idp-behaviour.md#entra-overview]: work email (case-insensitive), unquoted externalId.
            #expect(entra.expectList(try entra.send(.get, "/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22test_user_11bb11bb-cc22-dd33-ee44-55ff55ff55ff%40TESTUSER.com%22"),
                                     total: 1).first?["id"]?.string == u)
            #expect(entra.expectList(try entra.send(.get, "/Users?filter=externalId+eq+0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"), total: 1)
                .first?["id"]?.string == u)
            #expect(entra.expectList(try entra.send(.get, "/Users?filter=userName+eq+%22TEST_USER_00AA00AA-BB11-CC22-DD33-44EE44EE44EE%22"), total: 1)
                .first?["id"]?.string == u)

            // The default-dialect update [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#entra-default-dialect-patch]: capitalised ops, Add to attributes that had no value (a work
            // address the user lacks is created [docs/idp-behaviour.md#entra-default-dialect-patch]), the other email kept [docs/idp-behaviour.md#entra-default-dialect-patch].
            let patched = try entra.send(.patch, "/Users/\(u)", patchOps("""
                {"op":"Replace","path":"emails[type eq \\"work\\"].value","value":"AdeleV2@contoso.onmicrosoft.com"},
                {"op":"Replace","path":"addresses[type eq \\"work\\"].formatted","value":"18/2111"},
                {"op":"Add","path":"\(Entra.enterprise):department","value":"Retail"},
                {"op":"Replace","path":"name.givenName","value":"Gtfd"},
                {"op":"Replace","path":"name.familyName","value":"Pkqf"},
                {"op":"Replace","path":"displayName","value":"Pvlo"},
                {"op":"Replace","path":"externalId","value":"Eqpj"},
                {"op":"Replace","path":"\(Entra.enterprise):employeeNumber","value":"Eqpj"},
                {"op":"Add","path":"nickName","value":"Babs"},
                {"op":"Add","path":"addresses[type eq \\"work\\"].locality","value":"Redmond"},
                {"op":"Add","path":"addresses[type eq \\"work\\"].region","value":"WA"},
                {"op":"Add","path":"phoneNumbers[type eq \\"mobile\\"].value","value":"+1 425 555 0100"}
                """))
            entra.expectResource(patched)
            #expect(withoutMeta(patched.json) == canonical(parse("""
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","\(Entra.enterprise)"],"id":"\(u)","externalId":"Eqpj",
                 "userName":"\(userName)","name":{"formatted":"givenName familyName","familyName":"Pkqf","givenName":"Gtfd"},
                 "displayName":"Pvlo","nickName":"Babs","active":true,
                 "emails":[{"value":"AdeleV2@contoso.onmicrosoft.com","type":"work","primary":true},{"value":"alias@testuser.com","type":"other"}],
                 "phoneNumbers":[{"value":"+1 425 555 0100","type":"mobile"}],
                 "addresses":[{"formatted":"18/2111","locality":"Redmond","region":"WA","type":"work"}],
                 "\(Entra.enterprise)":{"employeeNumber":"Eqpj","department":"Retail"}}
                """)))
            // The work email moved: the old value no longer matches, the new one does.
            entra.expectList(try entra.send(.get, "/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22test_user_11bb11bb-cc22-dd33-ee44-55ff55ff55ff%40testuser.com%22"), total: 0)

            // Disable with the string "False" [docs/idp-behaviour.md#entra-overview]: inactive in the database, still returned by GET and by the filter [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#microsoft-scim-validator].
            let off = try entra.send(.patch, "/Users/\(u)", patchOps(#"{"op":"Replace","path":"active","value":"False"}"#))
            entra.expectResource(off)
            #expect(off.json["active"] == false)
            #expect(try entra.storedUser(u)?.active == false)
            #expect(try entra.send(.get, "/Users/\(u)").json["active"] == false)
            #expect(entra.expectList(try entra.send(.get, "/Users?filter=userName+eq+%22\(userName)%22"), total: 1).first?["active"] == false)
            // Re-enable in a request with other ops, as seen [docs/idp-behaviour.md#entra-disable-re-enable-and-delete].
            let on = try entra.send(.patch, "/Users/\(u)", patchOps("""
                {"op":"Replace","path":"active","value":"True"},{"op":"Replace","path":"title","value":"Buyer"}
                """))
            entra.expectResource(on)
            #expect(on.id == u && on.json["active"] == true && on.json["title"] == "Buyer")
            #expect(try entra.storedUser(u)?.active == true)

            // Hard delete 30 days after soft delete [docs/idp-behaviour.md#entra-overview]: 204, then 404 for GET and for a second DELETE [docs/idp-behaviour.md#microsoft-reference-tests][docs/idp-behaviour.md#microsoft-scim-validator].
            let deleted = try entra.send(.delete, "/Users/\(u)")
            #expect(deleted.status == 204 && deleted.response.body.isEmpty)
            entra.expectError(try entra.send(.get, "/Users/\(u)"), 404)
            entra.expectError(try entra.send(.delete, "/Users/\(u)"), 404)
            entra.expectError(try entra.send(.delete, "/Users/\(randomUUID())"), 404)
            #expect(try entra.quirks() == ["capitalisedPatchOp": 3, "booleanAsString": 2, "valueFilterCreatesElement": 1,
                                           "unquotedFilterValue": 1])
        }

        @Test func groupsCreatedEmptyThenPatchedAndNeverListedWithMembers() throws {
            let entra = try Entra.client("entra-groups", region: .us)
            let a = try entra.create("/Users", #"{"userName":"a@contoso.com","active":true}"#).id
            let b = try entra.create("/Users", #"{"userName":"b@contoso.com","active":true}"#).id
            entra.expectList(try entra.send(.get, "/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22"), total: 0)
            // Groups are created empty with Microsoft's ADSCIM schema URN and meta [docs/idp-behaviour.md#entra-overview].
            let created = try entra.create("/Groups", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                 "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}
                """)
            let g = created.id
            #expect(withoutMeta(created.json) == canonical(parse("""
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"\(g)","externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName"}
                """)))
            // Several memberships in one PATCH (gallery checklist [docs/idp-behaviour.md#entra-overview]), with `$ref: null` [docs/idp-behaviour.md#entra-overview].
            let added = try entra.send(.patch, "/Groups/\(g)", patchOps("""
                {"op":"Add","path":"members","value":[{"$ref":null,"value":"\(a)"},{"$ref":null,"value":"\(b)"}]}
                """))
            #expect([200, 204].contains(added.status))
            #expect(try entra.storedMembers(g) == [a, b].sorted())
            // `excludedAttributes=members`: no members key, on the lookup and on GET by id [docs/idp-behaviour.md#entra-overview].
            let looked = entra.expectList(try entra.send(.get, "/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22"), total: 1)
            #expect(looked.first?["id"]?.string == g && looked.first?["members"] == nil && looked.first?["displayName"] == "displayName")
            let byID = try entra.send(.get, "/Groups/\(g)?excludedAttributes=members")
            entra.expectResource(byID)
            #expect(byID.json["members"] == nil)
            #expect(try entra.send(.get, "/Groups/\(g)").json["members"]?.array?.count == 2)
            // Rename with a plain string value [docs/idp-behaviour.md#entra-default-dialect-patch].
            let renamed = try entra.send(.patch, "/Groups/\(g)", patchOps(#"{"op":"Replace","path":"displayName","value":"1879db59-updatedDisplayName"}"#))
            entra.expectResource(renamed)
            #expect(renamed.json["displayName"] == "1879db59-updatedDisplayName")
            // Remove by value array, default dialect [docs/idp-behaviour.md#entra-overview].
            let removed = try entra.send(.patch, "/Groups/\(g)", patchOps(#"{"op":"Remove","path":"members","value":[{"$ref":null,"value":"\#(a)"}]}"#))
            entra.expectResource(removed)
            #expect(removed.json["members"]?.array?.compactMap { $0["value"]?.string } == [b])
            #expect(try entra.storedMembers(g) == [b])
            // Group displayName is unique, case-insensitively: 409 uniqueness [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#microsoft-scim-validator].
            entra.expectError(try entra.send(.post, "/Groups", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"1879DB59-UPDATEDDISPLAYNAME"}"#),
                              409, scimType: "uniqueness")
            #expect(try entra.send(.delete, "/Groups/\(g)").status == 204)
            entra.expectError(try entra.send(.get, "/Groups/\(g)"), 404)
            #expect(try entra.quirks() == ["capitalisedPatchOp": 3, "memberRemovalByValueArray": 1])
        }
    }
}
