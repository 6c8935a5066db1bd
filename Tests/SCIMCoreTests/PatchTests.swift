import Testing
import JSON
@testable import SCIMCore

private let patchOpSchemas = "\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"]"

/// A small user for exact-output PATCH assertions.
let patchUser = object("""
{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"bjensen",
 "name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,
 "emails":[{"value":"bjensen@example.com","type":"work","primary":true}],
 "addresses":[{"type":"work","streetAddress":"100 Universal City Plaza","locality":"Hollywood","primary":true},{"type":"home","streetAddress":"456 Hollywood Blvd"}]}
""")

private func ops(_ operations: String) -> String { "{\(patchOpSchemas),\"Operations\":[\(operations)]}" }

@Suite struct RFC7644PatchExamples {
    @Test func addMembersToGroup_3_5_2_1() throws {
        let r = try patch(ops("""
        {"op":"add","path":"members","value":[{"display":"Babs Jensen","$ref":"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646","value":"2819c223-7f76-453a-919d-413861904646"}]}
        """), storedGroup, schema: groupSchema)
        #expect(r.membershipChanges == [.add([MemberRef(value: "2819c223-7f76-453a-919d-413861904646", display: "Babs Jensen",
                                                        ref: "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646")])])
        #expect(!r.documentChanged)
        #expect(r.document == storedGroup)
    }

    @Test func addWithoutPath_3_5_2_1() throws {
        let body = ops("""
        {"op":"add","value":{"emails":[{"value":"babs@jensen.org","type":"home"}],"nickname":"Babs"}}
        """)
        let r = try patch(body, patchUser)
        #expect(r.document["emails"]?.description == "[{\"value\":\"bjensen@example.com\",\"type\":\"work\",\"primary\":true},{\"value\":\"babs@jensen.org\",\"type\":\"home\"}]")
        #expect(r.document["nickName"] == "Babs")
        #expect(r.changedAttributes == ["emails", "nickName"])
        // Adding values that are already there changes nothing (RFC 7644 §3.5.2.1).
        let again = try patch(body, r.document)
        #expect(!again.documentChanged)
        #expect(again.changedAttributes == [])
    }

    @Test func removeAllMembers_3_5_2_2() throws {
        let r = try patch(ops("{\"op\":\"remove\",\"path\":\"members\"}"), storedGroup, schema: groupSchema)
        #expect(r.membershipChanges == [.removeAll])
    }

    @Test func removeOneMemberByFilter_3_5_2_2() throws {
        let r = try patch(ops("{\"op\":\"remove\",\"path\":\"members[value eq \\\"2819c223-7f76-...413861904646\\\"]\"}"),
                          storedGroup, schema: groupSchema)
        #expect(r.membershipChanges == [.remove(values: ["2819c223-7f76-...413861904646"])])
    }

    @Test func removeComplexValuesByFilter_3_5_2_2() throws {
        let r = try patch(ops("{\"op\":\"remove\",\"path\":\"emails[type eq \\\"work\\\" and value ew \\\"example.com\\\"]\"}"))
        #expect(r.document["emails"]?.description == "[{\"value\":\"babs@jensen.org\",\"type\":\"home\"}]")
        #expect(r.changedAttributes == ["emails"])
        // Removing the last value leaves the attribute unassigned.
        let r2 = try patch(ops("{\"op\":\"remove\",\"path\":\"emails[type eq \\\"work\\\"]\"}"), patchUser)
        #expect(r2.document["emails"] == nil)
    }

    @Test func removeByFilterThenAddMember_3_5_2_2() throws {
        let r = try patch(ops("""
        {"op":"remove","path":"members[value eq \\"2819c223...919d-413861904646\\"]"},
        {"op":"add","path":"members","value":[{"display":"James Smith","$ref":"https://example.com/v2/Users/08e1d05d...473d93df9210","value":"08e1d05d...473d93df9210"}]}
        """), storedGroup, schema: groupSchema)
        #expect(r.membershipChanges == [
            .remove(values: ["2819c223...919d-413861904646"]),
            .add([MemberRef(value: "08e1d05d...473d93df9210", display: "James Smith", ref: "https://example.com/v2/Users/08e1d05d...473d93df9210")]),
        ])
    }

    @Test func replaceAllMembersWithRemoveThenAdd_3_5_2_2() throws {
        let r = try patch(ops("""
        {"op":"remove","path":"members"},
        {"op":"add","path":"members","value":[{"display":"Babs Jensen","$ref":"https://example.com/v2/Users/2819c223...413861904646","value":"2819c223...413861904646"},
                                              {"display":"James Smith","$ref":"https://example.com/v2/Users/08e1d05d...473d93df9210","value":"08e1d05d...473d93df9210"}]}
        """), storedGroup, schema: groupSchema)
        #expect(r.membershipChanges == [.removeAll, .add([
            MemberRef(value: "2819c223...413861904646", display: "Babs Jensen", ref: "https://example.com/v2/Users/2819c223...413861904646"),
            MemberRef(value: "08e1d05d...473d93df9210", display: "James Smith", ref: "https://example.com/v2/Users/08e1d05d...473d93df9210"),
        ])])
    }

    @Test func replaceMembersInOneOperation_3_5_2_3() throws {
        let r = try patch(ops("""
        {"op":"replace","path":"members","value":[{"display":"Babs Jensen","$ref":"https://example.com/v2/Users/2819c223...413861904646","value":"2819c223...413861904646"},
                                                  {"display":"James Smith","$ref":"https://example.com/v2/Users/08e1d05d...473d93df9210","value":"08e1d05d...473d93df9210"}]}
        """), storedGroup, schema: groupSchema)
        #expect(r.membershipChanges == [.replaceAll([
            MemberRef(value: "2819c223...413861904646", display: "Babs Jensen", ref: "https://example.com/v2/Users/2819c223...413861904646"),
            MemberRef(value: "08e1d05d...473d93df9210", display: "James Smith", ref: "https://example.com/v2/Users/08e1d05d...473d93df9210"),
        ])])
    }

    @Test func replaceWorkAddress_3_5_2_3() throws {
        let r = try patch(ops("""
        {"op":"replace","path":"addresses[type eq \\"work\\"]","value":{"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood",
         "region":"CA","postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\\nHollywood, CA 91608 US","primary":true}}
        """), patchUser)
        #expect(r.document["addresses"]?.description == """
        [{"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\\nHollywood, CA 91608 US","primary":true},{"type":"home","streetAddress":"456 Hollywood Blvd"}]
        """)
    }

    @Test func replaceStreetAddressViaFilter_3_5_2_3() throws {
        let r = try patch(ops("{\"op\":\"replace\",\"path\":\"addresses[type eq \\\"work\\\"].streetAddress\",\"value\":\"1010 Broadway Ave\"}"), patchUser)
        #expect(r.document["addresses"]?.description == """
        [{"type":"work","streetAddress":"1010 Broadway Ave","locality":"Hollywood","primary":true},{"type":"home","streetAddress":"456 Hollywood Blvd"}]
        """)
    }

    @Test func replaceWithoutPath_3_5_2_3() throws {
        let r = try patch(ops("""
        {"op":"replace","value":{"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],"nickname":"Babs"}}
        """), patchUser)
        #expect(r.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],"addresses":[{"type":"work","streetAddress":"100 Universal City Plaza","locality":"Hollywood","primary":true},{"type":"home","streetAddress":"456 Hollywood Blvd"}],"nickName":"Babs"}
        """)
    }
}

