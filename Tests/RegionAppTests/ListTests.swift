import HTTPCore
import JSON
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import SCIMCore
import Synchronization
import Testing

@Suite struct ListTests {
    let region: Region
    init() throws { region = try Region() }

    /// A tenant with users u00…u(n-1) created in order.
    func populated(_ n: Int) -> (Tenant, [String]) {
        let t = region.tenant()
        let ids = (0..<n).map { i in
            t.user("u\(i < 10 ? "0" : "")\(i)@example.com", #","displayName":"\#(["Zed", "amy", "Bob", "carl"][i % 4]) \#(i)""#)
        }
        return (t, ids)
    }

    @Test func indexPagingIsStableAndReportsTotals() {
        let (t, ids) = populated(7)
        let page = t.send(.get, "/Users?startIndex=1&count=2")
        #expect(page.json["totalResults"] == 7)
        #expect(page.json["startIndex"] == 1)
        #expect(page.json["itemsPerPage"] == 2)
        #expect(page.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        // Default order is creation order (time-ordered ids), the same on every page.
        #expect(t.ids("/Users?startIndex=1&count=3") == Array(ids[0..<3]))
        #expect(t.ids("/Users?startIndex=4&count=3") == Array(ids[3..<6]))
        let last = t.send(.get, "/Users?startIndex=6&count=5")
        #expect(last.json["startIndex"] == 6)
        #expect(last.json["itemsPerPage"] == 2)
        // Beyond the end: empty page, total still right; startIndex < 1 means 1 (RFC 7644 §3.4.2.4).
        #expect(t.send(.get, "/Users?startIndex=50").json["itemsPerPage"] == 0)
        #expect(t.ids("/Users?startIndex=-3&count=1") == [ids[0]])
        // count=0: only totalResults.
        let zero = t.send(.get, "/Users?count=0")
        #expect(zero.json["totalResults"] == 7)
        #expect(zero.json["Resources"] == [])
        // Google sends no count: the default page size applies.
        #expect(t.ids("/Users?filter=userName%20eq%20%22u03%40example.com%22&startIndex=1") == [ids[3]])
        // OneLogin's trailing '&'.
        #expect(t.ids("/Users?filter=userName+eq+%22u04@example.com%22&") == [ids[4]])
    }

    @Test func maxPageSizeIsEnforced() throws {
        var settings = RegionSettings()
        settings.serviceProvider.maxPageSize = 3
        let small = try Region(settings: settings)
        let t = small.tenant()
        for i in 0..<5 { t.user("p\(i)") }
        #expect(t.send(.get, "/Users?count=100").json["itemsPerPage"] == 3)
        #expect(t.send(.get, "/ServiceProviderConfig").json["pagination"]?["maxPageSize"] == 3)
    }

    @Test func sortByAndSortOrder() {
        let (t, ids) = populated(8)
        // displayName sorts case-insensitively: amy, Bob, carl, Zed.
        let ascending = t.send(.get, "/Users?sortBy=displayName&count=8&attributes=displayName").json["Resources"]?.array?
            .compactMap { $0["displayName"]?.string }
        #expect(ascending == ["amy 1", "amy 5", "Bob 2", "Bob 6", "carl 3", "carl 7", "Zed 0", "Zed 4"])
        let descending = t.ids("/Users?sortBy=userName&sortOrder=descending&count=3")
        #expect(descending == [ids[7], ids[6], ids[5]])
        #expect(t.send(.get, "/Users?sortBy=nope").status.code == 400)
        #expect(t.send(.get, "/Users?sortOrder=sideways").status.code == 400)
    }

    @Test func cursorPagingWalksEveryResourceOnceInKeysetOrder() {
        let (t, ids) = populated(9)
        for (sort, expected) in [("", ids), ("&sortBy=userName&sortOrder=descending", Array(ids.reversed()))] {
            var seen: [String] = []
            var cursor = ""
            var pages = 0
            repeat {
                let response = t.send(.get, "/Users?count=4&cursor=\(cursor)\(sort)")
                #expect(response.status.code == 200)
                #expect(response.json["startIndex"] == nil)
                seen += (response.json["Resources"]?.array ?? []).compactMap { $0["id"]?.string }
                cursor = response.json["nextCursor"]?.string ?? ""
                pages += 1
                // A resource created mid-walk after the cursor position shows up; nothing is repeated.
            } while !cursor.isEmpty && pages < 10
            #expect(seen == expected)
            #expect(pages == 3)
        }
    }

    @Test func cursorsWithNullSortKeysAndConcurrentInserts() {
        let t = region.tenant()
        // title is missing on some users: they sort last ascending, first descending.
        let a = t.user("a", #","title":"b""#), b = t.user("b"), c = t.user("c", #","title":"a""#), d = t.user("d")
        func walk(_ sort: String) -> [String] {
            var out: [String] = []
            var cursor = ""
            repeat {
                let response = t.send(.get, "/Users?count=1&cursor=\(cursor)&sortBy=title\(sort)")
                out += (response.json["Resources"]?.array ?? []).compactMap { $0["id"]?.string }
                cursor = response.json["nextCursor"]?.string ?? ""
            } while !cursor.isEmpty && out.count < 10
            return out
        }
        #expect(walk("") == [c, a, b, d])
        #expect(walk("&sortOrder=descending") == [d, b, a, c])
    }

    @Test func cursorsAreTamperProofBoundToTenantQueryAndTime() throws {
        let (t, _) = populated(3)
        let first = t.send(.get, "/Users?count=1&cursor=")
        let cursor = try #require(first.json["nextCursor"]?.string)
        #expect(cursor.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x2E || c == 0x5F || c == 0x7E
        })
        #expect(t.send(.get, "/Users?count=1&cursor=\(cursor)").status.code == 200)
        // Another tenant cannot use it, even though cursors carry only ids and keys.
        let other = region.tenant()
        let stolen = other.send(.get, "/Users?count=1&cursor=\(cursor)")
        #expect(stolen.status.code == 400)
        #expect(stolen.scimType == "invalidCursor")
        // Editing one character is detected.
        var bytes = Array(cursor.utf8)
        bytes[3] = bytes[3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(t.send(.get, "/Users?count=1&cursor=\(String(decoding: bytes, as: UTF8.self))").scimType == "invalidCursor")
        #expect(t.send(.get, "/Users?count=1&cursor=junk").scimType == "invalidCursor")
        // A different query (filter or sort) refuses it.
        #expect(t.send(.get, "/Users?count=1&sortBy=userName&cursor=\(cursor)").scimType == "invalidCursor")
        #expect(t.send(.get, "/Groups?count=1&cursor=\(cursor)").scimType == "invalidCursor")
        #expect(t.send(.get, "/Users?count=1&startIndex=2&cursor=\(cursor)").status.code == 400)
    }

    @Test func expiredCursorsAreRefused() throws {
        let clock = ManualClock(1_000_000)
        let region = try Region(clock: { clock.now })
        let t = region.tenant()
        t.user("x"); t.user("y")
        let cursor = try #require(t.send(.get, "/Users?count=1&cursor=").json["nextCursor"]?.string)
        clock.advance(3601)
        let response = t.send(.get, "/Users?count=1&cursor=\(cursor)")
        #expect(response.status.code == 400)
        #expect(response.scimType == "expiredCursor")
    }

    @Test func searchEndpointsTakeASearchRequest() {
        let (t, ids) = populated(5)
        let g = t.group("Searchers", #","members":[{"value":"\#(ids[0])"}]"#)
        let response = t.send(.post, "/Users/.search", """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"displayName sw \\"zed\\"",
             "attributes":["userName"],"sortBy":"userName","sortOrder":"descending","startIndex":1,"count":10}
            """)
        #expect(response.status.code == 200)
        #expect(response.json["Resources"] == [
            ["schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": .string(ids[4]), "userName": "u04@example.com"],
            ["schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": .string(ids[0]), "userName": "u00@example.com"],
        ])
        // Root search: Users then Groups; the filter applies where it resolves.
        let root = t.send(.post, "/.search", #"{"filter":"displayName sw \"s\" or displayName sw \"zed\"","attributes":["displayName"]}"#)
        #expect(root.status.code == 200)
        #expect(root.json["totalResults"] == 3)
        #expect((root.json["Resources"]?.array ?? []).compactMap { $0["id"]?.string } == [ids[0], ids[4], g])
        let paged = t.send(.post, "/.search", #"{"filter":"displayName sw \"s\" or displayName sw \"zed\"","startIndex":2,"count":2}"#)
        #expect((paged.json["Resources"]?.array ?? []).compactMap { $0["id"]?.string } == [ids[4], g])
        #expect(t.send(.post, "/.search", #"{"filter":"userName eq \"u01@example.com\""}"#).json["totalResults"] == 1)
        #expect(t.send(.post, "/.search", #"{"filter":"nope eq 1"}"#).status.code == 400)
    }

    @Test func badFiltersAre400InvalidFilter() {
        let t = region.tenant()
        for filter in ["userName eq", "userName xx \"a\"", "nosuch eq \"a\"", "active gt true", "(userName eq \"a\""] {
            let response = t.send(.get, "/Users?filter=" + PercentEncoding.encode(filter))
            #expect(response.status.code == 400, "\(filter)")
            #expect(response.scimType == "invalidFilter", "\(filter)")
        }
        // Entra Test Connection: a random GUID finds nothing, with 200 and an empty list.
        let empty = t.send(.get, "/Users?filter=userName+eq+%2200aa00aa-bb11-cc22-dd33-44ee44ee44ee%22")
        #expect(empty.status.code == 200)
        #expect(empty.json["totalResults"] == 0)
        #expect(empty.json["Resources"] == [])
    }
}

/// A settable clock for cursor expiry.
final class ManualClock: Sendable {
    private let seconds: Mutex<Int64>
    init(_ start: Int64) { seconds = Mutex(start) }
    var now: Int64 { seconds.withLock { $0 } }
    func advance(_ by: Int64) { seconds.withLock { $0 += by } }
}
