import HTTPCore
import JSON
import TestSupport
import Testing

extension IdPReplay {
    /// Entra's compliant dialect (tenant URL flag `aadOptscim062020`) and the Microsoft SCIM Validator, which sends the
    /// same shapes [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#microsoft-scim-validator][docs/idp-behaviour.md#entra-create-user][docs/idp-behaviour.md#entra-compliant-dialect-patch], plus Microsoft's reference-code robustness tests [docs/idp-behaviour.md#microsoft-reference-tests].
    @Suite struct EntraCompliant {
        static let validatorUser = """
            {"active":true,
             "addresses":[{"type":"work","formatted":"ANUMAAOJUYMA","streetAddress":"046 Wisoky Route","locality":"AQCGFHJMVSXU","region":"CXLKAWAESJPV","postalCode":"dk0 2uz","primary":true,"country":"Gibraltar"}],
             "displayName":"QTZODTJXGFLR",
             "emails":[{"type":"work","value":"bettie@parisian.com","primary":true}],
             "locale":"HNULHBRGUHWA",
             "name":{"givenName":"Aida","familyName":"Chandler","formatted":"Hyman","middleName":"Haylie","honorificPrefix":"Athena","honorificSuffix":"Brooks"},
             "nickName":"CRILRBTBOQOW",
             "phoneNumbers":[{"type":"work","value":"0-351-9540","primary":true},{"type":"mobile","value":"0-351-9540"},{"type":"fax","value":"0-351-9540"}],
             "preferredLanguage":"lu","profileUrl":"ROQHEOEENWTS",
             "roles":[{"primary":"True","display":"DJAPQUWELUHM","value":"DRIHDNWREZZV","type":"EHUDZVCXYJOO"}],
             "schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
             "timezone":"America/Goose_Bay","title":"OWOJJVOCUHKD",
             "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"LLQMUPKSPYGA","department":"BYQJSWLGXQTB","costCenter":"UNPCDCIBUXTN","organization":"CHZYDKXGJHHJ","division":"OSLUHIBPTUGX","manager":{"value":"BGKAWQXOZREF"}},
             "userName":"isaias@bode.ca","userType":"QWQJIEJYZILC"}
            """

        @Test func validatorCreateCompareAndPatchUsers() throws {
            let entra = try Entra.client("entra-validator", region: .us)
            // The flag travels in the tenant URL; should Entra forward it as a parameter, it is ignored [docs/idp-behaviour.md#how-to-read-this-file].
            entra.expectList(try entra.send(.get, "/Users?aadOptscim062020&filter=userName+eq+%22isaias%40bode.ca%22"), total: 0)

            // "Create a new User", then fetch by filter and compare every attribute sent [docs/idp-behaviour.md#microsoft-scim-validator]: values come back
            // exactly as sent [docs/idp-behaviour.md#entra-overview], `roles[].primary:"True"` as the boolean true [docs/idp-behaviour.md#microsoft-scim-validator][docs/idp-behaviour.md#entra-create-user].
            let created = try entra.create("/Users", Self.validatorUser)
            let u = created.id
            var expected = try #require(parse(Self.validatorUser).object)
            expected["id"] = .string(u)
            expected["roles"] = [["primary": true, "display": "DJAPQUWELUHM", "value": "DRIHDNWREZZV", "type": "EHUDZVCXYJOO"]]
            let fetched = entra.expectList(try entra.send(.get, "/Users?filter=userName+eq+%22isaias%40bode.ca%22"), total: 1)
            #expect(withoutMeta(fetched.first ?? nil) == canonical(.object(expected)))
            #expect(withoutMeta(created.json) == canonical(.object(expected)))
            // Uppercase lookup of a lowercase userName [docs/idp-behaviour.md#microsoft-scim-validator]; the reference-attribute check Entra sends [docs/idp-behaviour.md#entra-overview].
            entra.expectList(try entra.send(.get, "/Users?filter=userName+eq+%22ISAIAS%40BODE.CA%22"), total: 1)
            let reference = entra.expectList(try entra.send(.get, "/Users?filter=id+eq+%22\(u)%22+and+manager+eq+%22BGKAWQXOZREF%22&attributes=id"),
                                             total: 1)
            #expect(reference.first?["id"]?.string == u && reference.first?["userName"] == nil)

            // A no-path replace with dotted and URN-qualified keys [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#entra-compliant-dialect-patch], next to a valuePath replace.
            let dotted = try entra.send(.patch, "/Users/\(u)", patchOps("""
                {"op":"replace","path":"emails[type eq \\"work\\"].value","value":"TestMhvaes@test.microsoft.com"},
                {"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}
                """))
            entra.expectResource(dotted)
            #expect(dotted.json["displayName"] == "Bjfe" && dotted.json["name"]?["givenName"] == "Kkom"
                    && dotted.json["name"]?["familyName"] == "Unua" && dotted.json["name"]?["middleName"] == "Haylie")
            #expect(dotted.json[Entra.enterprise]?["employeeNumber"] == "Aklq" && dotted.json[Entra.enterprise]?["department"] == "BYQJSWLGXQTB")
            #expect(dotted.json["emails"] == [["value": "TestMhvaes@test.microsoft.com", "type": "work", "primary": true]])