@Suite struct PatchSemanticsTests {
    @Test func primaryTrueClearsOtherPrimaries() throws {
        let r = try patch(ops("{\"op\":\"add\",\"path\":\"emails\",\"value\":[{\"value\":\"new@example.com\",\"type\":\"other\",\"primary\":true}]}"), patchUser)
        #expect(r.document["emails"]?.description == "[{\"value\":\"bjensen@example.com\",\"type\":\"work\",\"primary\":false},{\"value\":\"new@example.com\",\"type\":\"other\",\"primary\":true}]")
    }

    @Test func noOpLeavesDocumentUnchanged() throws {
        let r = try patch(ops("{\"op\":\"replace\",\"path\":\"active\",\"value\":true},{\"op\":\"remove\",\"path\":\"title\"}"), patchUser)
        #expect(!r.documentChanged)
        #expect(r.changedAttributes == [])
        #expect(r.newActive == nil)
    }

    @Test func complexReplaceKeepsUnmentionedSubAttributes() throws {
        let r = try patch(ops("{\"op\":\"replace\",\"path\":\"name\",\"value\":{\"givenName\":\"Babs\"}}"), patchUser)
        #expect(r.document["name"]?.description == "{\"givenName\":\"Babs\",\"familyName\":\"Jensen\"}")
        let r2 = try patch(ops("{\"op\":\"remove\",\"path\":\"name.givenName\"},{\"op\":\"remove\",\"path\":\"name.familyName\"}"), patchUser)
        #expect(r2.document["name"] == nil)
    }

