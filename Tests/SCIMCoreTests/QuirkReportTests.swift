import Testing
import JSON
@testable import SCIMCore

/// Quirk telemetry: each pipeline reports exactly the normalisations that fired (docs/idp-behaviour.md bodies), and
/// nothing for a plain RFC 7644 request.
@Suite struct QuirkReportTests {
    struct PatchCase: CustomTestStringConvertible, Sendable {
        var label: String
        var body: String
        var group = false
        var expected: [IdPQuirk]
        var testDescription: String { label }
    }

    static let patchCases: [PatchCase] = [
        PatchCase(label: "RFC 7644 replace with a path", body: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}
            """, expected: []),
        PatchCase(label: "Okta deactivate, no path [docs/idp-behaviour.md#okta-overview]", body: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}
            """, expected: []),
        PatchCase(label: "Okta group rename carrying id [docs/idp-behaviour.md#okta-overview]", body: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"e9e30dba-f08f-4109-8486-d5c6a331660a","displayName":"Test SCIMv2"}}]}
            """, group: true, expected: [.readOnlyKeysInNoPathValue]),
        PatchCase(label: "Okta replace members without schemas [docs/idp-behaviour.md#okta-groups-and-membership]", body: """
            {"Operations":[{"op":"replace","value":{"members":[],"id":"e9e30dba-f08f-4109-8486-d5c6a331660a","displayName":"Tour Guides"}}]}
            """, group: true, expected: [.readOnlyKeysInNoPathValue, .patchWithoutSchemas]),
        PatchCase(label: "Entra default disable [docs/idp-behaviour.md#entra-overview]", body: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}
            """, expected: [.capitalisedPatchOp, .booleanAsString]),
        PatchCase(label: "Entra default member removal [docs/idp-behaviour.md#entra-overview]", body: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}]}
            """, group: true, expected: [.capitalisedPatchOp, .memberRemovalByValueArray]),
        PatchCase(label: "Entra compliant dotted keys [docs/idp-behaviour.md#entra-overview]", body: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}]}
            """, expected: [.dottedKeysInNoPathValue]),
        PatchCase(label: "Entra add to a missing work address [docs/idp-behaviour.md#entra-default-dialect-patch]", body: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"addresses[type eq \\"other\\"].country","value":"DE"}]}
            """, expected: [.capitalisedPatchOp, .valueFilterCreatesElement]),
        PatchCase(label: "Validator manager as a bare id [docs/idp-behaviour.md#microsoft-scim-validator]", body: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"CBEQXYNPNAZS"}]}
            """, expected: [.complexValueAsString]),
        PatchCase(label: "Validator manager removal as {\"value\":\"\"} [docs/idp-behaviour.md#microsoft-scim-validator]", body: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":""}}]}
            """, expected: [.complexValueAsString]),
        PatchCase(label: "Entra reference code extra op key [docs/idp-behaviour.md#microsoft-reference-tests]", body: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"name":"addMember","op":"add","path":"members","value":[{"value":"f648f8d5ea4e4cd38e9c"}]}]}
            """, group: true, expected: [.extraOperationKeys]),
        PatchCase(label: "Unquoted value in a path filter [docs/idp-behaviour.md#entra-overview]", body: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"emails[type eq home]"}]}
            """, expected: [.unquotedFilterValue]),
    ]

    @Test(arguments: patchCases) func patchReportsWhatFired(_ c: PatchCase) throws {
        let request = try PatchRequest.parse(json(c.body))
        let result = try (c.group ? groupSchema : userSchema).applyPatch(request, to: c.group ? storedGroup : storedUser)
        #expect(Array(result.quirks) == c.expected)
    }

    @Test func createReportsWhatFired() throws {
        // OneLogin template: a string boolean and `emails` as one object [docs/idp-behaviour.md#onelogin-template-bodies]; Entra validator `roles[].primary` [docs/idp-behaviour.md#entra-create-user].
        let oneLogin = try userSchema.normaliseForCreate(json("""
            {"schemas":["urn:scim:schemas:core:2.0"],"userName":"ol","active":"true","emails":{"value":"ol@example.com","type":"work"}}
            """))
        #expect(Array(oneLogin.quirks) == [.booleanAsString, .singleValueForMultiValued])
        let entra = try userSchema.normaliseForCreate(json("""
            {"userName":"e","roles":[{"primary":"True","value":"r"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"BGKAWQXOZREF"}}
            """))
        #expect(Array(entra.quirks) == [.booleanAsString, .complexValueAsString])
        let plain = try userSchema.normaliseForReplace(json("""
            {"userName":"p","active":false,"emails":[{"value":"p@example.com","primary":true}],"password":"x","meta":{"created":"04-12-2018 00:00:00"}}
            """), existing: storedUser)
        #expect(plain.quirks.isEmpty)
    }

    @Test func listQueryReportsWhatFired() throws {
        let spc = ServiceProviderConfiguration()
        let legacy = try ListQuery(queryString: "filter=externalId+eq+jyoung&attributes=emails%5Btype+eq+%22work%22%5D",
                                   schema: userSchema, configuration: spc)
        #expect(Array(legacy.quirks) == [.unquotedFilterValue, .valueFilterInAttributesParameter])
        let okta = try ListQuery(queryString: "filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
                                 schema: userSchema, configuration: spc)
        #expect(okta.quirks.isEmpty)
        // true/false/null and numbers are literals, not unquoted strings.
        let literals = try ListQuery(queryString: "filter=active+eq+true+and+title+pr+or+nickName+eq+null", schema: userSchema,
                                     configuration: spc)
        #expect(literals.quirks.isEmpty)
    }

    @Test func quirkSetIteratesInDeclarationOrderAndEveryQuirkHasItsOwnBitAndSenders() {
        var set = QuirkSet()
        #expect(set.isEmpty)
        set.insert(.extraOperationKeys)
        set.insert(.capitalisedPatchOp)
        set.insert(.capitalisedPatchOp)
        #expect(Array(set) == [.capitalisedPatchOp, .extraOperationKeys])
        #expect(Set(IdPQuirk.allCases.map(\.bit)).count == IdPQuirk.allCases.count)
        #expect(Array(QuirkSet(IdPQuirk.allCases)) == IdPQuirk.allCases)
        #expect(IdPQuirk.allCases.allSatisfy { !$0.knownSenders.isEmpty })
    }
}
