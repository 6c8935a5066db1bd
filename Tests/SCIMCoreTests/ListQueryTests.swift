import Testing
import JSON
@testable import SCIMCore

private let config = ServiceProviderConfiguration()

private func query(_ q: String, _ schema: ResourceSchema = userSchema, _ c: ServiceProviderConfiguration = config) throws(SCIMError) -> ListQuery {
    try ListQuery(queryString: q, schema: schema, configuration: c)
}

/// List requests exactly as the IdPs send them (docs/idp-behaviour.md), including their URL encodings.
@Suite struct ListQueryTests {
    @Test(arguments: [
        // Okta: %20 [docs/idp-behaviour.md#okta-overview] and + [docs/idp-behaviour.md#okta-overview] encodings, startIndex/count.
        ("filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100", "userName eq \"test.user@okta.local\"", Pagination.index(startIndex: 1, count: 100)),
        ("filter=userName+eq+%22jane.doe%40example.com%22&startIndex=1&count=100", "userName eq \"jane.doe@example.com\"", .index(startIndex: 1, count: 100)),
        // Entra: + with raw quotes [docs/idp-behaviour.md#microsoft-scim-validator][docs/idp-behaviour.md#entra-overview].
        ("filter=userName+eq+\"Test_User_00aa00aa\"", "userName eq \"Test_User_00aa00aa\"", .index(startIndex: 1, count: 100)),
        // OneLogin: trailing & [docs/idp-behaviour.md#onelogin-overview].
        ("filter=userName+eq+%22onelogin-test-user01%22&", "userName eq \"onelogin-test-user01\"", .index(startIndex: 1, count: 100)),
        // Google: only startIndex [docs/idp-behaviour.md#google-connection-test-and-lookups].
        ("filter=userName%20eq%20%22user%40domain.com%22&startIndex=1", "userName eq \"user@domain.com\"", .index(startIndex: 1, count: 100)),
        // Ping: operator and attribute case vary [docs/idp-behaviour.md#ping-lookups-by-filter].
        ("filter=username+Eq+%22jsmith%22", "userName eq \"jsmith\"", .index(startIndex: 1, count: 100)),
        // Okta test connection [docs/idp-behaviour.md#okta-connection-test].
        ("startIndex=1&count=2", "", .index(startIndex: 1, count: 2)),
        // RFC 7644 §3.4.2.4: startIndex < 1 is 1, negative count is 0; above maxPageSize is capped.
        ("startIndex=0&count=-5", "", .index(startIndex: 1, count: 0)),
        ("?count=5000", "", .index(startIndex: 1, count: 1000)),
        // RFC 9865 cursors.
        ("cursor=&count=10", "", .cursor(nil, count: 10)),
        ("cursor=VZUTiyhEQJ94IR-~._&count=10", "", .cursor("VZUTiyhEQJ94IR-~._", count: 10)),
    ] as [(String, String, Pagination)])
    func idpQueries(raw: String, filter: String, pagination: Pagination) throws {
        let q = try query(raw)
        #expect((q.filter?.description ?? "") == filter)
        #expect(q.pagination == pagination)
    }

    @Test func entraGroupLookupExcludesMembers() throws {  // [docs/idp-behaviour.md#entra-overview]
        let q = try query("excludedAttributes=members&filter=displayName+eq+%2286a5a8e5-9d29-4bd5-8b28-b1b0c7a7c5f0%22", groupSchema)
        #expect(q.filter?.description == "displayName eq \"86a5a8e5-9d29-4bd5-8b28-b1b0c7a7c5f0\"")
        #expect(!q.projection.includes("members"))
    }

    @Test func sortAndDefaultCursorMethod() throws {
        let q = try query("sortBy=name.familyName&sortOrder=Descending")
        #expect(q.sortBy?.description == "name.familyName")
        #expect(q.sortOrder == .descending)
        let cursorFirst = ServiceProviderConfiguration(defaultPaginationMethod: "cursor", defaultPageSize: 50)
        #expect(try query("", userSchema, cursorFirst).pagination == .cursor(nil, count: 50))
    }

    @Test(arguments: [
        ("startIndex=abc", SCIMError.invalidValue("'startIndex' must be an integer")),
        ("startIndex=1&cursor=abc", .invalidValue("use either 'startIndex' or 'cursor', not both")),
        ("cursor=abc%21def", SCIMError(status: 400, scimType: .invalidCursor, detail: "the cursor is not valid")),
        ("sortOrder=sideways", .invalidValue("sortOrder must be 'ascending' or 'descending'")),
        ("sortBy=nope", .invalidValue("sortBy: 'nope' is not an attribute of this resource type")),
        ("filter=userName+eq", .invalidFilter("missing value after 'eq' at position 11")),
    ])
    func errors(raw: String, expected: SCIMError) {
        #expect(scimError { try query(raw) } == expected)
    }

    @Test func searchRequestBody() throws {
        let q = try ListQuery(searchRequest: json("""
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"attributes":["displayName","userName"],
         "excludedAttributes":["emails"],"filter":"displayName sw \\"smith\\"","startIndex":1,"count":10}
        """), schema: userSchema, configuration: config)
        #expect(q.filter?.description == "displayName sw \"smith\"")
        #expect(q.pagination == .index(startIndex: 1, count: 10))
        #expect(q.projection.apply(to: storedUser).text == "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"userName\":\"bjensen@example.com\",\"displayName\":\"Babs Jensen\"}")
        #expect(scimError { try ListQuery(searchRequest: json("{\"count\":\"10\"}"), schema: userSchema, configuration: config) }
                == .invalidValue("'count' must be an integer"))
    }

    @Test func queryStringDecoding() {
        #expect(QueryString.decode("a=1&&b=x+y%20z&c&d=%zz%4").map { "\($0.name)=\($0.value)" } == ["a=1", "b=x y z", "c=", "d=%zz%4"])
        #expect(QueryString.unescape("%C3%A9t%C3%A9") == "été")
    }
}
