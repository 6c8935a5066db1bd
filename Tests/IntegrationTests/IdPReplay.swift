#if canImport(Glibc)
import Glibc
#endif
import HTTPCore
import JSON
import NetIO
import Postgres
import TestSupport
import Testing

// The IdP replay suites (issue 6): each IdP drives the gateway as docs/idp-behaviour.md documents it, with its own
// headers, URL encodings and bodies, and each step is judged as that IdP judges it ([docs/idp-behaviour.md#all-idps-the-common-contract]: status, Content-Type,
// Location, ETag, body). Citations in brackets refer to docs/idp-behaviour.md's source list; [docs/idp-behaviour.md#how-to-read-this-file] and [docs/idp-behaviour.md#how-to-read-this-file] mark steps docs/idp-behaviour.md
// is unsure of, and say what we did about it.
//
// All suites share one deployment (control plane, both regions, one gateway), started once by the `IdPReplay`
// suite trait; every scenario provisions a tenant of its own, so scenarios run in parallel and see only their data.

/// Starts one `Deployment` around all the IdP suites and stops it afterwards.
struct IdPDeploymentScope: SuiteTrait, TestScoping {
    @TaskLocal static var current: Deployment?

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void)
        async throws
    {
        let deployment = try Deployment("idp")
        defer { deployment.stop() }
        try await Self.$current.withValue(deployment) { try await function() }
    }
}

extension Trait where Self == IdPDeploymentScope {
    /// One shared deployment for every suite nested in the annotated one.
    static var idpDeployment: Self { IdPDeploymentScope() }
}

/// The parent of every IdP suite (each file adds one nested suite in an extension).
@Suite(.idpDeployment) struct IdPReplay {}

/// The region a scenario's tenant lives in, with its public host (so `Location` and `meta.location` use it).
enum IdPRegion: String {
    case us, eu2
    var host: String { self == .us ? "api.example.com" : "eu2-api.example.com" }
    var baseURL: String { "https://\(host)/scim/v2" }
}

/// What every response of one IdP's requests must carry.
enum MediaType {
    static let scim = "application/scim+json; charset=utf-8"
    static let json = "application/json; charset=utf-8"
}

/// One answer, with what the assertions read from it.
struct IdPExchange {
    let response: HTTPResponse
    var status: Int { response.status.code }
    var json: JSONValue { (try? JSONDecoder.decode(response.body)) ?? .null }
    var contentType: String? { response.headers["Content-Type"] }
    var location: String? { response.headers["Location"] }
    var etag: String? { response.headers["ETag"] }
    var text: String { String(decoding: response.body.prefix(600), as: UTF8.self) }
    var id: String { json["id"]?.string ?? "" }
}

/// An IdP client: its tenant and token, the headers it sends on every request, the media type it accepts.
struct IdPClient {
    let name: String
    let deployment: Deployment
    let region: IdPRegion
    let tenant: String
    let token: String
    /// The token's `API_KEY:SCIM_KEY` form (Profit.co asks for two fields).
    let keyPair: String
    /// Sent on every request (Accept, User-Agent, …) besides Host and Authorization.
    var headers: [(String, String)]
    /// Content-Type of request bodies (nil: none sent).
    var bodyType: String?
    /// The Content-Type every SCIM answer to this client must carry.
    var expectedType: String

    /// Provisions a tenant in `region` and returns its IdP client.
    static func provision(_ name: String, region: IdPRegion, policy: String = "soft", headers: [(String, String)],
                          bodyType: String?, expectedType: String, settings: JSONObject = [:]) throws -> IdPClient {
        guard let d = IdPDeploymentScope.current else { throw RawError.failed("IdP suites run inside IdPReplay") }
        var body: JSONObject = ["name": .string("\(name)-\(monotonicMillis())-\(Int.random(in: 0..<1_000_000))"),
                                "region": .string(region.rawValue), "deprovisionPolicy": .string(policy)]
        for (k, v) in settings { body.appendUnchecked(key: k, value: v) }
        let (status, created) = try d.admin(.post, "/admin/v1/tenants", .object(body))
        guard status == 201, let id = created?["tenant"]?["id"]?.string, let token = created?["token"]?["token"]?.string,
              let apiKey = created?["token"]?["apiKey"]?.string, let scimKey = created?["token"]?["scimKey"]?.string else {
            throw RawError.failed("tenant create answered \(status): \(created.map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "")")
        }
        return IdPClient(name: name, deployment: d, region: region, tenant: id, token: token, keyPair: apiKey + ":" + scimKey,
                         headers: headers, bodyType: bodyType, expectedType: expectedType)
    }

