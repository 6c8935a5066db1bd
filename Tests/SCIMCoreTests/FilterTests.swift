import Testing
import JSON
@testable import SCIMCore

/// Fully parenthesised tree shape, to assert precedence and associativity.
func shape(_ f: Filter) -> String {
    switch f {
    case .compare(let p, let op, let v): return "\(p) \(op.rawValue) \(v)"
    case .present(let p): return "\(p) pr"
    case .and(let l, let r): return "(\(shape(l)) AND \(shape(r)))"
    case .or(let l, let r): return "(\(shape(l)) OR \(shape(r)))"
    case .not(let x): return "NOT(\(shape(x)))"
    case .valuePath(let p, let x): return "\(p)[\(shape(x))]"
    }
}

@Suite struct FilterParsingTests {
    /// Every operator and grammar form of RFC 7644 §3.4.2.2 (including its example filters), as canonical text.
    @Test(arguments: [
        ("userName eq \"bjensen\"", "userName eq \"bjensen\""),
        ("name.familyName co \"O'Malley\"", "name.familyName co \"O'Malley\""),
        ("userName sw \"J\"", "userName sw \"J\""),
        ("urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"", "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\""),
        ("title pr", "title pr"),
        ("meta.lastModified gt \"2011-05-13T04:42:34Z\"", "meta.lastModified gt \"2011-05-13T04:42:34Z\""),
        ("meta.lastModified ge \"2011-05-13T04:42:34Z\"", "meta.lastModified ge \"2011-05-13T04:42:34Z\""),
        ("meta.lastModified lt \"2011-05-13T04:42:34Z\"", "meta.lastModified lt \"2011-05-13T04:42:34Z\""),
        ("meta.lastModified le \"2011-05-13T04:42:34Z\"", "meta.lastModified le \"2011-05-13T04:42:34Z\""),
        ("userName ne \"x\"", "userName ne \"x\""),
        ("userName ew \"@example.com\"", "userName ew \"@example.com\""),
        ("title pr and userType eq \"Employee\"", "title pr and userType eq \"Employee\""),
        ("title pr or userType eq \"Intern\"", "title pr or userType eq \"Intern\""),
        ("schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"", "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\""),
        ("userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
         "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")"),
        ("userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
         "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")"),
        ("userType eq \"Employee\" and (emails.type eq \"work\")", "userType eq \"Employee\" and emails.type eq \"work\""),
        ("userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
         "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]"),
        ("emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]",
         "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]"),
        ("x eq true", "x eq true"),
        ("x eq false", "x eq false"),
        ("x eq null", "x eq null"),
        ("x eq 10", "x eq 10"),
        ("x gt -1.5e3", "x gt -1.5e3"),
        ("x eq \"a\\\"b\"", "x eq \"a\\\"b\""),
        ("x eq \"\\u00e9t\\u00E9\"", "x eq \"été\""),
        ("members.$ref pr", "members.$ref pr"),
        ("not(a eq 1)", "not (a eq 1)"),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"x\"",
         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"x\""),
        // Entra: a sub-attribute after the value filter means "the same element" [docs/idp-behaviour.md#entra-overview].
        ("emails[type eq \"work\"].value eq \"user@contoso.com\"", "emails[type eq \"work\" and value eq \"user@contoso.com\"]"),
        // Ping: operator and attribute case vary [docs/idp-behaviour.md#ping-lookups-by-filter].
        ("username Eq \"jsmith\"", "username eq \"jsmith\""),
        ("email Co \"jsmith@example.com\"", "email co \"jsmith@example.com\""),
        ("title PR AND userType NE \"x\"", "title pr and userType ne \"x\""),
    ])
    func grammarForms(input: String, canonical: String) throws {
        #expect(try FilterParser.parse(input).description == canonical)
    }

    /// Precedence: not > and > or; and/or are left-associative; parentheses override.
    @Test(arguments: [
        ("a eq 1 or b eq 2 and c eq 3", "(a eq 1 OR (b eq 2 AND c eq 3))"),
        ("a eq 1 and b eq 2 or c eq 3", "((a eq 1 AND b eq 2) OR c eq 3)"),
        ("(a eq 1 or b eq 2) and c eq 3", "((a eq 1 OR b eq 2) AND c eq 3)"),
        ("a eq 1 and b eq 2 and c eq 3", "((a eq 1 AND b eq 2) AND c eq 3)"),
        ("a eq 1 or b eq 2 or c eq 3", "((a eq 1 OR b eq 2) OR c eq 3)"),
        ("not (a eq 1) and b eq 2", "(NOT(a eq 1) AND b eq 2)"),
        ("not (a eq 1 or b eq 2) or c pr", "(NOT((a eq 1 OR b eq 2)) OR c pr)"),
        ("a eq 1 and (b eq 2 or (c eq 3 and d eq 4))", "(a eq 1 AND (b eq 2 OR (c eq 3 AND d eq 4)))"),
        ("emails[type eq \"work\" or not (primary eq true)] and x pr", "(emails[(type eq \"work\" OR NOT(primary eq true))] AND x pr)"),
    ])
    func precedence(input: String, tree: String) throws {
        let f = try FilterParser.parse(input)
        #expect(shape(f) == tree)
        // Canonical text re-parses to the same tree.
        #expect(try FilterParser.parse(f.description) == f)
    }

    /// Entra's legacy example leaves values unquoted [docs/idp-behaviour.md#entra-overview]: accepted as strings by default (IdPQuirk.unquotedFilterValue).
    @Test(arguments: [
        ("externalId eq jyoung", "externalId eq \"jyoung\""),
        ("name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)",
         "name.FamilyName eq \"Employee\" and (emails.Value co \"example.com\" or emails.Value co \"example.org\")"),
        ("externalId eq 0a21f0f2-8d2a", "externalId eq \"0a21f0f2-8d2a\""),
    ])
    func entraUnquotedValues(input: String, canonical: String) throws {
        #expect(try FilterParser.parse(input).description == canonical)
    }

    @Test func unquotedValuesCanBeRefused() {
        let strict = FilterLimits(allowUnquotedValues: false)
        #expect(scimError { try FilterParser.parse("externalId eq jyoung", limits: strict) }
                == .invalidFilter("value at position 14 must be a quoted string, number, true, false or null"))
    }

    @Test(arguments: [
        ("", "filter is empty"),
        ("   ", "filter is empty"),
        ("userName", "expected an operator after 'userName' but found end of filter at position 8"),
        ("userName eq", "missing value after 'eq' at position 11"),
        ("userName xx \"a\"", "unknown operator 'xx' at position 9"),
        ("userName eq \"abc", "unterminated string starting at position 12"),
        ("userName eq \"a\\q\"", "invalid string literal at position 12"),
        ("(userName eq \"a\"", "expected ')' but found end of filter at position 16"),
        ("userName eq \"a\")", "unexpected ')' at position 15"),
        ("emails[type eq \"work\"", "expected ']' but found end of filter at position 21"),
        ("emails[type[value eq 1]]", "value filters cannot be nested (position 11)"),
        ("not userName eq \"a\"", "expected '(' after 'not' but found 'userName' at position 4"),
        ("userName eq \"a\" and", "expected an attribute expression but found end of filter at position 19"),
        ("1abc eq \"x\"", "'1abc' at position 0 is not a valid attribute path"),
        ("a.b.c eq 1", "'a.b.c' at position 0 is not a valid attribute path"),
        ("userName eq (", "expected a value but found '(' at position 12"),
        ("\"x\" eq userName", "unexpected a string at position 0"),
        ("name.givenName[value eq 1]", "a value filter must follow an attribute, not a sub-attribute (position 14)"),
        ("userName eq \"a\" bogus", "unexpected 'bogus' at position 16"),
        // Fuzz regression: control characters in an unquoted word.
        ("x eq 1\u{8}\u{8};.Subs", "control character at position 6"),
        ("userName\u{0} eq \"a\"", "control character at position 8"),
        ("userName eq \"a\u{1}\"", "invalid string literal at position 12"),
    ])
    func syntaxErrorsAreInvalidFilterWithPosition(input: String, detail: String) {
        #expect(scimError { try FilterParser.parse(input) } == .invalidFilter(detail))
    }

    @Test func limitsGivePreciseDetails() {
        let long = "userName eq \"" + String(repeating: "a", count: 4090) + "\""
        #expect(scimError { try FilterParser.parse(long) } == .invalidFilter("filter is longer than 4096 characters"))
        let wide = (0..<101).map { "a\($0) eq 1" }.joined(separator: " or ")
        #expect(scimError { try FilterParser.parse(wide) } == .invalidFilter("filter has more than 200 nodes"))
        let deep = String(repeating: "(", count: 17) + "a eq 1" + String(repeating: ")", count: 17)
        #expect(scimError { try FilterParser.parse(deep) } == .invalidFilter("filter nests deeper than 16 levels"))
        let okDeep = String(repeating: "(", count: 16) + "a eq 1" + String(repeating: ")", count: 16)
        #expect(scimError { try FilterParser.parse(okDeep) } == nil)
    }
}