    @Test func nullValueUnassigns() throws {
        let r = try patch(ops("{\"op\":\"replace\",\"path\":\"emails\",\"value\":null}"), patchUser)
        #expect(r.document["emails"] == nil)
        let title = try patch(ops("{\"op\":\"add\",\"path\":\"title\",\"value\":\"Boss\"},{\"op\":\"add\",\"path\":\"title\",\"value\":null}"), patchUser)
        #expect(title.document["title"] == nil)
        #expect(!title.documentChanged)
        // Adding no values to a multi-valued attribute changes nothing.
        #expect(try !patch(ops("{\"op\":\"add\",\"path\":\"emails\",\"value\":[]}"), patchUser).documentChanged)
    }

    @Test func writeOnlyPasswordNeverEntersTheDocument() throws {
        let r = try patch(ops("{\"op\":\"replace\",\"path\":\"password\",\"value\":\"t1meMa$heen\"}"), patchUser)
        #expect(!r.documentChanged)
        #expect(r.writeOnlyValues.text == "{\"password\":\"t1meMa$heen\"}")
    }

    @Test func removeMembersByGeneralFilterIsHandedToStorage() throws {
        let r = try patch(ops("{\"op\":\"remove\",\"path\":\"members[type eq \\\"Group\\\"]\"}"), storedGroup, schema: groupSchema)
        #expect(r.membershipChanges.count == 1)
        guard case .removeMatching(let f) = r.membershipChanges[0] else { Issue.record("expected removeMatching"); return }
        #expect(f.description == "members.type eq \"Group\"")
        #expect(f.matchesElement(json("{\"value\":\"g1\",\"type\":\"group\"}")))
        let ors = try patch(ops("{\"op\":\"remove\",\"path\":\"members[value eq \\\"a\\\" or value eq \\\"b\\\"]\"}"), storedGroup, schema: groupSchema)
        #expect(ors.membershipChanges == [.remove(values: ["a", "b"])])
    }