    /// What goes into the Authorization header.
    enum Authorization {
        /// `Bearer <the tenant's token>`.
        case token
        /// Exactly this value.
        case header(String)
        /// No Authorization header.
        case none
    }

    /// Sends a request as this IdP would.
    func send(_ method: HTTPMethod, _ target: String, _ body: String? = nil, authorization: Authorization = .token) throws -> IdPExchange {
        let client = HTTPClient(host: "127.0.0.1", port: deployment.gateways[0].port)
        var request = HTTPRequest(method: method, target: "/scim/v2" + target, headers: HTTPHeaders([("Host", region.host)] + headers))
        switch authorization {
        case .token: request.headers.add("Authorization", "Bearer \(token)")
        case .header(let value): request.headers.add("Authorization", value)
        case .none: break
        }
        if let body {
            if let bodyType { request.headers.add("Content-Type", bodyType) }
            request.body = Array(body.utf8)
        }
        return IdPExchange(response: try client.send(request, timeout: .seconds(30)))
    }

    /// Creates a resource and checks the create contract ([docs/idp-behaviour.md#all-idps-the-common-contract]): 201, Content-Type, `Location` = `meta.location`,
    /// `ETag` = `meta.version`, a full body with `id`.
    func create(_ endpoint: String, _ body: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> IdPExchange {
        let e = try send(.post, endpoint, body)
        #expect(e.status == 201, "\(name) POST \(endpoint): \(e.text)", sourceLocation: sourceLocation)
        expectResource(e, status: 201, sourceLocation: sourceLocation)
        return e
    }

    /// A resource answer: status, Content-Type, `ETag` = `meta.version`, `meta.location` under the public base URL,
    /// and for 201 `Location` = `meta.location`.
    func expectResource(_ e: IdPExchange, status: Int = 200, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(e.status == status, "\(name): \(e.text)", sourceLocation: sourceLocation)
        #expect(e.contentType == expectedType, "\(name) Content-Type", sourceLocation: sourceLocation)
        let meta = e.json["meta"]
        #expect(e.etag != nil && e.etag == meta?["version"]?.string, "\(name) ETag", sourceLocation: sourceLocation)
        let type = meta?["resourceType"]?.string ?? ""
        #expect(meta?["location"]?.string == "\(region.baseURL)/\(type)s/\(e.id)", "\(name) meta.location", sourceLocation: sourceLocation)
        #expect(e.id.count == 36, sourceLocation: sourceLocation)
        if status == 201 {
            #expect(e.location == meta?["location"]?.string, "\(name) Location", sourceLocation: sourceLocation)
        }
    }

    /// A ListResponse (RFC 7644 §3.4.2): 200, Content-Type, numbers as numbers; returns the resources.
    @discardableResult
    func expectList(_ e: IdPExchange, total: Int, startIndex: Int = 1, itemsPerPage: Int? = nil,
                    sourceLocation: SourceLocation = #_sourceLocation) -> [JSONValue] {
        #expect(e.status == 200, "\(name): \(e.text)", sourceLocation: sourceLocation)
        #expect(e.contentType == expectedType, "\(name) Content-Type", sourceLocation: sourceLocation)
        let j = e.json
        #expect(j["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], sourceLocation: sourceLocation)
        #expect(j["totalResults"] == .number(JSONNumber(total)), "\(name) totalResults: \(e.text)", sourceLocation: sourceLocation)
        #expect(j["startIndex"] == .number(JSONNumber(startIndex)), sourceLocation: sourceLocation)
        let resources = j["Resources"]?.array ?? []
        #expect(j["itemsPerPage"] == .number(JSONNumber(itemsPerPage ?? resources.count)), sourceLocation: sourceLocation)
        #expect(j["Resources"]?.array != nil, "Resources must be an array, even when empty", sourceLocation: sourceLocation)
        return resources
    }

    /// A SCIM Error (RFC 7644 §3.12): status, Content-Type, Error schema, `status` as a string, a `detail`.
    func expectError(_ e: IdPExchange, _ status: Int, scimType: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(e.status == status, "\(name): \(e.text)", sourceLocation: sourceLocation)
        #expect(e.contentType == expectedType, "\(name) error Content-Type", sourceLocation: sourceLocation)
        #expect(e.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"], sourceLocation: sourceLocation)
        #expect(e.json["status"] == .string(String(status)), sourceLocation: sourceLocation)
        #expect((e.json["detail"]?.string?.isEmpty ?? true) == false, sourceLocation: sourceLocation)
        if let scimType { #expect(e.json["scimType"]?.string == scimType, sourceLocation: sourceLocation) }
    }

    // MARK: What the region stored (superuser SQL: row-level security does not hide rows)

    /// The user's row: (active, soft-deleted), or nil when there is no row.
    func storedUser(_ id: String) throws -> (active: Bool?, deleted: Bool)? {
        let c = try deployment.regionAdmin(region.rawValue)
        let r = try c.query("SELECT active, deleted_at IS NOT NULL FROM users WHERE tenant_id = $1::uuid AND id = $2::uuid",
                            [.text(tenant), .text(id)])
        guard r.rowCount == 1 else { return nil }
        return (r.bool(row: 0, column: 0), r.bool(row: 0, column: 1) ?? false)
    }

    /// The group's member ids, sorted.
    func storedMembers(_ group: String) throws -> [String] {
        let c = try deployment.regionAdmin(region.rawValue)
        let r = try c.query("SELECT member_id::text FROM group_members WHERE tenant_id = $1::uuid AND group_id = $2::uuid ORDER BY 1",
                            [.text(tenant), .text(group)])
        return (0..<r.rowCount).compactMap { r.string(row: $0, column: 0) }
    }

    /// Quirk counts for this tenant, through the gateway's admin API (which asks the home region).
    func quirks(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Int] {
        let (status, body) = try deployment.admin(.get, "/admin/v1/tenants/\(tenant)/quirks")
        #expect(status == 200, sourceLocation: sourceLocation)
        #expect(body?["tenantId"]?.string == tenant && body?["region"]?.string == region.rawValue, sourceLocation: sourceLocation)
        var out: [String: Int] = [:]
        for q in body?["quirks"]?.array ?? [] { out[q["quirk"]?.string ?? "?"] = q["count"]?.int }
        return out
    }
}

/// The same JSON with object keys sorted at every level (arrays keep their order): compares documents whose key
/// order is not part of the contract.
func canonical(_ v: JSONValue) -> JSONValue {
    switch v {
    case .object(let o):
        return .object(JSONObject(o.sorted { $0.key < $1.key }.map { ($0.key, canonical($0.value)) }))
    case .array(let a):
        return .array(a.map(canonical))
    default:
        return v
    }
}

/// Parses JSON test text.
func parse(_ text: String) -> JSONValue {
    (try? JSONDecoder.decode(text)) ?? .string("<invalid test JSON>")
}

/// `doc` without `meta` (timestamps differ run to run), keys sorted.
func withoutMeta(_ doc: JSONValue) -> JSONValue {
    guard case .object(var o) = doc else { return doc }
    if let i = o.index(forKey: "meta") { o.remove(at: i) }
    return canonical(.object(o))
}

/// A PatchOp body around operations given as JSON text.
func patchOps(_ operations: String) -> String {
    #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[\#(operations)]}"#
}

/// A unique suffix so scenarios never collide on userName across runs.
func unique() -> String { "\(monotonicMillis() % 100_000_000)\(Int.random(in: 100...999))" }

/// A random version-4 UUID in canonical text (ids that do not exist).
func randomUUID() -> String {
    var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
    bytes[6] = bytes[6] & 0x0f | 0x40
    bytes[8] = bytes[8] & 0x3f | 0x80
    let hex = bytes.map { b in String(b >> 4, radix: 16) + String(b & 0xf, radix: 16) }.joined()
    let h = Array(hex)
    return String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-" + String(h[20..<32])
}
