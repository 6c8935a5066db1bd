import Testing
import JSON
@testable import SCIMCore

private func create(_ body: String, _ schema: ResourceSchema = userSchema) throws(SCIMError) -> NormalisedResource {
    try schema.normaliseForCreate(json(body))
}

/// Create/replace bodies as real IdPs send them (docs/idp-behaviour.md), with exact normalised output.
@Suite struct IdPResourceBodies {
    @Test func okta_createUserDropsPasswordAndGroups() throws {  // [docs/idp-behaviour.md#okta-overview]
        let r = try create("""
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
         "name":{"givenName":"Test","familyName":"User"},
         "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
         "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}
        """)
        #expect(r.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"00ujl29u0le5T6Aj10h7","userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},"displayName":"Test User","locale":"en-US","active":true,"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}]}
        """)
        #expect(r.writeOnlyValues.text == "{\"password\":\"1mz050nq\"}")
        #expect(r.externalValues.isEmpty)
    }

    @Test func okta_createWithEnterpriseDepartment() throws {  // [docs/idp-behaviour.md#okta-aiw-overview]
        let r = try create("""
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
         "userName":"jane@example.com","title":"Account Executive",
         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}
        """)
        #expect(r.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"jane@example.com","title":"Account Executive","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}
        """)
    }

    @Test func okta_putIgnoresIdMetaWithNonISODatesAndGroups() throws {  // [docs/idp-behaviour.md#okta-overview]
        let r = try userSchema.normaliseForReplace(json("""
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"2819c223-7f76-453a-919d-413861904646","userName":"test.user@okta.local",
         "name":{"givenName":"Another","middleName":"Excited","familyName":"User"},
         "emails":[{"primary":true,"value":"test.user@okta.local","type":"work","display":"test.user@okta.local"}],
         "active":true,"groups":[],"password":"TkdFNVdIVkxhM2c9",
         "meta":{"created":"04-12-2018 00:00:00","lastModified":"04-12-2018 00:00:00","version":"v1.0"}}
        """), existing: storedUser)
        #expect(r.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local","name":{"givenName":"Another","middleName":"Excited","familyName":"User"},"active":true,"emails":[{"primary":true,"value":"test.user@okta.local","type":"work","display":"test.user@okta.local"}]}
        """)
    }

    @Test func entra_createUserWithMetaAndEmptyRoles() throws {  // [docs/idp-behaviour.md#entra-overview]
        let r = try create("""
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
         "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee","active":true,
         "emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
         "meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}
        """)
        #expect(r.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee","name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}]}
        """)
    }

    @Test func entra_legacyNullsAndTypoedExtensionURN() throws {  // [docs/idp-behaviour.md#entra-overview]
        let r = try create("""
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
         "userName":"UserName123","active":true,"addresses":null,"phoneNumbers":null,"preferredLanguage":null,"title":null,
         "department":null,"manager":null,"urn:ietf:params:scim:schemas:extension:enterprise:2.0User":{"department":"x"}}
        """)
        #expect(r.document.text == "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"UserName123\",\"active\":true}")
    }

    @Test func entra_validatorFullBodyWithStringPrimary() throws {  // [docs/idp-behaviour.md#entra-create-user]
        let r = try create("""
        {"active":true,
         "addresses":[{"type":"work","formatted":"ANUMAAOJUYMA","streetAddress":"046 Wisoky Route","locality":"AQCGFHJMVSXU","region":"CXLKAWAESJPV","postalCode":"dk0 2uz","primary":true,"country":"Gibraltar"}],
         "displayName":"QTZODTJXGFLR","emails":[{"type":"work","value":"bettie@parisian.com","primary":true}],"locale":"HNULHBRGUHWA",
         "name":{"givenName":"Aida","familyName":"Chandler","formatted":"Hyman","middleName":"Haylie","honorificPrefix":"Athena","honorificSuffix":"Brooks"},
         "nickName":"CRILRBTBOQOW",
         "phoneNumbers":[{"type":"work","value":"0-351-9540","primary":true},{"type":"mobile","value":"0-351-9540"},{"type":"fax","value":"0-351-9540"}],
         "preferredLanguage":"lu","profileUrl":"ROQHEOEENWTS",
         "roles":[{"primary":"True","display":"DJAPQUWELUHM","value":"DRIHDNWREZZV","type":"EHUDZVCXYJOO"}],
         "schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
         "timezone":"America/Goose_Bay","title":"OWOJJVOCUHKD",
         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"LLQMUPKSPYGA","department":"BYQJSWLGXQTB","costCenter":"UNPCDCIBUXTN","organization":"CHZYDKXGJHHJ","division":"OSLUHIBPTUGX","manager":{"value":"BGKAWQXOZREF"}},
         "userName":"isaias@bode.ca","userType":"QWQJIEJYZILC"}
        """)
        #expect(r.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"isaias@bode.ca","name":{"givenName":"Aida","familyName":"Chandler","formatted":"Hyman","middleName":"Haylie","honorificPrefix":"Athena","honorificSuffix":"Brooks"},"displayName":"QTZODTJXGFLR","nickName":"CRILRBTBOQOW","profileUrl":"ROQHEOEENWTS","title":"OWOJJVOCUHKD","userType":"QWQJIEJYZILC","preferredLanguage":"lu","locale":"HNULHBRGUHWA","timezone":"America/Goose_Bay","active":true,"emails":[{"type":"work","value":"bettie@parisian.com","primary":true}],"phoneNumbers":[{"type":"work","value":"0-351-9540","primary":true},{"type":"mobile","value":"0-351-9540"},{"type":"fax","value":"0-351-9540"}],"addresses":[{"type":"work","formatted":"ANUMAAOJUYMA","streetAddress":"046 Wisoky Route","locality":"AQCGFHJMVSXU","region":"CXLKAWAESJPV","postalCode":"dk0 2uz","primary":true,"country":"Gibraltar"}],"roles":[{"primary":true,"display":"DJAPQUWELUHM","value":"DRIHDNWREZZV","type":"EHUDZVCXYJOO"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"LLQMUPKSPYGA","costCenter":"UNPCDCIBUXTN","organization":"CHZYDKXGJHHJ","division":"OSLUHIBPTUGX","department":"BYQJSWLGXQTB","manager":{"value":"BGKAWQXOZREF"}}}
        """)
    }

    @Test func entra_referenceCodeRobustness() throws {  // [docs/idp-behaviour.md#microsoft-reference-tests]
        let r = try create("""
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
         "UserName":"UserName222","Active":"True","adreses":[{"city":"x"}],
         "Emails":[{"Primary":true,"Type":"work","Value":"a@b.c"}],
         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"Department":"Dept","Manager":{"Value":"m-1"}}}
        """)
        #expect(r.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"UserName222","active":true,"emails":[{"primary":true,"type":"work","value":"a@b.c"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Dept","manager":{"value":"m-1"}}}
        """)
        #expect(scimError { try create("{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"active\":true}") }
                == .invalidValue("required attribute 'userName' is missing"))
        #expect(scimError { try userSchema.normaliseForReplace(json("{\"displayName\":\"x\"}"), existing: storedUser) }
                == .invalidValue("required attribute 'userName' is missing"))
    }

    @Test func entra_groupCreateWithADSCIMSchema() throws {  // [docs/idp-behaviour.md#entra-overview]
        let r = try create("""
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
         "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}
        """, groupSchema)
        #expect(r.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName"}
        """)
        #expect(try r.members() == [])
    }

    @Test func okta_groupPutWithMembersGoesToMembershipRows() throws {  // [docs/idp-behaviour.md#okta-overview][docs/idp-behaviour.md#okta-aiw-group-push]
        let r = try groupSchema.normaliseForReplace(json("""
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"e9e30dba-f08f-4109-8486-d5c6a331660a","displayName":"Test SCIMv2",
         "members":[{"value":"00u1d3ng8mUIbB8nK0h8","display":"bob@ad.oktatest.com"}]}
        """), existing: storedGroup)
        #expect(r.document.text == "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"Test SCIMv2\"}")
        #expect(try r.members() == [MemberRef(value: "00u1d3ng8mUIbB8nK0h8", display: "bob@ad.oktatest.com")])
        let jc = try create("{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"Engineering\",\"members\":[{\"value\":\"u-1\"}]}", groupSchema)
        #expect(try jc.members() == [MemberRef(value: "u-1")])  // JumpCloud [docs/idp-behaviour.md#jumpcloud-patch-shapes][docs/idp-behaviour.md#jumpcloud-groups]
        #expect(scimError { try create("{\"displayName\":\"x\",\"members\":[{\"display\":\"no value\"}]}", groupSchema).members() }
                == .invalidValue("every member needs a non-empty 'value'"))
    }

    @Test func okta_createEmptyGroup() throws {  // [docs/idp-behaviour.md#okta-overview]
        let r = try create("{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"Test SCIMv2\",\"members\":[]}", groupSchema)
        #expect(r.document.text == "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"Test SCIMv2\"}")
        #expect(try r.members() == [])
        #expect(r.externalAttributesGiven == ["members"])
        #expect(try create("{\"displayName\":\"x\"}", groupSchema).externalAttributesGiven == [])
        #expect(scimError { try create("{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"members\":[]}", groupSchema) }
                == .invalidValue("required attribute 'displayName' is missing"))
    }

    @Test func jumpcloud_createUser() throws {  // [docs/idp-behaviour.md#jumpcloud-user-bodies]
        let r = try create("""
        {"active":true,
         "addresses":[{"country":"US","locality":"locality","postalCode":"80027","primary":true,"region":"region","streetAddress":"street-address","type":"work"}],
         "displayName":"displayname","emails":[{"primary":true,"type":"work","value":"testuser@example.io"}],
         "externalId":"66e2d689590450d073d2df3b","locale":"en-US","name":{"familyName":"lastname","givenName":"firstname"},
         "phoneNumbers":[{"primary":true,"type":"work","value":"tel:+1-555-555-5555"}],"preferredLanguage":"en-US",
         "schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
         "userName":"testuser@example.io"}
        """)
        #expect(r.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"66e2d689590450d073d2df3b","userName":"testuser@example.io","name":{"familyName":"lastname","givenName":"firstname"},"displayName":"displayname","preferredLanguage":"en-US","locale":"en-US","active":true,"emails":[{"primary":true,"type":"work","value":"testuser@example.io"}],"phoneNumbers":[{"primary":true,"type":"work","value":"tel:+1-555-555-5555"}],"addresses":[{"country":"US","locality":"locality","postalCode":"80027","primary":true,"region":"region","streetAddress":"street-address","type":"work"}]}
        """)
    }

    @Test func jumpcloud_putFullAndMinimalWithNull() throws {  // [docs/idp-behaviour.md#jumpcloud-user-bodies]
        let full = try userSchema.normaliseForReplace(json("""
        {"active":true,"addresses":[],"displayName":"John Doe","emails":[{"primary":true,"type":"work","value":"john.doe@example.io"}],
         "externalId":"664447f5c0c418f2d05e5318","id":"2819c223","locale":"en-US","name":{"familyName":"Doe","givenName":"John"},"phoneNumbers":[],
         "photos":[{"value":"https://img.example.com/2a27.png"}],"preferredLanguage":"en-US",
         "schemas":["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","urn:ietf:params:scim:schemas:core:2.0:User"],"title":"Captain",
         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"C-Suite"},"userName":"john.doe@example.com"}
        """), existing: storedUser)
        #expect(full.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"664447f5c0c418f2d05e5318","userName":"john.doe@example.com","name":{"familyName":"Doe","givenName":"John"},"displayName":"John Doe","title":"Captain","preferredLanguage":"en-US","locale":"en-US","active":true,"emails":[{"primary":true,"type":"work","value":"john.doe@example.io"}],"photos":[{"value":"https://img.example.com/2a27.png"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"C-Suite"}}
        """)
        let minimal = try userSchema.normaliseForReplace(json("""
        {"active":true,"emails":null,"id":"2819c223","name":{"familyName":"lastname","givenName":"firstname"},
         "schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"testuser@example.io"}
        """), existing: storedUser)
        #expect(minimal.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"testuser@example.io","name":{"familyName":"lastname","givenName":"firstname"},"active":true}
        """)
    }

    @Test func onelogin_templateRenderedBody() throws {  // [docs/idp-behaviour.md#onelogin-overview][docs/idp-behaviour.md#onelogin-template-bodies]
        let r = try create("""
        {"schemas":["urn:scim:schemas:core:2.0","urn:scim:schemas:extension:enterprise:2.0"],"id":null,
         "userName":"onelogin-test-user01","active":"true","prefferedLanguage":"en",
         "name":{"familyName":" User 01","givenName":"AAA Test","formatted":null},
         "emails":{"value":"user01@example.com","type":"work","primary":true},
         "addresses":[{"city":"Springfield","locality":"Springfield","type":"work"}],
         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"QA","manager":{"value":"m-9","managerId":"m-9","displayName":"Boss Person"}}}
        """)
        #expect(r.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"onelogin-test-user01","name":{"familyName":" User 01","givenName":"AAA Test"},"active":true,"emails":[{"value":"user01@example.com","type":"work","primary":true}],"addresses":[{"locality":"Springfield","type":"work"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"QA","manager":{"value":"m-9"}}}
        """)
    }
}

@Suite struct ResourcePipelineTests {
    @Test func caseVariantDuplicateKeysAreAmbiguous() {
        #expect(scimError { try create("{\"userName\":\"a\",\"USERNAME\":\"b\"}") } == .invalidSyntax("attribute 'userName' is given more than once"))
        #expect(scimError { try create("{\"userName\":\"a\",\"name\":{\"givenName\":\"a\",\"GivenName\":\"b\"}}") }
                == .invalidSyntax("sub-attribute 'name.givenName' is given more than once"))
    }

    @Test func primaryKeepsTheFirstTrue() throws {
        let r = try create("""
        {"userName":"a","emails":[{"value":"1@x","primary":true},{"value":"2@x","primary":true},{"value":"3@x","primary":false}]}
        """)
        #expect(r.document["emails"]?.description == "[{\"value\":\"1@x\",\"primary\":true},{\"value\":\"2@x\",\"primary\":false},{\"value\":\"3@x\",\"primary\":false}]")
    }

    @Test(arguments: [
        ("{\"userName\":42}", SCIMError.invalidValue("attribute 'userName' must be a string")),
        ("{\"userName\":\"a\",\"active\":\"yes\"}", .invalidValue("attribute 'active' must be a boolean")),
        ("{\"userName\":\"a\",\"name\":\"Babs\"}", .invalidValue("attribute 'name' must be a complex value (JSON object)")),
        ("{\"userName\":\"a\",\"emails\":[[{\"value\":\"x\"}]]}", .invalidValue("attribute 'emails' must not contain nested arrays")),
        ("{\"userName\":\"a\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":\"x\"}",
         .invalidSyntax("extension 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' must be a JSON object")),
        ("[]", .invalidSyntax("the resource must be a JSON object")),
    ])
    func typeErrors(body: String, expected: SCIMError) {
        #expect(scimError { try create(body) } == expected)
    }

    @Test func stampPutsIdFirstAndMetaLast() throws {
        let r = try create("{\"userName\":\"bjensen\",\"externalId\":\"b\"}")
        let meta = ResourceMeta(resourceType: "User", created: "2026-11-23T07:03:05Z", lastModified: "2026-11-23T07:03:05Z",
                                location: "https://scim.example.com/scim/v2/Users/u-1", version: "7")
        #expect(userSchema.stamp(r.document, id: "u-1", meta: meta).text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u-1","externalId":"b","userName":"bjensen","meta":{"resourceType":"User","created":"2026-11-23T07:03:05Z","lastModified":"2026-11-23T07:03:05Z","location":"https://scim.example.com/scim/v2/Users/u-1","version":"W/\\"7\\""}}
        """)
    }

    @Test func immutableOnReplace() throws {
        let ext = Schema(id: "urn:example:scim:acme:2.0:User", name: "Acme", attributes: [AttributeDefinition("badge", caseExact: true, mutability: .immutable)])
        let s = try #require(registry.adding(extension: ext, to: "User").resourceSchema("User"))
        let existing = object("{\"userName\":\"a\",\"urn:example:scim:acme:2.0:User\":{\"badge\":\"B-1\"}}")
        #expect(scimError { try s.normaliseForReplace(json("{\"userName\":\"a\",\"urn:example:scim:acme:2.0:User\":{\"badge\":\"B-2\"}}"), existing: existing) }
                == .mutability("attribute 'urn:example:scim:acme:2.0:User:badge' is immutable and already has a value"))
        let kept = try s.normaliseForReplace(json("{\"userName\":\"a\"}"), existing: existing)
        #expect(kept.document["urn:example:scim:acme:2.0:User"]?.description == "{\"badge\":\"B-1\"}")
    }

    /// Condeco wants preferredLanguage as ISO 639-1, plus costCenter, country, locality and phone numbers (issue 3).
    @Test func condeco_perTenantValidatorAndExtension() throws {
        let condeco = Schema(id: "urn:condeco:params:scim:schemas:extension:2.0:User", name: "CondecoUser", attributes: [
            AttributeDefinition("costCenter"), AttributeDefinition("country"), AttributeDefinition("locality"),
        ])
        let tenant = registry
            .modifying(schema: StandardSchemas.userURN, attribute: "preferredLanguage") { $0.validator = .iso639_1() }
            .adding(extension: condeco, to: "User")
        let s = try #require(tenant.resourceSchema("User"))
        let ok = try s.normaliseForCreate(json("""
        {"userName":"a@condeco.com","preferredLanguage":"de","phoneNumbers":[{"value":"+44 20 7946 0000","type":"work"}],
         "urn:condeco:params:scim:schemas:extension:2.0:User":{"CostCenter":"CC-1","country":"GB","locality":"London"}}
        """))
        #expect(ok.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:condeco:params:scim:schemas:extension:2.0:User"],"userName":"a@condeco.com","preferredLanguage":"de","phoneNumbers":[{"value":"+44 20 7946 0000","type":"work"}],"urn:condeco:params:scim:schemas:extension:2.0:User":{"costCenter":"CC-1","country":"GB","locality":"London"}}
        """)
        #expect(scimError { try s.normaliseForCreate(json("{\"userName\":\"a\",\"preferredLanguage\":\"en-US\"}")) }
                == .invalidValue("attribute 'preferredLanguage' must be a valid ISO 639-1 language code"))
        // The standard registry is untouched.
        #expect(scimError { try userSchema.normaliseForCreate(json("{\"userName\":\"a\",\"preferredLanguage\":\"en-US\"}")) } == nil)
        // PATCH goes through the same validator.
        #expect(scimError { try s.applyPatch(PatchRequest.parse(json("{\"Operations\":[{\"op\":\"replace\",\"path\":\"preferredLanguage\",\"value\":\"english\"}]}")), to: ok.document) }
                == .invalidValue("operation 0: attribute 'preferredLanguage' must be a valid ISO 639-1 language code"))
        // Discovery shows the tenant's extension.
        #expect(tenant.resourceTypes[0].schemaExtensions.map(\.schema) == [StandardSchemas.enterpriseUserURN, condeco.id])
        #expect(tenant.schemasListResponse(baseURL: "https://x/scim/v2").totalResults == 4)
    }

    /// Profit.co maps `department` and `jobTitle` (issue 3): a tenant extension carrying jobTitle, department from Enterprise.
    @Test func profitco_customExtension() throws {
        let ext = Schema(id: "urn:profitco:params:scim:schemas:extension:2.0:User", name: "ProfitCoUser", attributes: [AttributeDefinition("jobTitle")])
        let s = try #require(registry.adding(extension: ext, to: "User").resourceSchema("User"))
        let r = try s.normaliseForCreate(json("""
        {"userName":"p@profit.co","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"},
         "urn:profitco:params:scim:schemas:extension:2.0:User":{"jobTitle":"AE"}}
        """))
        #expect(try s.parseFilter("jobTitle eq \"ae\"").matches(r.document))
        #expect(try s.parseFilter("department eq \"sales\"").matches(r.document))
    }
}
