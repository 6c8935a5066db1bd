import JSON
@testable import RegionSCIM
import SCIMCore
import Testing

/// The pure rule evaluation and validation (`RoleMapping`): precedence, prefix and exact matching on each group
/// attribute, implied roles, the default role and "no matching group, no access", and every refusal.
@Suite struct RoleMappingTests {
    static let admins = GroupIdentity(id: "0190a000-0000-7000-8000-000000000001", externalId: "00gADMINS", displayName: "App Admins")
    static let engWeb = GroupIdentity(id: "0190a000-0000-7000-8000-000000000002", externalId: "00gENGWEB", displayName: "eng-web")
    static let ops = GroupIdentity(id: "0190a000-0000-7000-8000-000000000003", externalId: "00gOPS", displayName: "Operations")
    static let sales = GroupIdentity(id: "0190a000-0000-7000-8000-000000000004", externalId: nil, displayName: "Sales")

    static func mapping(assignment: String = "highest", defaultRole: String? = "viewer") throws -> RoleMapping {
        let text = """
            {"roles": [{"key": "admin", "name": "Administrator", "implies": ["editor"]},
                       {"key": "editor", "implies": ["viewer"]},
                       {"key": "billing"},
                       {"key": "viewer"}],
             "rules": [{"group": {"displayName": "app admins"}, "role": "admin"},
                       {"group": {"displayName": "ENG-"}, "match": "prefix", "role": "editor"},
                       {"group": {"externalId": "00gOPS"}, "role": "billing"},
                       {"group": {"externalId": "00gops"}, "role": "admin"},
                       {"group": {"id": "0190A000-0000-7000-8000-000000000004"}, "role": "billing"}],
             "assignment": "\(assignment)", "defaultRole": \(defaultRole.map { "\"\($0)\"" } ?? "null")}
            """
        return try RoleMapping.parse(try JSONDecoder.decode(text))
    }

    @Test(arguments: [
        // groups → effective roles, with assignment "highest" (the default) and default role viewer
        ([], ["viewer"]),
        ([admins], ["admin", "editor", "viewer"]),
        ([engWeb], ["editor", "viewer"]),
        ([ops], ["billing"]),
        ([sales], ["billing"]),
        // precedence: the highest matched role wins, whatever the order of groups or rules
        ([engWeb, admins], ["admin", "editor", "viewer"]),
        ([ops, engWeb], ["editor", "viewer"]),
        ([sales, ops], ["billing"]),
    ])
    func highestMatchedRoleWithWhatItImplies(groups: [GroupIdentity], expected: [String]) throws {
        #expect(try Self.mapping().effectiveRoles(groups: groups) == expected)
    }

    @Test func allMatchedRolesWhenAssignmentIsAll() throws {
        let all = try Self.mapping(assignment: "all")
        #expect(all.effectiveRoles(groups: [Self.ops, Self.engWeb]) == ["editor", "billing", "viewer"])
        #expect(all.effectiveRoles(groups: [Self.admins, Self.sales]) == ["admin", "editor", "billing", "viewer"])
        #expect(all.effectiveRoles(groups: []) == ["viewer"])
    }

