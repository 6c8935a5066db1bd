import JSON
import Postgres
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import SCIMCore
import Testing

/// The compiler's output for representative filters: which column or expression each attribute maps to, and that
/// every literal and JSON key travels as a parameter.
@Suite struct FilterSQLTests {
    static let tenant = "11111111-2222-3333-4444-555555555555"

    func compile(_ kind: ResourceKind, _ filter: String) throws -> (String, [PostgresValue]) {
        let schema = try #require(SchemaRegistry.standard.resourceSchema(kind.rawValue))
        var sql = FilterSQL(kind: kind, tenant: Self.tenant, baseURL: "https://h/scim/v2")
        let text = sql.condition(try schema.parseFilter(filter))
        #expect(sql.bindings.values.first == .uuid(Self.tenant))
        return (text, Array(sql.bindings.values.dropFirst()))
    }

    @Test(arguments: [
        // Indexed, Swift-folded key columns: plain = / ^@ (leakproof, so usable by an index under RLS).
        (#"userName eq "Bob@Example.COM""#, "u.user_name_key = $2::text", ["bob@example.com"]),
        (#"USERNAME Eq "Bo""#, "u.user_name_key = $2::text", ["bo"]),
        (#"userName sw "Bo""#, "u.user_name_key ^@ $2::text", ["bo"]),
        (#"userName gt "m""#, #"(u.user_name_key) COLLATE "C" > $2::text"#, ["m"]),
        (#"displayName eq "Ann""#, "u.display_name_key = $2::text", ["ann"]),
        // externalId is caseExact: not folded.
        (#"externalId eq jyoung"#, "u.external_id = $2::text", ["jyoung"]),
        (#"externalId ew "X""#, "right(u.external_id, char_length($2::text)) = $2::text", ["X"]),
        (#"title co "Eng""#, #"strpos(lower(((u.resource -> $2::text) #>> '{}')), lower($3::text)) > 0"#, ["title", "Eng"]),
        (#"name.givenName eq "Al""#, #"lower((((u.resource -> $2::text) -> $3::text) #>> '{}')) = lower($4::text)"#,
         ["name", "givenName", "Al"]),
        (#"emails.value eq "A@X.com""#,
         "EXISTS (SELECT 1 FROM user_emails ue1 WHERE ue1.tenant_id = u.tenant_id AND ue1.user_id = u.id AND ue1.email_key = $2::text)",
         ["a@x.com"]),
        (#"emails.type eq "work""#,
         #"EXISTS (SELECT 1 FROM scim_elements((u.resource -> $2::text)) AS e1 WHERE lower(((e1 -> $3::text) #>> '{}')) = lower($4::text))"#,
         ["emails", "type", "work"]),
        (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#,
         #"lower(((((u.resource -> $2::text) -> $3::text) -> $4::text) #>> '{}')) = lower($5::text)"#,
         ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "manager", "value", "m1"]),
        ("active eq true", "u.active = true", []),
        (#"active eq "False""#, "u.active = false", []),
        // ne is the negation of eq; a missing value makes eq false, so ne true.
        ("active ne true", "NOT COALESCE(u.active = true, false)", []),
        ("title pr", "scim_present((u.resource -> $2::text))", ["title"]),
        ("displayName eq null", "NOT COALESCE((u.display_name_key <> ''), false)", []),
        (#"id eq "not-a-uuid""#, "false", []),
        (#"meta.resourceType eq "User""#, "$2::text = $3::text", ["User", "User"]),
        (#"not (userName eq "a") or displayName eq "B""#,
         "(NOT COALESCE(u.user_name_key = $2::text, false) OR u.display_name_key = $3::text)", ["a", "b"]),
        (#"groups.display eq "Eng""#,
         "EXISTS (SELECT 1 FROM group_members gm1 JOIN groups g2 ON g2.tenant_id = gm1.tenant_id AND g2.id = gm1.group_id"
            + " WHERE gm1.tenant_id = u.tenant_id AND gm1.member_id = u.id AND lower(g2.display_name) = lower($2::text))",
         ["Eng"]),
    ] as [(String, String, [String])])
    func users(_ filter: String, _ expected: String, _ parameters: [String]) throws {
        let (text, values) = try compile(.user, filter)
        #expect(text == expected)
        #expect(values == parameters.map { PostgresValue.text($0) })
    }

    @Test func dateTimesAndUUIDsAreTypedParameters() throws {
        let (text, values) = try compile(.user, #"meta.lastModified gt "2024-05-06T07:08:09.5+02:00" and id eq "0C1D5E8C-2B40-4B44-9D5E-6FD0E3A4C5A7""#)
        #expect(text == "(u.last_modified > $2 AND u.id = $3)")
        #expect(values == [.timestamp(PostgresTimestamp(year: 2024, month: 5, day: 6, hour: 5, minute: 8, second: 9, microsecond: 500_000)!),
                           .uuid("0c1d5e8c-2b40-4b44-9d5e-6fd0e3a4c5a7")])
    }

    @Test func entraWorkEmailLookupIsPrefilteredByTheIndexedEmailRows() throws {
        let (text, values) = try compile(.user, #"emails[type eq "work"].value eq "User@Contoso.com""#)
        #expect(text == "(EXISTS (SELECT 1 FROM user_emails ue1 WHERE ue1.tenant_id = u.tenant_id AND ue1.user_id = u.id"
            + " AND ue1.email_key = $2::text) AND EXISTS (SELECT 1 FROM scim_elements((u.resource -> $3::text)) AS e2 WHERE"
            + " (lower(((e2 -> $4::text) #>> '{}')) = lower($5::text) AND lower(((e2 -> $6::text) #>> '{}')) = lower($7::text))))")
        #expect(values == ["user@contoso.com", "emails", "type", "work", "value", "User@Contoso.com"].map { PostgresValue.text($0) })
    }

    @Test func groupMembersCompileToMemberRows() throws {
        let (text, values) = try compile(.group, #"members[value eq "0c1d5e8c-2b40-4b44-9d5e-6fd0e3a4c5a7" and type eq "User"]"#)
        #expect(text == "EXISTS (SELECT 1 FROM group_members m1 WHERE m1.tenant_id = g.tenant_id AND m1.group_id = g.id AND"
            + " (m1.member_id = $2 AND lower(m1.member_type) = lower($3::text)))")
        #expect(values == [.uuid("0c1d5e8c-2b40-4b44-9d5e-6fd0e3a4c5a7"), .text("User")])
        let (display, _) = try compile(.group, #"displayName eq "Eng""#)
        #expect(display == "g.display_name_key = $2::text")
    }

    @Test func sortKeys() throws {
        let schema = try #require(SchemaRegistry.standard.resourceSchema("User"))
        var sql = FilterSQL(kind: .user, tenant: Self.tenant, baseURL: "https://h/scim/v2")
        #expect(sql.sortKey(try schema.resolveSortBy("userName"))! == ("u.user_name_key", .text))
        #expect(sql.sortKey(try schema.resolveSortBy("meta.lastModified"))! == ("u.last_modified", .timestamptz))
        #expect(sql.sortKey(try schema.resolveSortBy("emails"))! == (#"(lower(scim_sort_value((u.resource -> $2::text), $3::text) #>> '{}') COLLATE "C")"#, .text))
        #expect(sql.sortKey(try schema.resolveSortBy("name.familyName"))! == (#"(lower(((u.resource -> $4::text) -> $5::text) #>> '{}') COLLATE "C")"#, .text))
        #expect(sql.sortKey(try schema.resolveSortBy("groups")) == nil)
    }
}