@Suite struct FilterResolutionTests {
    @Test(arguments: [
        ("userName eq \"x\"", "userName eq \"x\""),
        ("DisplayName eq \"BobIsAmazing\"", "displayName eq \"BobIsAmazing\""),  // Entra [docs/idp-behaviour.md#microsoft-reference-tests]
        ("emails co \"x\"", "emails.value co \"x\""),                              // complex → value
        ("emails.Value co \"x\"", "emails.value co \"x\""),
        ("manager eq \"x\"", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"x\""),  // Entra [docs/idp-behaviour.md#entra-overview]
        ("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME eq \"x\"", "userName eq \"x\""),
        ("active eq \"True\"", "active eq true"),
        ("externalId eq 123", "externalId eq \"123\""),
        ("emails[TYPE eq \"work\"]", "emails[emails.type eq \"work\"]"),
        ("id eq \"a\" and manager eq \"b\"", "(id eq \"a\" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"b\")"),
    ])
    func pathsResolveToCanonicalNames(input: String, resolved: String) throws {
        #expect(try userSchema.parseFilter(input).description == resolved)
    }

    @Test func resolvedPathCarriesWhatSQLNeeds() throws {
        guard case .compare(let p, .eq, _) = try userSchema.parseFilter("emails.value eq \"x\"") else {
            Issue.record("not a comparison"); return
        }
        #expect(p.schemaURN == StandardSchemas.userURN)
        #expect(p.container == .core)
        #expect(p.attribute.name == "emails")
        #expect(p.subAttribute?.name == "value")
        #expect(p.multiValued)
        #expect(!p.caseExact)
        #expect(p.type == .string)
        guard case .compare(let q, .eq, _) = try userSchema.parseFilter("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"1\"") else {
            Issue.record("not a comparison"); return
        }
        #expect(q.container == .extension(StandardSchemas.enterpriseUserURN))
        #expect(q.attribute.name == "employeeNumber")
        guard case .compare(let r, .eq, _) = try userSchema.parseFilter("externalId eq \"1\"") else { return }
        #expect(r.caseExact)
        #expect(try userSchema.resolveSortBy("meta.lastModified").type == .dateTime)
        #expect(try userSchema.resolveSortBy("emails").description == "emails.value")
        #expect(scimError { try userSchema.resolveSortBy("nope") } == .invalidValue("sortBy: 'nope' is not an attribute of this resource type"))
    }