    @Test func noMatchingGroupMeansNoAccessWithoutADefaultRole() throws {
        let strict = try Self.mapping(defaultRole: nil)
        #expect(strict.effectiveRoles(groups: []) == [])
        #expect(strict.effectiveRoles(groups: [GroupIdentity(id: "0190a000-0000-7000-8000-0000000000ff", externalId: "x",
                                                             displayName: "Unrelated")]) == [])
        #expect(strict.effectiveRoles(groups: [Self.engWeb]) == ["editor", "viewer"])
    }

    @Test func matchingFollowsEachAttributesCaseRules() throws {
        let m = try Self.mapping()
        // displayName: case-insensitive, exact and prefix
        #expect(m.grants(GroupIdentity(id: Self.ops.id, externalId: nil, displayName: "APP ADMINS")) == [0])
        #expect(m.grants(GroupIdentity(id: Self.ops.id, externalId: nil, displayName: "Eng-Mobile")) == [1])
        #expect(m.grants(GroupIdentity(id: Self.ops.id, externalId: nil, displayName: "App Admins 2")) == [])
        #expect(m.grants(GroupIdentity(id: Self.ops.id, externalId: nil, displayName: "xeng-web")) == [])
        // externalId: case-exact ("00gops" is another IdP group than "00gOPS")
        #expect(m.grants(GroupIdentity(id: Self.engWeb.id, externalId: "00gops", displayName: "x")) == [0])
        #expect(m.grants(GroupIdentity(id: Self.engWeb.id, externalId: "00gOPS", displayName: "x")) == [2])
        // id: canonical form, whatever case the rule was written in
        #expect(m.grants(GroupIdentity(id: Self.sales.id, externalId: nil, displayName: "x")) == [2])
        #expect(m.rules[4].value == Self.sales.id)
    }

    @Test func theStoredFormIsNormalisedAndParsesBackToTheSame() throws {
        let m = try Self.mapping()
        let again = try RoleMapping.parse(m.json)
        #expect(again == m)
        #expect(m.json["rules"]?[1] == ["group": ["displayName": "ENG-"], "match": "prefix", "role": "editor"])
        #expect(m.json["roles"]?[1]?["name"] == "editor")
    }

    static let oneRole = #"[{"key":"a"}]"#

    @Test(arguments: [
        (#"[]"#, "must be a JSON object"),
        (#"{"rules":[]}"#, "'roles' must be an array"),
        (#"{"roles":[]}"#, "'roles' must list 1 to 100 roles"),
        (#"{"roles":[{"key":"a b"}]}"#, "'roles[0].key'"),
        (#"{"roles":[{"key":"a"},{"key":"a"}]}"#, "'roles[1].key': role 'a' is listed twice"),
        (#"{"roles":[{"key":"a","name":7}]}"#, "'roles[0].name'"),
        (#"{"roles":[{"key":"a","colour":"red"}]}"#, "'roles[0].colour' is not a field"),
        (#"{"roles":[{"key":"a","implies":["b"]}]}"#, "'roles[0].implies[0]' names 'b'"),
        (#"{"roles":[{"key":"a","implies":["a"]}]}"#, "cycle: a → a"),
        (#"{"roles":[{"key":"a","implies":["b"]},{"key":"b","implies":["c"]},{"key":"c","implies":["a"]}]}"#, "cycle: a → b → c → a"),
        (#"{"roles":\#(oneRole),"rules":{}}"#, "'rules' must be an array"),
        (#"{"roles":\#(oneRole),"rules":[{"group":{"displayName":"x"},"role":"b"}]}"#, "'rules[0].role' names 'b'"),
        (#"{"roles":\#(oneRole),"rules":[{"group":{"displayName":"x","externalId":"y"},"role":"a"}]}"#, "exactly one of"),
        (#"{"roles":\#(oneRole),"rules":[{"group":{"name":"x"},"role":"a"}]}"#, "exactly one of"),
        (#"{"roles":\#(oneRole),"rules":[{"group":{"displayName":""},"role":"a"}]}"#, "'rules[0].group.displayName' must be a string of 1 to 256"),
        (#"{"roles":\#(oneRole),"rules":[{"group":{"displayName":5},"role":"a"}]}"#, "must be a string"),
        (#"{"roles":\#(oneRole),"rules":[{"group":{"displayName":"x"},"match":"regex","role":"a"}]}"#, "'rules[0].match' must be 'exact' or 'prefix'"),
        (#"{"roles":\#(oneRole),"rules":[{"group":{"id":"not-a-uuid"},"role":"a"}]}"#, "'rules[0].group.id' must be a group id"),
        (#"{"roles":\#(oneRole),"rules":[{"group":{"id":"0190a000-0000-7000-8000-000000000001"},"match":"prefix","role":"a"}]}"#,
         "can only be matched exactly"),
        (#"{"roles":\#(oneRole),"rules":[{"group":{"displayName":"X"},"role":"a"},{"group":{"displayName":"x"},"role":"a"}]}"#,
         "'rules[1]' repeats rules[0]"),
        (#"{"roles":\#(oneRole),"assignment":"most"}"#, "'assignment' must be 'highest' or 'all'"),
        (#"{"roles":\#(oneRole),"defaultRole":"b"}"#, "'defaultRole' names 'b'"),
        (#"{"roles":\#(oneRole),"defaultRole":1}"#, "'defaultRole' must be a role key or null"),
        (#"{"roles":\#(oneRole),"extra":1}"#, "'extra' is not a field"),
    ])
    func badConfigurationsAreRefusedWithTheFieldNamed(body: String, detail: String) throws {
        do {
            _ = try RoleMapping.parse(try JSONDecoder.decode(body))
            Issue.record("accepted: \(body)")
        } catch let error as SCIMError {
            #expect(error.status == 400)
            #expect(error.detail?.contains(detail) == true, "\(error.detail ?? "")")
        }
    }

    @Test func hugeRuleSetsAreRefused() throws {
        let rules = (0...RoleMapping.maxRules).map { #"{"group":{"displayName":"g\#($0)"},"role":"a"}"# }.joined(separator: ",")
        #expect(throws: SCIMError.self) { try RoleMapping.parse(try JSONDecoder.decode(#"{"roles":[{"key":"a"}],"rules":[\#(rules)]}"#)) }
        let fine = (0..<RoleMapping.maxRules).map { #"{"group":{"displayName":"g\#($0)"},"role":"a"}"# }.joined(separator: ",")
        #expect(try RoleMapping.parse(try JSONDecoder.decode(#"{"roles":[{"key":"a"}],"rules":[\#(fine)]}"#)).rules.count == RoleMapping.maxRules)
        let roles = (0...RoleMapping.maxRoles).map { #"{"key":"r\#($0)"}"# }.joined(separator: ",")
        #expect(throws: SCIMError.self) { try RoleMapping.parse(try JSONDecoder.decode(#"{"roles":[\#(roles)]}"#)) }
    }
}