            // "Update User userName": a later GET shows it [docs/idp-behaviour.md#microsoft-scim-validator].
            entra.expectResource(try entra.send(.patch, "/Users/\(u)", #"{"Operations":[{"op":"replace","value":{"userName":"emilio@hermann.uk"}}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#))
            #expect(try entra.send(.get, "/Users/\(u)").json["userName"] == "emilio@hermann.uk")

            // "Patch User – Replace Attributes" [docs/idp-behaviour.md#microsoft-scim-validator].
            let replaced = try entra.send(.patch, "/Users/\(u)", patchOps("""
                {"op":"replace","path":"emails[type eq \\"work\\"].value","value":"lilian.graham@millszboncak.ca"},
                {"op":"replace","path":"phoneNumbers[type eq \\"work\\"].value","value":"07-272-0828"},
                {"op":"replace","path":"addresses[type eq \\"work\\"].streetAddress","value":"2809 Johns Walk"},
                {"op":"replace","path":"addresses[type eq \\"work\\"].locality","value":"KMYVNUJVVZWC"}
                """))
            entra.expectResource(replaced)
            #expect(replaced.json["phoneNumbers"]?.array?.compactMap { $0["value"]?.string } == ["07-272-0828", "0-351-9540", "0-351-9540"])
            #expect(replaced.json["addresses"]?[0]?["streetAddress"] == "2809 Johns Walk" && replaced.json["addresses"]?[0]?["postalCode"] == "dk0 2uz")

            // Manager: add, replace, remove; and the other shapes seen: a bare id, "" and {"value":""} [docs/idp-behaviour.md#entra-compliant-dialect-patch].
            let managerPath = "\(Entra.enterprise):manager"
            func manager(_ op: String, _ value: String?) throws -> JSONValue? {
                let body = value.map { #"{"op":"\#(op)","path":"\#(managerPath)","value":\#($0)}"# } ?? #"{"op":"\#(op)","path":"\#(managerPath)"}"#
                let r = try entra.send(.patch, "/Users/\(u)", patchOps(body))
                entra.expectResource(r)
                return r.json[Entra.enterprise]?["manager"]
            }
            #expect(try manager("add", #"{"value":"AXTKDLNRKMKT"}"#) == ["value": "AXTKDLNRKMKT"])
            #expect(try manager("replace", #"{"value":"CBEQXYNPNAZS"}"#) == ["value": "CBEQXYNPNAZS"])
            #expect(try manager("remove", nil) == nil)
            #expect(try manager("replace", #""5d1bd3a8-55c8-4c76-8a1e-6b1b0bd1c0f1""#) == ["value": "5d1bd3a8-55c8-4c76-8a1e-6b1b0bd1c0f1"])
            #expect(try manager("replace", #""""#) == nil)
            #expect(try manager("add", #""AXTKDLNRKMKT""#) == ["value": "AXTKDLNRKMKT"])
            #expect(try manager("replace", #"{"value":""}"#) == nil)

            // The long email valuePath batch [docs/idp-behaviour.md#microsoft-scim-validator]: adds create typed elements; a new primary clears the old one.
            let emails = try entra.send(.patch, "/Users/\(u)", patchOps("""
                {"op":"replace","path":"emails[type eq \\"work\\"].value","value":"oren.collins@white.com"},
                {"op":"add","path":"emails[type eq \\"home\\"].value","value":"angelita@mante.us"},
                {"op":"add","path":"emails[type eq \\"other\\"].value","value":"yasmine_bins@braun.us"},
                {"op":"replace","path":"emails[type eq \\"work\\"].display","value":"0TXBC2MOGUI0"},
                {"op":"add","path":"emails[type eq \\"work\\"].primary","value":false},
                {"op":"replace","path":"emails[type eq \\"home\\"].primary","value":true}
                """))
            entra.expectResource(emails)
            #expect(canonical(emails.json["emails"] ?? nil) == canonical(parse("""
                [{"value":"oren.collins@white.com","display":"0TXBC2MOGUI0","type":"work","primary":false},
                 {"value":"angelita@mante.us","type":"home","primary":true},{"value":"yasmine_bins@braun.us","type":"other"}]
                """)))

            // Preview tests: several ops in order, including remove, add, replace of the same attribute [docs/idp-behaviour.md#microsoft-scim-validator].
            let ordered = try entra.send(.patch, "/Users/\(u)", patchOps("""
                {"op":"remove","path":"preferredLanguage"},{"op":"add","path":"externalId","value":"ext-1"},
                {"op":"replace","path":"displayName","value":"Ordered"},
                {"op":"remove","path":"nickName"},{"op":"add","path":"nickName","value":"first"},{"op":"replace","path":"nickName","value":"second"}
                """))
            entra.expectResource(ordered)
            #expect(ordered.json["preferredLanguage"] == nil && ordered.json["externalId"] == "ext-1"
                    && ordered.json["displayName"] == "Ordered" && ordered.json["nickName"] == "second")

            // Disable, compliant form [docs/idp-behaviour.md#entra-overview]: inactive in the database, still returned; the validator checks by GET [docs/idp-behaviour.md#microsoft-scim-validator].
            let off = try entra.send(.patch, "/Users/\(u)", #"{"Operations":[{"op":"replace","path":"active","value":false}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#)
            entra.expectResource(off)
            #expect(try entra.storedUser(u)?.active == false)
            #expect(try entra.send(.get, "/Users/\(u)").json["active"] == false)
            let on = try entra.send(.patch, "/Users/\(u)", patchOps(#"{"op":"replace","path":"active","value":true}"#))
            #expect(on.id == u && on.json["active"] == true)
            #expect(try entra.storedUser(u)?.active == true)
            #expect(try entra.quirks() == ["booleanAsString": 1, "dottedKeysInNoPathValue": 1, "complexValueAsString": 4,
                                           "valueFilterCreatesElement": 1])
        }

        @Test func validatorGroupsAndPaging() throws {
            let entra = try Entra.client("entra-validator-groups")
            var users: [String] = []
            for n in 0..<7 { users.append(try entra.create("/Users", #"{"userName":"page\#(n)@validator.example","active":true}"#).id) }
            let g = try entra.create("/Groups", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"UHYYWKURUTZS","members":[{"value":"\#(users[0])"},{"value":"\#(users[1])"}]}"#).id
            // Case-insensitive displayName, raw quotes after `+` [docs/idp-behaviour.md#microsoft-scim-validator].
            #expect(entra.expectList(try entra.send(.get, "/Groups?filter=displayName+eq+\"uhyywkurutzs\""), total: 1).first?["id"]?.string == g)
            // Compliant member removal by filter [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#microsoft-scim-validator]; no-path replace of displayName and of externalId [docs/idp-behaviour.md#microsoft-scim-validator].
            entra.expectResource(try entra.send(.patch, "/Groups/\(g)", #"{"Operations":[{"op":"remove","path":"members[value eq \"\#(users[0])\"]"}]}"#))
            #expect(try entra.storedMembers(g) == [users[1]])
            let renamed = try entra.send(.patch, "/Groups/\(g)", #"{"Operations":[{"op":"replace","value":{"displayName":"MSADPJJZWBUS"}}]}"#)
            entra.expectResource(renamed)
            #expect(renamed.json["displayName"] == "MSADPJJZWBUS")
            let external = try entra.send(.patch, "/Groups/\(g)", #"{"Operations":[{"op":"replace","value":{"externalId":"c3b97a69-ee33-427b-8bc1-d661b7769314"}}]}"#)
            #expect(external.json["externalId"] == "c3b97a69-ee33-427b-8bc1-d661b7769314")
            // "Create a duplicate Group" → 409 [docs/idp-behaviour.md#microsoft-scim-validator].
            entra.expectError(try entra.send(.post, "/Groups", #"{"displayName":"msadpjjzwbus"}"#), 409, scimType: "uniqueness")
            // Reference-code Postman collection [docs/idp-behaviour.md#microsoft-reference-tests]: an extra op key and displayName in member objects, remove all
            // members without a value, and a full PUT.
            let named = try entra.send(.patch, "/Groups/\(g)", """
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"name":"addMember","op":"add","path":"members",
                 "value":[{"displayName":"page2","value":"\(users[2])"},{"displayName":"page3","value":"\(users[3])"}]}]}
                """)
            entra.expectResource(named)
            #expect(try entra.storedMembers(g) == [users[1], users[2], users[3]].sorted())
            entra.expectResource(try entra.send(.patch, "/Groups/\(g)", patchOps(#"{"op":"remove","path":"members"}"#)))
            #expect(try entra.storedMembers(g) == [])
            let put = try entra.send(.put, "/Groups/\(g)", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"\#(g)","displayName":"MSADPJJZWBUS","members":[{"value":"\#(users[4])"}]}"#)
            entra.expectResource(put)
            #expect(try entra.storedMembers(g) == [users[4]])

            // Gallery pagination [docs/idp-behaviour.md#microsoft-reference-tests]: startIndex as sent, itemsPerPage the page size, totalResults all.
            let p1 = entra.expectList(try entra.send(.get, "/Users?startIndex=1&count=5"), total: 7, startIndex: 1)
            let p2 = entra.expectList(try entra.send(.get, "/Users?startIndex=6&count=5"), total: 7, startIndex: 6)
            #expect(p1.count == 5 && p2.count == 2)
            #expect((p1 + p2).compactMap { $0["id"]?.string } == users)
            entra.expectList(try entra.send(.get, "/Users?startIndex=1&count=2"), total: 7, itemsPerPage: 2)
            let projected = entra.expectList(try entra.send(.get, "/Users?attributes=userName,emails&count=1"), total: 7)
            #expect(Set(projected.first?.object?.keys.map { $0 } ?? []) == ["schemas", "id", "userName"])
            #expect(try entra.quirks() == ["extraOperationKeys": 1, "patchWithoutSchemas": 3])
        }

        @Test func referenceCodeRobustness() throws {
            let entra = try Entra.client("entra-reference")
            // "active":"True" is stored and answered as a boolean [docs/idp-behaviour.md#microsoft-reference-tests].
            let stringy = try entra.create("/Users", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"True@contoso.com","active":"True"}"#)
            #expect(stringy.json["active"] == true)
            // Capitalised attribute names are matched case-insensitively and answered in canonical case [docs/idp-behaviour.md#microsoft-reference-tests].
            let capital = try entra.create("/Users", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","\(Entra.enterprise)"],"UserName":"Caps@contoso.com","DisplayName":"BobIsAmazing",
                 "Emails":[{"Primary":true,"Value":"caps@contoso.com","Type":"work"}],
                 "\(Entra.enterprise)":{"Department":"Sales","Manager":{"Value":"\(stringy.id)"}}}
                """)
            #expect(capital.json["userName"] == "Caps@contoso.com" && capital.json["emails"] == [["value": "caps@contoso.com", "type": "work", "primary": true]])
            #expect(capital.json[Entra.enterprise] == ["department": "Sales", "manager": ["value": .string(stringy.id)]])
            // Malformed requests are 400 with an Error body; a duplicate is 409 with a detail [docs/idp-behaviour.md#microsoft-reference-tests].
            entra.expectError(try entra.send(.post, "/Users", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"displayName":"no userName"}"#), 400)
            entra.expectError(try entra.send(.post, "/Users", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"#), 400, scimType: "invalidSyntax")
            entra.expectError(try entra.send(.post, "/Users", #"{"userName":"caps@CONTOSO.com"}"#), 409, scimType: "uniqueness")
            entra.expectError(try entra.send(.put, "/Users/\(capital.id)", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"displayName":"x"}"#), 400)
            // An unknown attribute (`adreses`) in a PUT is ignored [docs/idp-behaviour.md#microsoft-reference-tests].
            let typo = try entra.send(.put, "/Users/\(capital.id)", #"{"userName":"Caps@contoso.com","displayName":"BobIsAmazing","emails":[{"value":"caps@contoso.com","type":"work"}],"adreses":[{"type":"work"}]}"#)
            entra.expectResource(typo)
            #expect(typo.json["adreses"] == nil && typo.json["displayName"] == "BobIsAmazing")
            // `/Users/?filter=` with a trailing slash and a capitalised attribute name [docs/idp-behaviour.md#microsoft-reference-tests].
            #expect(entra.expectList(try entra.send(.get, "/Users/?filter=DisplayName+eq+%22BobIsAmazing%22"), total: 1).first?["id"]?.string == capital.id)
            // Unquoted values with and/or/co and capitalised sub-attributes [docs/idp-behaviour.md#microsoft-reference-tests].
            _ = try entra.create("/Users", #"{"userName":"emp@example.org","name":{"familyName":"Employee"},"emails":[{"value":"emp@example.org"}]}"#)
            let unquoted = try entra.send(.get, "/Users?filter=name.FamilyName%20eq%20Employee%20and%20(emails.Value%20co%20example.com%20or%20emails.Value%20co%20example.org)")
            #expect(entra.expectList(unquoted, total: 1).first?["userName"] == "emp@example.org")
            // A value filter inside `attributes` selects the attribute [docs/idp-behaviour.md#microsoft-reference-tests].
            let projected = entra.expectList(try entra.send(.get, "/Users?filter=userName+eq+%22caps%40contoso.com%22&attributes=emails%5Btype+eq+%22work%22%5D"),
                                             total: 1)
            #expect(projected.first?["emails"] == [["value": "caps@contoso.com", "type": "work"]] && projected.first?["userName"] == nil)
            #expect(try entra.quirks() == ["booleanAsString": 1, "unquotedFilterValue": 1, "valueFilterInAttributesParameter": 1])
        }
    }
}