    @Test(arguments: [
        ("unknownAttr eq \"x\"", "'unknownAttr' is not an attribute of this resource type"),
        ("name.foo eq \"x\"", "'name.foo' names an unknown sub-attribute"),
        ("userName.x eq \"1\"", "'userName.x' gives a sub-attribute of an attribute that has none"),
        ("urn:foo:bar:attr eq \"1\"", "'urn:foo:bar:attr' names a schema this resource type does not have"),
        ("active gt true", "'gt' cannot be used with boolean attribute 'active'"),
        ("active co \"t\"", "'co' needs a string attribute; 'active' is boolean"),
        ("meta.created gt \"yesterday\"", "'meta.created' is a dateTime; the value is not an xsd:dateTime"),
        ("active eq 1", "the value compared with 'active' does not match its type boolean"),
        ("emails[foo eq \"x\"]", "'foo' names an unknown sub-attribute"),
        ("userName[value eq \"x\"]", "'userName' cannot take a value filter: it is not a complex attribute"),
        ("x509Certificates.value gt \"a\"", "'gt' cannot be used with binary attribute 'x509Certificates.value'"),
        ("name eq \"x\"", "'name' is complex; compare one of its sub-attributes"),
    ])
    func resolutionErrors(input: String, detail: String) {
        #expect(scimError { try userSchema.parseFilter(input) } == .invalidFilter(detail))
    }
}