    @Test func immutableAttributeMayOnlyBeSetOnce() throws {
        let ext = Schema(id: "urn:example:scim:acme:2.0:User", name: "Acme", attributes: [
            AttributeDefinition("badge", caseExact: true, mutability: .immutable),
        ])
        let s = try #require(registry.adding(extension: ext, to: "User").resourceSchema("User"))
        let set = try s.applyPatch(PatchRequest.parse(json(ops("{\"op\":\"add\",\"path\":\"badge\",\"value\":\"B-1\"}"))), to: patchUser)
        #expect(set.document["urn:example:scim:acme:2.0:User"]?.description == "{\"badge\":\"B-1\"}")
        #expect(set.changedAttributes == ["schemas", "urn:example:scim:acme:2.0:User:badge"])
        #expect(scimError { try s.applyPatch(PatchRequest.parse(json(ops("{\"op\":\"replace\",\"path\":\"badge\",\"value\":\"B-2\"}"))), to: set.document) }
                == .mutability("operation 0: attribute 'urn:example:scim:acme:2.0:User:badge' is immutable and already has a value"))
        // The same value again is not a change, so it is allowed.
        #expect(scimError { try s.applyPatch(PatchRequest.parse(json(ops("{\"op\":\"replace\",\"path\":\"badge\",\"value\":\"B-1\"}"))), to: set.document) } == nil)
    }

    @Test func atomicAllOrNothing() throws {
        let body = ops("{\"op\":\"replace\",\"path\":\"title\",\"value\":\"Boss\"},{\"op\":\"replace\",\"path\":\"id\",\"value\":\"x\"}")
        #expect(scimError { try patch(body, patchUser) } == .mutability("operation 1: attribute 'id' is readOnly"))
    }

    @Test(arguments: [
        ("{\"op\":\"replace\",\"path\":\"id\",\"value\":\"x\"}", SCIMError.mutability("operation 0: attribute 'id' is readOnly")),
        ("{\"op\":\"replace\",\"path\":\"meta.created\",\"value\":\"2011-05-13T04:42:34Z\"}", .mutability("operation 0: attribute 'meta.created' is readOnly")),
        ("{\"op\":\"add\",\"path\":\"groups\",\"value\":[{\"value\":\"g\"}]}", .mutability("operation 0: attribute 'groups' is readOnly")),
        ("{\"op\":\"remove\"}", .noTarget("operation 0: remove needs a 'path'")),
        ("{\"op\":\"replace\",\"path\":\"foo\",\"value\":\"x\"}", .invalidPath("operation 0: 'foo' is not an attribute of this resource type")),
        ("{\"op\":\"replace\",\"path\":\"emails[type eq \\\"work\\\"\",\"value\":\"x\"}", .invalidPath("expected ']' but found end of filter at position 21")),
        ("{\"op\":\"replace\",\"path\":\"emails[value co \\\"zzz\\\"].display\",\"value\":\"x\"}", .noTarget("operation 0: no value of 'emails' matches the filter")),
        ("{\"op\":\"replace\",\"path\":\"active\",\"value\":\"maybe\"}", .invalidValue("operation 0: attribute 'active' must be a boolean")),
        ("{\"op\":\"remove\",\"path\":\"userName\"}", .invalidValue("required attribute 'userName' cannot be removed")),
        ("{\"op\":\"move\",\"path\":\"title\"}", .invalidSyntax("operation 0 has an unknown op; use add, remove or replace")),
        ("{\"op\":\"add\",\"path\":\"title\"}", .invalidSyntax("operation 0: add needs a 'value'")),
        ("{\"op\":\"replace\",\"value\":\"x\"}", .invalidValue("operation 0: without a 'path' the value must be a JSON object of attributes")),
        ("{\"op\":\"replace\",\"path\":\"name.nope\",\"value\":\"x\"}", .invalidPath("operation 0: 'name.nope' names an unknown sub-attribute")),
        ("{\"op\":\"replace\",\"path\":\"emails[nope eq 1]\",\"value\":\"x\"}", .invalidPath("operation 0: 'nope' names an unknown sub-attribute")),
        ("\"not an object\"", .invalidSyntax("operation 0 must be a JSON object")),
    ])
    func errors(operation: String, expected: SCIMError) {
        #expect(scimError { try patch(ops(operation), patchUser) } == expected)
    }

    @Test func bodyLevelErrors() {
        #expect(scimError { try PatchRequest.parse(json("{\"Operations\":[]}")) } == .invalidSyntax("'Operations' is empty"))
        #expect(scimError { try PatchRequest.parse(json("{\"schemas\":[\"x\"],\"Operations\":[{\"op\":\"remove\",\"path\":\"title\"}]}")) }
                == .invalidSyntax("'schemas' must contain urn:ietf:params:scim:api:messages:2.0:PatchOp"))
        #expect(scimError { try PatchRequest.parse(json("[]")) } == .invalidSyntax("the PATCH body must be a JSON object"))
        #expect(scimError { try PatchRequest.parse(json("{\(patchOpSchemas)}")) } == .invalidSyntax("the PATCH body needs an 'Operations' array"))
        let many = (0..<3).map { _ in "{\"op\":\"remove\",\"path\":\"title\"}" }.joined(separator: ",")
        #expect(scimError { try PatchRequest.parse(json(ops(many)), maxOperations: 2) } == .tooMany("more than 2 PATCH operations"))
        #expect(scimError { try patch(ops("{\"op\":\"replace\",\"path\":\"members[value eq \\\"a\\\"].display\",\"value\":\"x\"}"), storedGroup, schema: groupSchema) }
                == .invalidPath("operation 0: sub-attributes of 'members' cannot be patched one by one"))
    }
}

