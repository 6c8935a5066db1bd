import HTTPCore
import JSON
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import SCIMCore
import Testing

/// The SQL compiler must agree with SCIMCore's in-memory evaluator: for every filter below, the users (groups) the
/// region returns are exactly those whose representation the evaluator matches.
@Suite(.serialized) struct FilterParityTests {
    static let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

    /// One tenant with a varied population, built once.
    static let fixture = Result { () throws -> (Tenant, [String: String]) in
        let region = try Region()
        let t = region.tenant()
        var ids: [String: String] = [:]
        ids["alice"] = t.user("alice@example.com", """
            ,"externalId":"EXT-1","displayName":"Alice Smith","active":true,"title":"Engineer",
            "name":{"givenName":"Alice","familyName":"Smith"},
            "emails":[{"value":"Alice@Work.example","type":"work","primary":true},{"value":"alice@home.example","type":"home"}],
            "phoneNumbers":[{"value":"tel:+1-555-0100","type":"work"}],
            "addresses":[{"type":"work","country":"DE","locality":"Berlin"}],
            "roles":[{"value":"admin","primary":"True"}],
            "\(enterprise)":{"department":"R&D","employeeNumber":"0150","manager":{"value":"boss-1"}}
            """)
        ids["bob"] = t.user("bob@example.org", """
            ,"externalId":"ext-1","displayName":"Bob","active":false,"title":"Engineering Manager",
            "name":{"givenName":"Bob","familyName":"Builder"},
            "emails":[{"value":"bob@example.org","type":"work"}],
            "\(enterprise)":{"department":"Sales","employeeNumber":"99"}
            """)
        ids["carol"] = t.user("Carol@Example.com", """
            ,"displayName":"carol smith","title":"director",
            "emails":[{"value":"carol@home.example","type":"home","primary":true}],
            "addresses":[{"type":"home","country":"FR"}]
            """)
        ids["dave"] = t.user("dave", #","active":true,"nickName":"D\"quote\"""#)
        ids["emile"] = t.user("ÉMILE@example.com", #","displayName":"Émile","title":"42""#)
        ids["frank"] = t.user("frank@example.com", #","emails":[{"value":"","type":"other"}],"title":"""#)
        let eng = t.group("Engineering", #","externalId":"g-ext","members":[{"value":"\#(ids["alice"]!)"},{"value":"\#(ids["bob"]!)","display":"Bobby"}]"#)
        let ops = t.group("ops", #","members":[{"value":"\#(ids["carol"]!)"},{"value":"\#(eng)"}]"#)
        t.group("Empty")
        ids["eng"] = eng
        ids["ops"] = ops
        return (t, ids)
    }

    static let userFilters: [String] = [
        #"userName eq "alice@example.com""#, #"userName eq "ALICE@EXAMPLE.COM""#, #"userName sw "a""#, #"userName ew ".org""#,
        #"userName co "LI""#, #"userName gt "c""#, #"userName le "bob@example.org""#, "userName pr",
        #"userName eq "émile@example.com""#,
        #"externalId eq "EXT-1""#, #"externalId eq "ext-1""#, "externalId pr", "not (externalId pr)",
        #"displayName eq "Alice Smith""#, #"displayName co "SMITH""#, "displayName eq null", #"displayName ne "bob""#,
        "active eq true", "active eq false", "active ne true", "active pr", "not (active eq true)",
        #"title eq "ENGINEER""#, #"title sw "Eng""#, #"title ne "Engineer""#, "title pr", #"title gt "F""#, "title eq 42",
        #"name.givenName eq "alice""#, #"name.familyName co "il""#, "name.familyName pr",
        #"emails.value eq "ALICE@work.example""#, #"emails.value ew "example""#, #"emails.value sw "b""#,
        #"emails.type eq "home""#, "emails pr", "emails.value pr", #"emails[type eq "work" and value co "alice"]"#,
        #"emails[type eq "home"]"#, "emails[primary eq true]", #"emails[type eq "work"].value eq "bob@example.org""#,
        #"not (emails.type eq "work")"#, #"phoneNumbers.value co "555""#,
        #"addresses.country eq "de""#, #"addresses[type eq "work" and country eq "DE"]"#, "roles.primary eq true",
        #"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d""#,
        #"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "boss-1""#, "manager.value pr",
        #"employeeNumber gt "100""#, #"department ne "Sales""#,
        #"meta.lastModified gt "2000-01-01T00:00:00Z""#, #"meta.created lt "2000-01-01T00:00:00Z""#,
        #"meta.resourceType eq "User""#, #"meta.resourceType eq "Group""#,
        #"groups.display eq "engineering""#, #"groups[display sw "Eng"]"#, "groups pr", "not (groups pr)",
        #"(userName sw "a" or userName sw "b") and active eq true"#, #"nickName eq "d\"QUOTE\"""#,
        #"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, "x509Certificates.value pr",
        #"id sw "0""#, #"id eq "nope""#,
    ]

    static let groupFilters: [String] = [
        #"displayName eq "ENGINEERING""#, #"displayName gt "F""#, #"displayName sw "e""#, "members pr", "not (members pr)",
        #"members.display co "bob""#, #"members[type eq "Group"]"#, #"members[type eq "user" and display sw "Al"]"#,
        #"externalId eq "g-ext""#, "externalId pr", #"members.display eq "alice@example.com""#,
    ]

    func check(_ kind: ResourceKind, _ filter: String) throws {
        let (t, _) = try Self.fixture.get()
        let schema = try #require(SchemaRegistry.standard.resourceSchema(kind.rawValue))
        let all = t.send(.get, "\(kind.endpoint)?count=1000").json["Resources"]?.array ?? []
        let resolved = try schema.parseFilter(filter)
        let expected = Set(all.compactMap { r -> String? in
            guard let o = r.object, resolved.matches(o) else { return nil }
            return o["id"]?.string
        })
        let encoded = PercentEncoding.encode(filter)
        let actual = Set(t.ids("\(kind.endpoint)?count=1000&filter=\(encoded)"))
        #expect(actual == expected, "filter: \(filter)")
    }

    @Test(arguments: userFilters) func usersAgreeWithTheEvaluator(_ filter: String) throws {
        try check(.user, filter)
    }

    @Test(arguments: groupFilters) func groupsAgreeWithTheEvaluator(_ filter: String) throws {
        try check(.group, filter)
    }

    @Test func theFixtureIsNotTrivial() throws {
        // Guard against a parity suite that passes because everything matches nothing.
        let (t, ids) = try Self.fixture.get()
        #expect(t.ids("/Users?filter=" + PercentEncoding.encode(#"emails[type eq "work" and value co "alice"]"#)) == [ids["alice"]!])
        #expect(Set(t.ids("/Users?filter=" + PercentEncoding.encode(#"groups.display eq "engineering""#))) == [ids["alice"]!, ids["bob"]!])
        #expect(t.ids("/Groups?filter=" + PercentEncoding.encode(#"members[type eq "Group"]"#)) == [ids["ops"]!])
        #expect(t.ids("/Users?filter=" + PercentEncoding.encode(#"userName eq "émile@example.com""#)) == [ids["emile"]!])
    }
}
