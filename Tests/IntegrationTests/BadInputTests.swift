#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import NetIO
import Postgres
import TestSupport

/// One hostile or broken request and the documented answer (README "Limits", DESIGN "Error contract",
/// RFC 7644 §3.12, RFC 9865 §3).
struct BadInput: Sendable, CustomStringConvertible {
    enum Request: Sendable {
        /// Bytes written as they are to the gateway's public port; `{TOKEN}` is replaced by a valid bearer token.
        case raw([UInt8])
        /// A SCIM request with a valid token over the normal client.
        case scim(HTTPMethod, String, body: [UInt8]?, contentType: String?)
    }
    var name: String
    var request: Request
    var status: Int
    /// The expected `scimType`; nil means the answer must carry none.
    var scimType: String?
    var description: String { name }

    static func raw(_ name: String, _ text: String, _ status: Int) -> BadInput {
        BadInput(name: name, request: .raw(Array(text.utf8)), status: status, scimType: nil)
    }
    static func raw(_ name: String, bytes: [UInt8], _ status: Int) -> BadInput {
        BadInput(name: name, request: .raw(bytes), status: status, scimType: nil)
    }
    static func scim(_ name: String, _ method: HTTPMethod, _ target: String, _ body: String? = nil,
                     contentType: String? = "application/scim+json", _ status: Int, _ scimType: String? = nil) -> BadInput {
        BadInput(name: name, request: .scim(method, target, body: body.map { Array($0.utf8) }, contentType: contentType),
                 status: status, scimType: scimType)
    }
    static func scim(_ name: String, _ method: HTTPMethod, _ target: String, _ status: Int, _ scimType: String? = nil) -> BadInput {
        BadInput(name: name, request: .scim(method, target, body: nil, contentType: nil), status: status, scimType: scimType)
    }
    static func scim(_ name: String, _ method: HTTPMethod, _ target: String, bytes: [UInt8], _ status: Int, _ scimType: String?) -> BadInput {
        BadInput(name: name, request: .scim(method, target, body: bytes, contentType: "application/scim+json"),
                 status: status, scimType: scimType)
    }
}

/// The placeholder ids the matrix uses for an existing user and group (replaced at run time).
let existingUser = "{USER}", existingGroup = "{GROUP}"

enum BadInputs {
    static let patchOp = #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":"#
    static func patch(_ ops: String) -> String { patchOp + ops + "}" }
    static let user = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"#

    static func repeated(_ piece: String, _ count: Int, separator: String = ",") -> String {
        Array(repeating: piece, count: count).joined(separator: separator)
    }

