import HTTPCore
import JSON
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import SCIMCore
import Testing

/// Pure pieces: cursors, tenant settings, identifiers, content negotiation.
@Suite struct PureTests {
    static let secret = Array("0123456789abcdef0123456789abcdef".utf8)
    static let tenantA = "aaaaaaaa-0000-4000-8000-000000000001"
    static let tenantB = "bbbbbbbb-0000-4000-8000-000000000002"

    @Test(arguments: [nil, "", "k\nwith|separators.and unicode é"] as [String?])
    func cursorRoundTrips(_ key: String?) {
        let cursor = ListCursor(resourceType: "User", queryFingerprint: "0011223344556677", issuedAt: 1_700_000_000,
                                lastID: "01a20764-a5fb-7c58-9c37-833ae7ac6164", lastKey: key)
        let token = cursor.encode(secret: Self.secret, tenant: Self.tenantA)
        #expect(ListCursor.decode(token, secret: Self.secret, tenant: Self.tenantA, nowSeconds: 1_700_000_100, timeoutSeconds: 3600)
            == .success(cursor))
        #expect(ListCursor.decode(token, secret: Self.secret, tenant: Self.tenantB, nowSeconds: 1_700_000_100, timeoutSeconds: 3600)
            == .failure(.invalid))
        #expect(ListCursor.decode(token, secret: Array(Self.secret.reversed()), tenant: Self.tenantA, nowSeconds: 1_700_000_100,
                                  timeoutSeconds: 3600) == .failure(.invalid))
        #expect(ListCursor.decode(token, secret: Self.secret, tenant: Self.tenantA, nowSeconds: 1_700_003_601, timeoutSeconds: 3600)
            == .failure(.expired))
        #expect(ListCursor.decode(token, secret: Self.secret, tenant: Self.tenantA, nowSeconds: 1_800_000_000, timeoutSeconds: nil)
            == .success(cursor))
    }

    @Test(arguments: ["", ".", "abc", "abc.def", "YzE.AAAAAAAAAAAAAAAAAAAAAA"])
    func malformedCursorsAreInvalid(_ token: String) {
        #expect(ListCursor.decode(token, secret: Self.secret, tenant: Self.tenantA, nowSeconds: 0, timeoutSeconds: nil) == .failure(.invalid))
    }

    @Test func fingerprintDependsOnFilterSortAndOrder() throws {
        let schema = try #require(SchemaRegistry.standard.resourceSchema("User"))
        let f1 = try schema.parseFilter(#"userName eq "a""#), f2 = try schema.parseFilter(#"userName eq "b""#)
        let sort = try schema.resolveSortBy("userName")
        let base = ListCursor.fingerprint(filter: f1, sortBy: sort, sortOrder: .ascending)
        #expect(base == ListCursor.fingerprint(filter: try schema.parseFilter(#"USERNAME EQ "a""#), sortBy: sort, sortOrder: .ascending))
        #expect(base != ListCursor.fingerprint(filter: f2, sortBy: sort, sortOrder: .ascending))
        #expect(base != ListCursor.fingerprint(filter: f1, sortBy: nil, sortOrder: .ascending))
        #expect(base != ListCursor.fingerprint(filter: f1, sortBy: sort, sortOrder: .descending))
    }

    @Test(arguments: [
        (#"{"name":"acme"}"#, nil),
        (#"{"name":"acme","deprovisionPolicy":"refuse","schemaExtensions":null}"#, nil),
        (#"[]"#, "the tenant settings must be a JSON object"),
        (#"{"deprovisionPolicy":"hard"}"#, "'name' must be a non-empty string of at most 200 bytes"),
        (#"{"name":"a","deprovisionPolicy":"archive"}"#, "'deprovisionPolicy' must be 'hard', 'soft' or 'refuse'"),
        (#"{"name":"a","schemaExtensions":{}}"#, "'schemaExtensions' must be an array"),
        (#"{"name":"a","schemaExtensions":[{"resourceType":"Device","schema":{}}]}"#, "'schemaExtensions[0].resourceType' must be 'User' or 'Group'"),
        (#"{"name":"a","schemaExtensions":[{"resourceType":"User","schema":{"id":"urn:ietf:params:scim:schemas:core:2.0:User","attributes":[{"name":"x"}]}}]}"#,
         "'schemaExtensions[0].schema.id' names a schema that already exists"),
        (#"{"name":"a","schemaExtensions":[{"resourceType":"User","schema":{"id":"urn:x","attributes":[{"name":"1x"}]}}]}"#,
         "'schemaExtensions[0].schema.attributes[0].name' must be an attribute name (a letter, then letters, digits, - or _)"),
        (#"{"name":"a","schemaExtensions":[{"resourceType":"User","schema":{"id":"urn:x","attributes":[{"name":"c","type":"complex","subAttributes":[{"name":"d","type":"complex","subAttributes":[{"name":"e"}]}]}]}}]}"#,
         "'schemaExtensions[0].schema.attributes[0].subAttributes[0]': sub-attributes cannot be complex (RFC 7643 §2.3.8)"),
        (#"{"name":"a","schemaExtensions":[{"resourceType":"User","schema":{"id":"urn:x","attributes":[{"name":"n","type":"integer","validator":"iso639-1"}]}}]}"#,
         "'schemaExtensions[0].schema.attributes[0].validator' needs a string attribute"),
        (#"{"name":"a","validators":[{"schema":"urn:ietf:params:scim:schemas:core:2.0:User","attribute":"active","rule":"iso639-1"}]}"#,
         "'validators[0].attribute' must be a string attribute"),
        (#"{"name":"a","validators":[{"schema":"urn:ietf:params:scim:schemas:core:2.0:User","attribute":"locale","rule":"bcp47"}]}"#,
         "'validators[0].rule' must be one of iso639-1, iso639-1-region, iso3166-1-alpha2"),
    ] as [(String, String?)])
    func tenantSettingsValidation(_ body: String, _ expected: String?) throws {
        let json = try JSONDecoder.decode(body)
        do {
            _ = try TenantSettings.parse(json)
            #expect(expected == nil, "\(body)")
        } catch {
            #expect(error.detail == expected, "\(body)")
        }
    }

    @Test func extensionAttributesBecomeSchemaDefinitions() throws {
        let settings = try TenantSettings.parse(try JSONDecoder.decode("""
            {"name":"a","schemaExtensions":[{"resourceType":"Group","required":false,"schema":{"id":"urn:acme:Group","name":"AcmeGroup",
              "attributes":[{"name":"costCode","type":"string","caseExact":true,"required":true,"uniqueness":"server"},
                            {"name":"tags","type":"string","multiValued":true,"canonicalValues":["a","b"]}]}}]}
            """))
        let groups = try #require(try settings.registry().resourceSchema("Group"))
        let ext = try #require(groups.extensionSchema(urn: "urn:acme:Group"))
        #expect(ext.name == "AcmeGroup")
        #expect(ext.attributes.map(\.name) == ["costCode", "tags"])
        #expect(ext.attributes[0].caseExact && ext.attributes[0].required && ext.attributes[0].uniqueness == .server)
        #expect(ext.attributes[1].multiValued && ext.attributes[1].canonicalValues == ["a", "b"])
        #expect(settings.json["deprovisionPolicy"] == "hard")
    }

    @Test(arguments: [
        ("0C1D5E8C-2B40-4B44-9D5E-6FD0E3A4C5A7", "0c1d5e8c-2b40-4b44-9d5e-6fd0e3a4c5a7"),
        ("0c1d5e8c2b404b449d5e6fd0e3a4c5a7", nil), ("0c1d5e8c-2b40-4b44-9d5e-6fd0e3a4c5ag", nil), ("", nil),
    ] as [(String, String?)])
    func uuidCanonicalForm(_ text: String, _ canonical: String?) {
        #expect(UUIDText.canonical(text) == canonical)
    }

    @Test func version7IdsAreValidAndTimeOrdered() {
        let a = UUIDText.version7(nowMillis: 1_700_000_000_000)
        let b = UUIDText.version7(nowMillis: 1_700_000_000_001)
        #expect(UUIDText.canonical(a) == a)
        #expect(a.hasPrefix("018bcfe5-6800-7"))
        #expect(a < b)
        let variant = a[a.index(a.startIndex, offsetBy: 19)]
        #expect("89ab".contains(variant))
    }

    /// Many ids in the same millisecond still come out in creation order (the default list order relies on it).
    @Test func version7IdsIncreaseStrictlyWithinAMillisecond() {
        let ids = (0..<10_000).map { _ in UUIDText.version7() }
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 })
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { UUIDText.canonical($0) == $0 && $0[$0.index($0.startIndex, offsetBy: 14)] == "7" })
    }

    @Test func foldingAndArrayLiterals() {
        #expect(CaseFold.fold("Alice@Example.COM") == "alice@example.com")
        #expect(CaseFold.fold("ÉMILE") == "émile")
        #expect(ArrayLiteral.text(["a", #"b"c"#, #"d\e"#, ""]) == #"{"a","b\"c","d\\e",""}"#)
        #expect(ArrayLiteral.text([String]()) == "{}")
    }
}