@Suite struct FilterEvaluationTests {
    @Test(arguments: [
        ("userName eq \"BJENSEN@EXAMPLE.COM\"", true),   // caseExact false
        ("externalId eq \"BJENSEN\"", false),             // caseExact true
        ("externalId eq \"bjensen\"", true),
        ("id eq \"2819c223-7f76-453a-919d-413861904646\"", true),
        ("name.familyName co \"ens\"", true),
        ("name.familyName sw \"jen\"", true),
        ("name.familyName ew \"SEN\"", true),
        ("name.familyName ew \"x\"", false),
        ("name.familyName gt \"Jansen\"", true),
        ("name.familyName lt \"jansen\"", false),
        ("title pr", true),
        ("profileUrl pr", false),
        ("name pr", true),
        ("emails pr", true),
        ("ims pr", false),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr", true),
        ("emails.type eq \"home\"", true),
        ("emails[type eq \"work\" and value co \"@example.com\"]", true),
        ("emails[type eq \"home\" and value co \"@example.com\"]", false),  // both parts on the same element
        ("emails.type eq \"home\" and emails.value co \"@example.com\"", true),  // any element each
        ("emails co \"jensen.org\"", true),
        ("emails.type ne \"work\"", false),
        ("nickName ne \"x\"", true),
        ("profileUrl ne \"x\"", true),
        ("profileUrl eq null", true),
        ("title eq null", false),
        ("title ne null", true),
        ("meta.lastModified gt \"2011-05-13T04:42:34Z\"", false),
        ("meta.lastModified ge \"2011-05-13T04:42:34Z\"", true),
        ("meta.lastModified lt \"2011-05-13T05:42:34+01:00\"", false),  // same instant
        ("meta.lastModified le \"2011-05-13T05:42:34+01:00\"", true),
        ("meta.created lt \"2011-01-01T00:00:00.5Z\"", true),
        ("active eq true", true),
        ("active eq false", false),
        ("active ne false", true),
        ("not (active eq true)", false),
        ("userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")", true),
        ("userType eq \"Intern\" or title pr and nickName eq \"Babs\"", true),
        ("(userType eq \"Intern\" or title pr) and nickName eq \"Nobody\"", false),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"tour operations\"", true),
        ("manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\"", true),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber gt \"700000\"", true),
        ("emails[type eq \"work\"].value eq \"bjensen@example.com\"", true),
        ("emails[type eq \"home\"].value eq \"bjensen@example.com\"", false),
        ("addresses[type eq \"work\" and primary eq true]", true),
        ("addresses[type eq \"home\" and primary eq true]", false),
        ("roles[not (type eq \"system\")]", false),
        ("schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"", true),
        ("schemas eq \"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER\"", false),
        ("userName eq \"bjensen@example.com\" and active eq true and not (title eq \"x\")", true),
    ])
    func evaluatesAgainstAUser(filter: String, expected: Bool) throws {
        #expect(try userSchema.parseFilter(filter).matches(storedUser) == expected)
    }

    @Test func numbersCompareByValueInACustomExtension() throws {
        let ext = Schema(id: "urn:example:params:scim:schemas:extension:acme:2.0:User", name: "Acme", attributes: [
            AttributeDefinition("level", .integer), AttributeDefinition("score", .decimal),
        ])
        let s = try #require(registry.adding(extension: ext, to: "User").resourceSchema("User"))
        let doc = object("""
        {"userName":"a","urn:example:params:scim:schemas:extension:acme:2.0:User":{"level":10,"score":2.50}}
        """)
        #expect(try s.parseFilter("level gt 9").matches(doc))
        #expect(scimError { try s.parseFilter("level eq 10.5") } == .invalidFilter("'urn:example:params:scim:schemas:extension:acme:2.0:User:level' is an integer; 10.5 is not"))
        #expect(try s.parseFilter("score eq 2.5").matches(doc))
        #expect(try s.parseFilter("score lt 2.51 and score ge 2.5e0").matches(doc))
        #expect(try s.parseFilter("level le 9").matches(doc) == false)
    }

    @Test func groupDisplayNameMatchesCaseInsensitively() throws {
        // Entra validator: the group created as UHYYWKURUTZS must be found with lowercase [docs/idp-behaviour.md#microsoft-scim-validator].
        let g = object("{\"displayName\":\"UHYYWKURUTZS\"}")
        #expect(try groupSchema.parseFilter("displayName eq \"uhyywkurutzs\"").matches(g))
        #expect(try groupSchema.parseFilter("members[value eq \"x\"]").matches(g) == false)
    }

    @Test func comparisonsAreByteExactNotCanonicalEquivalence() throws {
        let u = object("{\"userName\":\"caf\u{E9}\"}")  // precomposed é
        #expect(try userSchema.parseFilter("userName eq \"caf\u{E9}\"").matches(u))
        #expect(try userSchema.parseFilter("userName eq \"cafe\u{301}\"").matches(u) == false)  // decomposed
    }

    @Test func unicodeCaseFolding() throws {
        let u = object("{\"userName\":\"ÉLODIE@example.com\"}")
        #expect(try userSchema.parseFilter("userName eq \"élodie@EXAMPLE.com\"").matches(u))
        #expect(try userSchema.parseFilter("userName sw \"élo\"").matches(u))
    }
}