/// Each PATCH quirk from docs/idp-behaviour.md, with the real request body.
@Suite struct IdPPatchQuirks {
    @Test func okta_deactivateAndReactivateWithNoPathReplace() throws {  // [docs/idp-behaviour.md#okta-overview][docs/idp-behaviour.md#okta-deactivate-and-reactivate]
        let off = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}
        """, patchUser)
        #expect(off.document["active"] == false)
        #expect(off.newActive == false)
        #expect(off.changedAttributes == ["active"])
        let on = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}
        """, off.document)
        #expect(on.newActive == true)
        #expect(on.document == patchUser)
    }

    @Test func okta_groupRenameCarryingId() throws {  // [docs/idp-behaviour.md#okta-overview]
        let r = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"e9e30dba-f08f-4109-8486-d5c6a331660a","displayName":"Test SCIMv2"}}]}
        """, storedGroup, schema: groupSchema)
        #expect(r.newDisplayName == "Test SCIMv2")
        #expect(r.document["id"] == "e9e30dba-f08f-4109-8486-d5c6a331660a")
        #expect(r.membershipChanges == [])
    }

    @Test func okta_membershipDelta() throws {  // [docs/idp-behaviour.md#okta-overview]
        let r = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
         "Operations":[
           {"op":"remove","path":"members[value eq \\"89bb1940-b905-4575-9e7f-6f887cfb368e\\"]"},
           {"op":"add","path":"members","value":[{"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173","display":"test.user@okta.local"}]}]}
        """, storedGroup, schema: groupSchema)
        #expect(r.membershipChanges == [.remove(values: ["89bb1940-b905-4575-9e7f-6f887cfb368e"]),
                                        .add([MemberRef(value: "23a35c27-23d3-4c03-b4c5-6443c09e7173", display: "test.user@okta.local")])])
    }

    @Test func okta_replaceMembersEmptyClearsGroup() throws {  // [docs/idp-behaviour.md#okta-groups-and-membership]
        let r = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"members","value":[]}]}
        """, storedGroup, schema: groupSchema)
        #expect(r.membershipChanges == [.replaceAll([])])
    }

    @Test func okta_noPathReplaceWithMembersAndNoSchemas() throws {  // [docs/idp-behaviour.md#okta-groups-and-membership]
        let r = try patch("""
        {"Operations":[{"op":"replace","value":{"members":[],"id":"e9e30dba-f08f-4109-8486-d5c6a331660a","displayName":"Tour Guides EU"}}]}
        """, storedGroup, schema: groupSchema)
        #expect(r.membershipChanges == [.replaceAll([])])
        #expect(r.newDisplayName == "Tour Guides EU")
    }

    @Test func entra_defaultDialectCapitalisedOps() throws {  // [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#entra-default-dialect-patch]
        let r = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
         "Operations":[
          {"op":"Replace","path":"emails[type eq \\"work\\"].value","value":"AdeleV2@contoso.onmicrosoft.com"},
          {"op":"Replace","path":"addresses[type eq \\"work\\"].formatted","value":"18/2111"},
          {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Retail"},
          {"op":"Replace","path":"name.givenName","value":"Gtfd"},
          {"op":"Replace","path":"name.familyName","value":"Pkqf"},
          {"op":"Replace","path":"displayName","value":"Pvlo"},
          {"op":"Replace","path":"externalId","value":"Eqpj"},
          {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Eqpj"},
          {"op":"Add","path":"nickName","value":"Babs"}
         ]}
        """, patchUser)
        #expect(r.document.text == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"id":"u1","userName":"bjensen","name":{"givenName":"Gtfd","familyName":"Pkqf"},"active":true,"emails":[{"value":"AdeleV2@contoso.onmicrosoft.com","type":"work","primary":true}],"addresses":[{"type":"work","streetAddress":"100 Universal City Plaza","locality":"Hollywood","primary":true,"formatted":"18/2111"},{"type":"home","streetAddress":"456 Hollywood Blvd"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Retail","employeeNumber":"Eqpj"},"displayName":"Pvlo","externalId":"Eqpj","nickName":"Babs"}
        """)
        #expect(r.newExternalId == "Eqpj")
        #expect(r.changed("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"))
    }

    @Test func entra_disableWithStringBoolean() throws {  // [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#microsoft-scim-validator]
        let r = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}
        """, patchUser)
        #expect(r.document["active"] == false)
        #expect(r.newActive == false)
        let back = try patch("{\"Operations\":[{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"True\"}]}", r.document)
        #expect(back.document["active"] == true)
    }

    @Test func entra_compliantNoPathDottedAndURNKeys() throws {  // [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#entra-compliant-dialect-patch]
        let r = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
         "Operations":[
          {"op":"replace","path":"emails[type eq \\"work\\"].value","value":"TestMhvaes@test.microsoft.com"},
          {"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
             "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}]}
        """, patchUser)
        #expect(r.document["emails"]?.description == "[{\"value\":\"TestMhvaes@test.microsoft.com\",\"type\":\"work\",\"primary\":true}]")
        #expect(r.document["name"]?.description == "{\"givenName\":\"Kkom\",\"familyName\":\"Unua\"}")
        #expect(r.document["displayName"] == "Bjfe")
        #expect(r.document["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]?.description == "{\"employeeNumber\":\"Aklq\"}")
    }

    @Test func entra_validatorUpdateUserName() throws {  // [docs/idp-behaviour.md#microsoft-scim-validator]
        let r = try patch("""
        {"Operations":[{"op":"replace","value":{"userName":"emilio@hermann.uk"}}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}
        """, patchUser)
        #expect(r.newUserName == "emilio@hermann.uk")
    }

    @Test func entra_validatorReplaceAttributesCreatesMissingElements() throws {  // [docs/idp-behaviour.md#microsoft-scim-validator][docs/idp-behaviour.md#entra-default-dialect-patch]
        let r = try patch("""
        {"Operations":[
          {"op":"replace","path":"emails[type eq \\"work\\"].value","value":"lilian.graham@millszboncak.ca"},
          {"op":"replace","path":"phoneNumbers[type eq \\"work\\"].value","value":"07-272-0828"},
          {"op":"replace","path":"addresses[type eq \\"work\\"].streetAddress","value":"2809 Johns Walk"},
          {"op":"replace","path":"addresses[type eq \\"work\\"].locality","value":"KMYVNUJVVZWC"}]}
        """, patchUser)
        #expect(r.document["emails"]?.description == "[{\"value\":\"lilian.graham@millszboncak.ca\",\"type\":\"work\",\"primary\":true}]")
        #expect(r.document["phoneNumbers"]?.description == "[{\"type\":\"work\",\"value\":\"07-272-0828\"}]")
        #expect(r.document["addresses"]?[0]?.description == "{\"type\":\"work\",\"streetAddress\":\"2809 Johns Walk\",\"locality\":\"KMYVNUJVVZWC\",\"primary\":true}")
    }

    @Test func entra_addToMissingElementBuildsOneElement() throws {  // [docs/idp-behaviour.md#entra-default-dialect-patch]
        var noAddresses = patchUser
        noAddresses["addresses"] = nil
        let r = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
          {"op":"Add","path":"addresses[type eq \\"work\\"].formatted","value":"1 Main St\\nTown"},
          {"op":"Add","path":"addresses[type eq \\"work\\"].locality","value":"Town"},
          {"op":"Add","path":"addresses[type eq \\"work\\"].region","value":"WA"},
          {"op":"Add","path":"phoneNumbers[type eq \\"mobile\\"].value","value":"+1 555 0100"}]}
        """, noAddresses)
        #expect(r.document["addresses"]?.description == "[{\"type\":\"work\",\"formatted\":\"1 Main St\\nTown\",\"locality\":\"Town\",\"region\":\"WA\"}]")
        #expect(r.document["phoneNumbers"]?.description == "[{\"type\":\"mobile\",\"value\":\"+1 555 0100\"}]")
    }

    @Test func entra_replaceWorkEmailKeepsOtherEmails() throws {  // [docs/idp-behaviour.md#entra-default-dialect-patch]
        let r = try patch("""
        {"Operations":[{"op":"Replace","path":"emails[type eq \\"work\\"].value","value":"new@contoso.com"}]}
        """, storedUser)
        #expect(r.document["emails"]?.description == "[{\"value\":\"new@contoso.com\",\"type\":\"work\",\"primary\":true},{\"value\":\"babs@jensen.org\",\"type\":\"home\"}]")
    }

    @Test func entra_longEmailValuePathBatch() throws {  // [docs/idp-behaviour.md#microsoft-scim-validator]
        let r = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
          {"op":"replace","path":"emails[type eq \\"work\\"].value","value":"oren.collins@white.com"},
          {"op":"add","path":"emails[type eq \\"home\\"].value","value":"angelita@mante.us"},
          {"op":"add","path":"emails[type eq \\"other\\"].value","value":"yasmine_bins@braun.us"},
          {"op":"replace","path":"emails[type eq \\"work\\"].display","value":"0TXBC2MOGUI0"},
          {"op":"add","path":"emails[type eq \\"work\\"].primary","value":false},
          {"op":"replace","path":"emails[type eq \\"home\\"].primary","value":true}]}
        """, patchUser)
        #expect(r.document["emails"]?.description == """
        [{"value":"oren.collins@white.com","type":"work","primary":false,"display":"0TXBC2MOGUI0"},{"type":"home","value":"angelita@mante.us","primary":true},{"type":"other","value":"yasmine_bins@braun.us"}]
        """)
    }

    @Test func entra_managerAddReplaceRemoveInEveryShape() throws {  // [docs/idp-behaviour.md#entra-compliant-dialect-patch]
        let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        let added = try patch("{\"Operations\":[{\"op\":\"add\",\"path\":\"\(urn):manager\",\"value\":{\"value\":\"AXTKDLNRKMKT\"}}]}", patchUser)
        #expect(added.document[urn]?.description == "{\"manager\":{\"value\":\"AXTKDLNRKMKT\"}}")
        let replaced = try patch("{\"Operations\":[{\"op\":\"replace\",\"path\":\"\(urn):manager\",\"value\":{\"value\":\"CBEQXYNPNAZS\"}}]}", added.document)
        #expect(replaced.document[urn]?.description == "{\"manager\":{\"value\":\"CBEQXYNPNAZS\"}}")
        let asString = try patch("{\"Operations\":[{\"op\":\"replace\",\"path\":\"\(urn):manager\",\"value\":\"5f2c8a8e-uuid\"}]}", added.document)
        #expect(asString.document[urn]?.description == "{\"manager\":{\"value\":\"5f2c8a8e-uuid\"}}")
        for removal in [
            "{\"op\":\"remove\",\"path\":\"\(urn):manager\"}",
            "{\"op\":\"replace\",\"path\":\"\(urn):manager\",\"value\":\"\"}",
            "{\"op\":\"replace\",\"path\":\"\(urn):manager\",\"value\":{\"value\":\"\"}}",
            "{\"op\":\"add\",\"path\":\"\(urn):manager\",\"value\":\"\"}",
            "{\"op\":\"replace\",\"value\":{\"\(urn):manager\":\"\"}}",
            "{\"op\":\"replace\",\"path\":\"\(urn):manager\",\"value\":{\"value\":\"\",\"displayName\":\"Old Boss\"}}",
        ] {
            let r = try patch("{\"Operations\":[\(removal)]}", added.document)
            #expect(r.document[urn] == nil, "\(removal)")
            #expect(r.document["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User"])
        }
    }

    @Test func entra_groupMembersAddAndRemoveByValueArray() throws {  // [docs/idp-behaviour.md#entra-overview]
        let add = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}]}
        """, storedGroup, schema: groupSchema)
        #expect(add.membershipChanges == [.add([MemberRef(value: "f648f8d5ea4e4cd38e9c")])])
        let remove = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}]}
        """, storedGroup, schema: groupSchema)
        #expect(remove.membershipChanges == [.remove(values: ["f648f8d5ea4e4cd38e9c"])])
    }

    @Test func entra_referenceCodeRemoveAllMembersWithExtraOpKey() throws {  // [docs/idp-behaviour.md#microsoft-reference-tests]
        let r = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"name":"addMember","op":"remove","path":"members"}]}
        """, storedGroup, schema: groupSchema)
        #expect(r.membershipChanges == [.removeAll])
    }

    @Test func entra_groupRenameWithPlainString() throws {  // [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#entra-default-dialect-patch]
        let r = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"displayName","value":"1879db59-3fdb-4fd0-8d5c-0ec8cb9f1c6c updatedDisplayName"}]}
        """, storedGroup, schema: groupSchema)
        #expect(r.newDisplayName == "1879db59-3fdb-4fd0-8d5c-0ec8cb9f1c6c updatedDisplayName")
    }

    @Test func entra_validatorGroupNoPathReplaces() throws {  // [docs/idp-behaviour.md#microsoft-scim-validator]
        let r = try patch("""
        {"Operations":[{"op":"replace","value":{"displayName":"MSADPJJZWBUS"}},{"op":"replace","value":{"externalId":"c3b97a69-ee33-427b-8bc1-d661b7769314"}},
                       {"op":"remove","path":"members[value eq \\"7f4bc1a3-285e-48ae-8202-5accb43efb0e\\"]"}]}
        """, storedGroup, schema: groupSchema)
        #expect(r.document["displayName"] == "MSADPJJZWBUS")
        #expect(r.document["externalId"] == "c3b97a69-ee33-427b-8bc1-d661b7769314")
        #expect(r.membershipChanges == [.remove(values: ["7f4bc1a3-285e-48ae-8202-5accb43efb0e"])])
        #expect(r.changedAttributes == ["displayName", "externalId"])
    }

    @Test func entra_previewOpsApplyInOrder() throws {  // [docs/idp-behaviour.md#microsoft-scim-validator]
        var withLanguage = patchUser
        withLanguage["preferredLanguage"] = "en"
        let r = try patch("""
        {"Operations":[{"op":"remove","path":"preferredLanguage"},{"op":"add","path":"externalId","value":"ext-1"},{"op":"replace","path":"displayName","value":"Dee"},
                       {"op":"remove","path":"nickName"},{"op":"add","path":"nickName","value":"first"},{"op":"replace","path":"nickName","value":"second"}]}
        """, withLanguage)
        #expect(r.document["preferredLanguage"] == nil)
        #expect(r.document["externalId"] == "ext-1")
        #expect(r.document["displayName"] == "Dee")
        #expect(r.document["nickName"] == "second")
    }

    @Test func jumpcloud_onePerAttributeWithPath() throws {  // [docs/idp-behaviour.md#jumpcloud-patch-shapes]
        let r = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
         {"op":"replace","path":"name.givenName","value":"John"},
         {"op":"replace","path":"name.familyName","value":"Doe"},
         {"op":"replace","path":"active","value":false}]}
        """, patchUser)
        #expect(r.document["name"]?.description == "{\"givenName\":\"John\",\"familyName\":\"Doe\"}")
        #expect(r.newActive == false)
    }

    @Test func jumpcloud_membersAddBareValueAndRemoveByValueArray() throws {  // [docs/idp-behaviour.md#jumpcloud-patch-shapes]
        let add = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"jc-user-uuid-001"}]}]}
        """, storedGroup, schema: groupSchema)
        #expect(add.membershipChanges == [.add([MemberRef(value: "jc-user-uuid-001")])])
        let remove = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members","value":[{"value":"jc-user-uuid-001"}]}]}
        """, storedGroup, schema: groupSchema)
        #expect(remove.membershipChanges == [.remove(values: ["jc-user-uuid-001"])])
        let rename = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Eng"}]}
        """, storedGroup, schema: groupSchema)
        #expect(rename.newDisplayName == "Eng")
    }

    @Test func entra_rolesPrimaryAsStringInPatch() throws {  // [docs/idp-behaviour.md#entra-create-user]
        let r = try patch("""
        {"Operations":[{"op":"add","path":"roles","value":[{"primary":"True","display":"DJAPQUWELUHM","value":"DRIHDNWREZZV","type":"EHUDZVCXYJOO"}]}]}
        """, patchUser)
        #expect(r.document["roles"]?.description == "[{\"primary\":true,\"display\":\"DJAPQUWELUHM\",\"value\":\"DRIHDNWREZZV\",\"type\":\"EHUDZVCXYJOO\"}]")
    }

    @Test func entra_proxyAddressesWithCapitalV() throws {  // [docs/idp-behaviour.md#entra-overview] proxyAddresses → emails[type eq "other"].Value
        let r = try patch("""
        {"Operations":[{"op":"Add","path":"emails[type eq \\"other\\"].Value","value":"smtp.alias@contoso.com"}]}
        """, patchUser)
        #expect(r.document["emails"]?.description == "[{\"value\":\"bjensen@example.com\",\"type\":\"work\",\"primary\":true},{\"type\":\"other\",\"value\":\"smtp.alias@contoso.com\"}]")
    }

    @Test func entra_memberObjectsWithDisplayName() throws {  // [docs/idp-behaviour.md#microsoft-reference-tests] displayName inside member objects
        let r = try patch("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"value":"u-7","displayName":"Seven"}]}]}
        """, storedGroup, schema: groupSchema)
        #expect(r.membershipChanges == [.add([MemberRef(value: "u-7")])])
    }
}