    /// Size and framing limits and malformed HTTP, at the gateway's HTTP layer.
    static let http: [BadInput] = [
        .raw("oversize body by Content-Length", "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: 2000000\r\n\r\n", 413),
        .raw("oversize body behind Expect: 100-continue", "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nExpect: 100-continue\r\nContent-Length: 1048577\r\n\r\n", 413),
        .raw("oversize chunk", "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n", 413),
        .raw("oversize chunks adding up", "POST /scim/v2/Bulk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n" + repeated("80000\r\n" + String(repeating: " ", count: 0x80000) + "\r\n", 3, separator: ""), 413),
        .raw("Content-Length beyond Int", "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
        .raw("request line of 9 KiB", "GET /scim/v2/Users?filter=" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        .raw("10k-node filter in the URL", "GET /scim/v2/Users?filter=" + repeated("userName+eq+%22a%22", 5000, separator: "+or+") + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n", 414),
        .raw("header section of 17 KiB", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Flood: " + String(repeating: "f", count: 17 * 1024) + "\r\n\r\n", 431),
        .raw("101 header fields", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" + (0..<101).map { "X-H\($0): v\r\n" }.joined() + "\r\n", 431),
        .raw("1000 header fields", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" + (0..<1000).map { "A\($0): \r\n" }.joined() + "\r\n", 431),
        .raw("Content-Length and Transfer-Encoding (smuggling)", "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        .raw("two different Content-Lengths", "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
        .raw("malformed chunk size", "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        .raw("missing Host", "GET /scim/v2/Users HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n", 400),
        .raw("two Hosts", "GET /scim/v2/Users HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        .raw("obsolete line folding", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400),
        .raw("NUL in a header value", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n", 400),
        .raw("space before the colon", "GET /scim/v2/Users HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        .raw("HTTP/2.0 request line", "GET /scim/v2/Users HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        .raw("garbage version", "GET /scim/v2/Users HTTP/1.1x\r\nHost: x\r\n\r\n", 400),
        .raw("unknown method", "BREW /scim/v2/Users HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        .raw("unknown transfer coding", "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        .raw("unsupported expectation", "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\n{}", 417),
        .raw("invalid UTF-8 in the request target", bytes: Array("GET /scim/v2/Users/".utf8) + [0xC3, 0x28, 0xFF] + Array(" HTTP/1.1\r\nHost: x\r\n\r\n".utf8), 400),
        .raw("invalid UTF-8 in the bearer token", bytes: Array("GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer scim_".utf8) + [0xFF, 0xFE, 0xC0, 0xAF] + Array("\r\n\r\n".utf8), 401),
        .raw("SQL in the bearer token", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ' OR '1'='1\r\n\r\n", 401),
        .raw("SQL in a token-shaped bearer token", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer scim_'OR'1'='1'--____________________________________________\r\n\r\n", 401),
    ]

    /// Broken JSON and SCIM bodies, absurd parameters, SQL metacharacters, wrong media types, unknown schemas.
    static let scim: [BadInput] = [
        // Invalid UTF-8 and JSON that must not be guessed at.
        .scim("invalid UTF-8 in a JSON string", .post, "/scim/v2/Users", bytes: Array((user + "\"a").utf8) + [0xC3, 0x28] + Array("\"}".utf8), 400, "invalidSyntax"),
        .scim("overlong UTF-8 encoding of '/'", .post, "/scim/v2/Users", bytes: Array((user + "\"a").utf8) + [0xC0, 0xAF] + Array("\"}".utf8), 400, "invalidSyntax"),
        .scim("UTF-8 encoded surrogate", .post, "/scim/v2/Users", bytes: Array((user + "\"a").utf8) + [0xED, 0xA0, 0x80] + Array("\"}".utf8), 400, "invalidSyntax"),
        .scim("unpaired surrogate escape", .post, "/scim/v2/Users", user + #""a\ud800b"}"#, 400, "invalidSyntax"),
        .scim("Latin-1 body", .post, "/scim/v2/Users", bytes: Array((user + "\"caf").utf8) + [0xE9] + Array("\"}".utf8), 400, "invalidSyntax"),
        .scim("NUL character in userName", .post, "/scim/v2/Users", user + #""nul\u0000byte@example.com"}"#, 400, "invalidValue"),
        .scim("duplicate JSON keys", .post, "/scim/v2/Users", user + #""a@example.com","userName":"b@example.com"}"#, 400, "invalidSyntax"),
        .scim("same attribute in two casings", .post, "/scim/v2/Users", user + #""a@example.com","USERNAME":"b@example.com"}"#, 400, "invalidSyntax"),
        .scim("trailing garbage after the JSON", .post, "/scim/v2/Users", user + #""a@example.com"} {"#, 400, "invalidSyntax"),
        .scim("truncated JSON", .post, "/scim/v2/Users", user + #""a@exa"#, 400, "invalidSyntax"),
        .scim("empty body", .post, "/scim/v2/Users", "", 400, "invalidSyntax"),
        .scim("JSON array instead of a resource", .post, "/scim/v2/Users", "[]", 400, "invalidSyntax"),
        .scim("number of 400 digits", .post, "/scim/v2/Users", user + #""a@example.com","x":1"# + String(repeating: "0", count: 400) + "}", 201, nil),
        // Depth and size.
        .scim("JSON nested 10000 deep", .post, "/scim/v2/Users", String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000), 400, "invalidSyntax"),
        .scim("object nested 100 deep in an attribute", .post, "/scim/v2/Users", user + #""a@example.com","name":"# + String(repeating: #"{"a":"#, count: 100) + "1" + String(repeating: "}", count: 100) + "}", 400, "invalidSyntax"),
        .scim("PATCH value nested 5000 deep", .patch, "/scim/v2/Users/" + existingUser, patch(#"[{"op":"add","path":"title","value":"# + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}]"), 400, "invalidSyntax"),
        .scim("100k-element emails array", .post, "/scim/v2/Users", user + #""big@example.com","emails":["# + repeated("1", 100_000) + "]}", 400, "invalidValue"),
        .scim("100k PATCH operations", .patch, "/scim/v2/Users/" + existingUser, patch("[" + repeated("0", 100_000) + "]"), 400, "tooMany"),
        .scim("100k Bulk operations", .post, "/scim/v2/Bulk", #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":["# + repeated("{}", 100_000) + "]}", 413, nil),
        .scim("100k group members", .post, "/scim/v2/Groups", #"{"displayName":"huge","members":["# + repeated("0", 100_000) + "]}", 400, "invalidValue"),
        .scim("100k-element attributes list in a .search", .post, "/scim/v2/Users/.search", #"{"attributes":["# + repeated("\"id\"", 100_000) + "]}", 200, nil),
        .scim("userName of 900 KB (over the index row limit)", .post, "/scim/v2/Users", user + "\"" + String(repeating: "x", count: 900_000) + "\"}", 400, "invalidValue"),
        // Filters.
        .scim("10k-node filter in a .search", .post, "/scim/v2/Users/.search", #"{"filter":""# + repeated(#"userName eq \"a\""#, 5000, separator: " or ") + #""}"#, 400, "invalidFilter"),
        .scim("300-node filter (under the length limit)", .get, "/scim/v2/Users?filter=" + repeated("title+pr", 150, separator: "+or+"), 400, "invalidFilter"),
        .scim("filter nested 40 parentheses deep", .get, "/scim/v2/Users?filter=" + String(repeating: "(", count: 40) + "title+pr" + String(repeating: ")", count: 40), 400, "invalidFilter"),
        .scim("filter that does not parse", .get, "/scim/v2/Users?filter=userName+eq", 400, "invalidFilter"),
        .scim("filter with an unknown operator", .get, "/scim/v2/Users?filter=userName+like+%22a%25%22", 400, "invalidFilter"),
        // Documented leniency (SCIMCore QueryString): percent-decoded invalid UTF-8 is repaired with U+FFFD.
        .scim("filter with invalid UTF-8 (percent-encoded)", .get, "/scim/v2/Users?filter=userName+eq+%22%C3%28%22", 200, nil),
        // SQL metacharacters in every place a value reaches the database layer.
        .scim("SQL in a filter value", .get, "/scim/v2/Users?filter=userName+eq+%22x%27+OR+%271%27%3D%271%22", 200, nil),
        .scim("SQL in a filter attribute", .get, "/scim/v2/Users?filter=userName%27+OR+1%3D1--+eq+%22x%22", 400, "invalidFilter"),
        .scim("SQL in a value-path filter", .get, "/scim/v2/Users?filter=emails%5Bvalue+eq+%22%27%3B+DROP+TABLE+users%3B--%22%5D", 200, nil),
        .scim("SQL in sortBy", .get, "/scim/v2/Users?sortBy=userName%3BDROP+TABLE+users", 400, "invalidValue"),
        .scim("SQL in sortOrder", .get, "/scim/v2/Users?sortBy=userName&sortOrder=ascending%3BDROP+TABLE+users", 400, "invalidValue"),
        .scim("SQL in startIndex", .get, "/scim/v2/Users?startIndex=1%3BDROP+TABLE+users", 400, "invalidValue"),
        .scim("SQL in count", .get, "/scim/v2/Users?count=1+OR+1%3D1", 400, "invalidValue"),
        .scim("SQL in a cursor", .get, "/scim/v2/Users?cursor=%27%3B+DROP+TABLE+users%3B--", 400, "invalidCursor"),
        .scim("SQL in attributes", .get, "/scim/v2/Users?attributes=userName%2C%22%3BDROP+TABLE+users%3B--", 200, nil),
        .scim("SQL in a resource id (GET)", .get, "/scim/v2/Users/1%27+OR+%271%27%3D%271", 404, nil),
        .scim("SQL in a resource id (DELETE)", .delete, "/scim/v2/Users/1%3BDELETE+FROM+users", 404, nil),
        .scim("SQL in a resource id (PUT)", .put, "/scim/v2/Users/x%27--", user + #""x@example.com"}"#, 404, nil),
        .scim("SQL in a PATCH path", .patch, "/scim/v2/Users/" + existingUser, patch(#"[{"op":"replace","path":"name.familyName'; DROP TABLE users;--","value":"x"}]"#), 400, "invalidPath"),
        // (`eq` filters that match nothing create the element, Entra's way [docs/idp-behaviour.md#entra-default-dialect-patch]; `co` does not.)
        .scim("SQL in a PATCH value filter", .patch, "/scim/v2/Users/" + existingUser, patch(#"[{"op":"replace","path":"emails[value co \"a' OR 1=1 --\"].value","value":"x@example.com"}]"#), 400, "noTarget"),
        .scim("SQL as a member id", .patch, "/scim/v2/Groups/" + existingGroup, patch(#"[{"op":"add","path":"members","value":[{"value":"x'); DELETE FROM users; --"}]}]"#), 400, "invalidValue"),
        .scim("SQL as a Bulk path", .post, "/scim/v2/Bulk", #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"DELETE","path":"/Users/' OR 1=1 --"}]}"#, 200, nil),
        // Media types.
        .scim("text/plain body", .post, "/scim/v2/Users", user + #""ct@example.com"}"#, contentType: "text/plain", 415),
        .scim("XML body", .post, "/scim/v2/Users", "<User><userName>ct@example.com</userName></User>", contentType: "application/xml", 415),
        .scim("form-encoded body", .post, "/scim/v2/Users", "userName=ct%40example.com", contentType: "application/x-www-form-urlencoded", 415),
        .scim("multipart body", .patch, "/scim/v2/Users/" + existingUser, "--b\r\n\r\n{}\r\n--b--", contentType: "multipart/form-data; boundary=b", 415),
        .scim("text/html Bulk", .post, "/scim/v2/Bulk", "{}", contentType: "text/html", 415),
        // Absurd paging.
        .scim("startIndex 0 (means 1)", .get, "/scim/v2/Users?startIndex=0", 200, nil),
        .scim("startIndex Int.min (means 1)", .get, "/scim/v2/Users?startIndex=-9223372036854775808", 200, nil),
        .scim("startIndex Int.max (an empty page)", .get, "/scim/v2/Users?startIndex=9223372036854775807", 200, nil),
        .scim("startIndex beyond Int", .get, "/scim/v2/Users?startIndex=99999999999999999999999", 400, "invalidValue"),
        .scim("startIndex not a number", .get, "/scim/v2/Users?startIndex=abc", 400, "invalidValue"),
        .scim("startIndex as a float", .get, "/scim/v2/Users?startIndex=1.5", 400, "invalidValue"),
        .scim("count negative (means 0)", .get, "/scim/v2/Users?count=-1", 200, nil),
        .scim("count Int.max (capped)", .get, "/scim/v2/Users?count=9223372036854775807", 200, nil),
        .scim("count beyond Int", .get, "/scim/v2/Users?count=1e400", 400, "invalidValue"),
        .scim("startIndex and cursor together", .get, "/scim/v2/Users?startIndex=2&cursor=", 400, "invalidValue"),
        .scim("forged cursor", .get, "/scim/v2/Users?cursor=YzEKVXNlcgp4CjAKMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwCm4.AAAAAAAAAAAAAAAAAAAAAA", 400, "invalidCursor"),
        .scim("count as a string in a .search", .post, "/scim/v2/Users/.search", #"{"count":"10"}"#, 400, "invalidValue"),
        .scim("startIndex as a float in a .search", .post, "/scim/v2/Users/.search", #"{"startIndex":1.5}"#, 400, "invalidValue"),
        // Unknown schemas and endpoints.
        .scim("PATCH with an unknown message schema", .patch, "/scim/v2/Users/" + existingUser, #"{"schemas":["urn:example:bogus"],"Operations":[{"op":"replace","path":"title","value":"x"}]}"#, 400, "invalidSyntax"),
        .scim("Bulk with an unknown message schema", .post, "/scim/v2/Bulk", #"{"schemas":["urn:example:bogus"],"Operations":[]}"#, 400, "invalidSyntax"),
        .scim("PATCH path in an unknown extension", .patch, "/scim/v2/Users/" + existingUser, patch(#"[{"op":"replace","path":"urn:example:bogus:2.0:User:title","value":"x"}]"#), 400, "invalidPath"),
        .scim("filter on an unknown extension attribute", .get, "/scim/v2/Users?filter=urn%3Aexample%3Abogus%3A2.0%3AUser%3Atitle+eq+%22x%22", 400, "invalidFilter"),
        .scim("create with only an unknown schema", .post, "/scim/v2/Users", #"{"schemas":["urn:example:bogus"],"urn:example:bogus":{"userName":"nobody@example.com"}}"#, 400, "invalidValue"),
        .scim("unknown schema URN", .get, "/scim/v2/Schemas/urn:example:bogus", 404, nil),
        .scim("unknown resource type", .get, "/scim/v2/ResourceTypes/Bogus", 404, nil),
        .scim("unknown endpoint", .post, "/scim/v2/Bogus", "{}", 404, nil),
        .scim("method not allowed", .put, "/scim/v2/Users", "{}", 405, nil),
    ]
}

extension Reliability {
    /// The bad-input matrix against a live gateway: every case gets its documented answer, the processes keep serving,
    /// and nothing is written (every row of every database compared before and after).
    @Suite struct BadInputTests {
        static func send(_ input: BadInput, port: Int, token: String, user: String, group: String) throws -> HTTPResponse? {
            func fill(_ s: String) -> String {
                s.replacing(existingUser, with: user).replacing(existingGroup, with: group)
            }
            switch input.request {
            case .raw(let bytes):
                let connection = try RawConnection(port: port)
                var text = bytes
                let placeholder = Array("{TOKEN}".utf8)
                if let at = text.firstRange(of: placeholder) { text.replaceSubrange(at, with: Array(token.utf8)) }
                // The server may answer and close before reading everything (413, 431): a failed send is fine.
                try? connection.send(text)
                return try connection.readResponse(timeoutMillis: 10_000)
            case .scim(let method, let target, let body, let contentType):
                let client = HTTPClient(host: "127.0.0.1", port: port)
                var request = HTTPRequest(method: method, target: fill(target), headers: ["Accept": "application/scim+json"])
                request.headers.add("Authorization", "Bearer \(token)")
                if let contentType { request.headers.add("Content-Type", contentType) }
                // Bodies go as they are (some are deliberately not UTF-8); only targets name the existing resources.
                if let body { request.body = body }
                return try client.send(request, timeout: .seconds(30))
            }
        }

        @Test func everyBadInputGetsItsDocumentedAnswerAndWritesNothing() throws {
            let d = try Deployment.reliability("badinput")
            defer { d.stop() }
            let t = try d.createTenant("bad-input", region: "us")
            let created = try d.scim(.post, "/scim/v2/Users", token: t.token, body: userBody("existing@example.com"))
            let userID = try #require(json(created)?["id"]?.string)
            let group = try d.scim(.post, "/scim/v2/Groups", token: t.token,
                                   body: ["displayName": "existing", "members": [["value": .string(userID)]]])
            let groupID = try #require(json(group)?["id"]?.string)
            let port = d.gateways[0].port
            let before = try databaseFingerprint(d)

            var tried = 0, mismatches: [String] = []
            for input in BadInputs.http + BadInputs.scim where input.status != 201 {
                tried += 1
                guard let response = try Self.send(input, port: port, token: t.token, user: userID, group: groupID) else {
                    mismatches.append("\(input.name): no answer")
                    continue
                }
                let body = json(response)
                let got = "\(response.status.code) \(body?["scimType"]?.string ?? "-")"
                let want = "\(input.status) \(input.scimType ?? "-")"
                if got != want { mismatches.append("\(input.name): got \(got), want \(want) \(String(decoding: response.body.prefix(160), as: UTF8.self))") }
                if response.status.code >= 400 {
                    // Every error is the SCIM error envelope, with the status as a string (RFC 7644 §3.12).
                    if body?["schemas"]?[0]?.string != "urn:ietf:params:scim:api:messages:2.0:Error" || body?["status"]?.string != String(response.status.code) {
                        mismatches.append("\(input.name): not a SCIM error body")
                    }
                    if response.headers["Content-Type"]?.hasPrefix("application/scim+json") != true {
                        mismatches.append("\(input.name): error Content-Type \(response.headers["Content-Type"] ?? "none")")
                    }
                }
                // The gateway keeps serving after each one.
                let health = try d.scim(.get, "/scim/v2/Users?count=1", token: t.token)
                if health.status.code != 200 { mismatches.append("\(input.name): the next request got \(health.status.code)") }
            }
            #expect(mismatches.isEmpty, "\(mismatches.count) of \(tried):\n\(mismatches.joined(separator: "\n"))")
            let after = try databaseFingerprint(d)
            let changed = zip(before.split(separator: "\n"), after.split(separator: "\n")).first { $0 != $1 }
            #expect(before == after, "a bad input changed the databases: \(changed.map { "\($0.0.prefix(200)) → \($0.1.prefix(200))" } ?? "rows added or removed")")
            #expect(d.gateways[0].process.isRunning)
            for id in d.regionIDs { #expect(d.regionProcesses[id]!.isRunning) }
            expectNoSecrets(secretForms([t.token], admin: d.adminToken), in: d.logs, place: "process logs")
            report("bad-input matrix: \(tried) inputs, \(mismatches.count) mismatches, databases unchanged=\(before == after)")
            // On the same deployment, afterwards: what is odd but valid is stored verbatim.
            try Self.expectSQLMetacharactersStoredVerbatim(d)
        }

        /// Inputs that are odd but valid are stored exactly as sent: SQL metacharacters are data, never code, and a
        /// number too long for a double is kept (the leniency cases the matrix skips because they write).
        static func expectSQLMetacharactersStoredVerbatim(_ d: Deployment) throws {
            let t = try d.createTenant("sql-data", region: "eu2")
            let names = [#"robert'); DROP TABLE users;--@example.com"#, #"a"b\c%_*?@example.com"#, "$$ language sql $$@example.com",
                         "x' OR '1'='1@example.com", "\u{2019}; SELECT pg_sleep(10);--@example.com"]
            for name in names {
                let r = try d.scim(.post, "/scim/v2/Users", token: t.token, body: userBody(name, externalId: name))
                #expect(r.status.code == 201, "\(name)")
                let id = try #require(json(r)?["id"]?.string)
                let back = json(try d.scim(.get, "/scim/v2/Users/\(id)", token: t.token))
                #expect(back?["userName"]?.string == name)
                #expect(back?["externalId"]?.string == name)
                let filter = "userName eq \"\(name.replacing("\\", with: "\\\\").replacing("\"", with: "\\\""))\""
                let found = json(try d.scim(.get, "/scim/v2/Users?filter=" + PercentEncoding.encode(filter), token: t.token))
                #expect(found?["totalResults"]?.int == 1, "\(filter)")
            }
            let stored = try d.regionAdmin("eu2").query("SELECT count(*) FROM users WHERE tenant_id = $1::uuid", [.text(t.id)])
            #expect(stored.int(row: 0, column: 0) == Int64(names.count))
            let lenient = try #require(BadInputs.scim.first { $0.status == 201 })
            let response = try #require(try Self.send(lenient, port: d.gateways[0].port, token: t.token, user: "", group: ""))
            #expect(response.status.code == 201)
        }

        /// Slowloris: many connections trickling a request never complete it; each gets 408 at the request timeout and
        /// is closed, and a normal client is served quickly all along.
        @Test func slowClientsAreCutOffAndOthersKeepBeingServed() throws {
            let d = try Deployment.reliability("slowloris", gatewayArguments: ["--request-timeout", "2"])
            defer { d.stop() }
            let t = try d.createTenant("slow", region: "us")
            let port = d.gateways[0].port
            let slowHeads = 30, slowBodies = 10
            var connections: [RawConnection] = []
            for i in 0..<(slowHeads + slowBodies) {
                let c = try RawConnection(port: port)
                if i < slowHeads {
                    try c.send("GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n")
                } else {
                    try c.send("POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(t.token)\r\nContent-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{")
                }
                connections.append(c)
            }
            let started = monotonicMillis()
            var latencies: [Int] = []
            var round = 0
            while monotonicMillis() - started < 2300 {
                round += 1
                // One more byte on every slow connection (never the end of the head or the body).
                for c in connections { try? c.send("X") }
                let s = monotonicMillis()
                #expect(try d.scim(.get, "/scim/v2/Users?count=1", token: t.token).status.code == 200)
                latencies.append(monotonicMillis() - s)
                sleepMillis(200)
            }
            var timedOut = 0
            for c in connections {
                if let r = try? c.readResponse(timeoutMillis: 3000), r.status.code == 408 { timedOut += 1 }
                #expect(c.waitForClose(timeoutMillis: 3000))
            }
            report("slowloris: \(connections.count) slow connections, \(timedOut) answered 408 and closed; "
                   + "a normal client meanwhile: \(latencies.count) requests, p50 \(percentile(latencies, 50)) ms, max \(latencies.max() ?? 0) ms")
            expectNoSecrets(secretForms([t.token], admin: d.adminToken), in: d.logs, place: "process logs")
            #expect(timedOut == connections.count)
            #expect((latencies.max() ?? 0) < 1000)
            let rows = try d.regionAdmin("us").query("SELECT count(*) FROM users")
            #expect(rows.int(row: 0, column: 0) == 0)
        }
    }
}