@Suite struct DateTimeTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0), Int32(0)),
        ("2011-05-13T04:42:34Z", Int64(1305261754), Int32(0)),
        ("2011-05-13T06:42:34+02:00", Int64(1305261754), Int32(0)),
        ("2000-02-29T23:59:59.123456789Z", Int64(951868799), Int32(123456789)),
        ("1969-12-31T23:59:59.5Z", Int64(-1), Int32(500000000)),
        ("2011-05-13T04:42:34", Int64(1305261754), Int32(0)),
    ])
    func parses(text: String, seconds: Int64, nanos: Int32) {
        #expect(SCIMDateTime(parsing: text) == SCIMDateTime(seconds: seconds, nanoseconds: nanos))
    }

    @Test(arguments: ["2011-02-29T00:00:00Z", "2011-13-01T00:00:00Z", "2011-05-13 04:42:34Z", "2011-05-13T04:42Z",
                      "04-12-2018 00:00:00", "2011-05-13T04:42:34.Z", "2011-05-13T04:42:34+0200", "yesterday"])
    func rejects(text: String) {
        #expect(SCIMDateTime(parsing: text) == nil)
    }

    @Test func formatsISO8601() {
        #expect(SCIMDateTime(seconds: 1305261754).iso8601 == "2011-05-13T04:42:34Z")
        #expect(SCIMDateTime(seconds: 951868799, nanoseconds: 123456789).iso8601 == "2000-02-29T23:59:59.123Z")
        #expect(SCIMDateTime(seconds: -1).iso8601 == "1969-12-31T23:59:59Z")
    }
}
