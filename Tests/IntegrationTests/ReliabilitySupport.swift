#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import NetIO
import Postgres
import Synchronization
import TestSupport
import Lifecycle

// What the fault, bad-input, isolation, rate-limit and secret-handling suites share: threads, a keep-alive SCIM
// client, database fingerprints and the secret scan.

/// The reliability suites, one at a time: they load the 2-core machine (threads of requests, killed processes) and
/// some of them measure latency or recovery time, which another of them running alongside would distort. They run
/// on their own PostgreSQL cluster: each deployment creates and drops three databases (a checkpoint each), which on
/// the shared cluster waited behind the other suites' bulk writes, and the fault tests restart and crash the server.
@Suite(.serialized, .ownPostgresCluster) struct Reliability {
    /// The cluster the reliability suites' deployments use (set for the duration of the suite).
    @TaskLocal static var cluster: PostgresCluster?
}

/// Starts a scratch cluster (`.pg/reliability`) around the suite it is applied to, and stops it afterwards.
struct OwnPostgresCluster: SuiteTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let cluster = try PostgresCluster.scratch(named: "reliability")
        defer { try? cluster.stop() }
        try await Reliability.$cluster.withValue(cluster) { try await function() }
    }
}

extension Trait where Self == OwnPostgresCluster {
    /// Runs the suite on a private PostgreSQL cluster.
    static var ownPostgresCluster: Self { Self() }
}

extension Deployment {
    /// A deployment on the reliability suites' own cluster.
    static func reliability(_ label: String, gateways: Int = 1, gatewayArguments: [String] = []) throws -> Deployment {
        try Deployment(label, gateways: gateways, cluster: Reliability.cluster, gatewayArguments: gatewayArguments)
    }
}

/// Runs `body(i)` for i in 0..<count, each on its own thread, and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let threads = (0..<count).map { i in ThreadHandle.start(name: "test-\(i)") { body(i) } }
    for t in threads { t.join() }
}

/// Starts `body` on a thread now; `join()` waits for it.
func background(_ body: @escaping @Sendable () -> Void) -> ThreadHandle {
    ThreadHandle.start(name: "test-bg", body)
}

/// Values appended from several threads.
final class Collected<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    init() {}
    func append(_ item: T) { items.withLock { $0.append(item) } }
    var all: [T] { items.withLock { $0 } }
}

/// A flag that load threads poll.
final class StopFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    init() {}
    func raise() { raised.store(true, ordering: .releasing) }
    var isRaised: Bool { raised.load(ordering: .acquiring) }
}

/// One answered (or failed) request of a load stream, with its timing relative to the stream's start.
struct Exchange: Sendable {
    var startMillis: Int
    var endMillis: Int
    /// The HTTP status, or 0 when no answer came (transport error or client timeout).
    var status: Int
    var retryAfter: String?
    var scimError: Bool
    var body: String
    var latency: Int { endMillis - startMillis }
}

/// A SCIM client over keep-alive connections to one gateway (Deployment.scim opens a connection per call).
struct SCIMClient: Sendable {
    let client: HTTPClient
    let token: String?

    init(port: Int, token: String?, host: String = "127.0.0.1") {
        client = HTTPClient(host: host, port: port)
        self.token = token
    }

    func send(_ method: HTTPMethod, _ target: String, body: JSONValue? = nil, rawBody: [UInt8]? = nil,
              headers: [(String, String)] = [], timeout: Duration = .seconds(20)) -> (HTTPResponse?, Exchange) {
        var request = HTTPRequest(method: method, target: target, headers: ["Accept": "application/scim+json"])
        if let token { request.headers.add("Authorization", "Bearer \(token)") }
        if body != nil || rawBody != nil, !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            request.headers.add("Content-Type", "application/scim+json")
        }
        for (name, value) in headers { request.headers.add(name, value) }
        if let body { request.body = body.encoded() }
        if let rawBody { request.body = rawBody }
        let start = monotonicMillis()
        do {
            let response = try client.send(request, timeout: timeout)
            let text = String(decoding: response.body, as: UTF8.self)
            let isError = (try? JSONDecoder.decode(response.body))?["schemas"]?[0]?.string == "urn:ietf:params:scim:api:messages:2.0:Error"
            return (response, Exchange(startMillis: start, endMillis: monotonicMillis(), status: response.status.code,
                                       retryAfter: response.headers["Retry-After"], scimError: isError, body: text))
        } catch {
            return (nil, Exchange(startMillis: start, endMillis: monotonicMillis(), status: 0, retryAfter: nil,
                                  scimError: false, body: "\(error)"))
        }
    }
}

/// Every row of the region databases and of the control plane's tenant/token/admin tables, as text: equal before
/// and after means nothing was written. (Token `last_used_at` is excluded: using a token legitimately updates it; so
/// is the request log, whose job is to record every request, refused ones included.)
func databaseFingerprint(_ d: Deployment) throws -> String {
    var text = try allRowsText(d, region: "us", excluding: ["request_log"]) + "\n--\n"
        + (try allRowsText(d, region: "eu2", excluding: ["request_log"]))
    let c = try PostgresConnection(configuration: d.control.adminConfiguration)
    for query in ["SELECT t::text FROM tenants t ORDER BY id",
                  "SELECT id || ' ' || tenant_id || ' ' || coalesce(revoked_at::text, '-') FROM tokens ORDER BY id",
                  "SELECT count(*)::text FROM audit_log"] {
        let r = try c.query(query)
        for row in 0..<r.rowCount { text += (r.string(row: row, column: 0) ?? "") + "\n" }
    }
    return text
}

/// Fails the test if any secret occurs in `text` (`place` names where the text came from).
func expectNoSecrets(_ secrets: [String], in text: String, place: String, sourceLocation: SourceLocation = #_sourceLocation) {
    for secret in secrets where !secret.isEmpty && text.contains(secret) {
        Issue.record("a secret (\(secret.prefix(9))…) appears in \(place)", sourceLocation: sourceLocation)
    }
}

/// Every secret a deployment's processes must never write down: tenant tokens and their secret halves, the admin
/// token and its secret half.
func secretForms(_ tokens: [String], admin: String) -> [String] {
    var forms: [String] = []
    for token in tokens + [admin] {
        forms.append(token)
        // `scim_<id:16>_<secret:32><check:6>` (admin: `scimadm_`): the secret alone is a secret too.
        let parts = token.split(separator: "_")
        if parts.count == 3 { forms.append(String(parts[2].prefix(32))) }
    }
    return forms
}

/// The p-th percentile (0...100) of `values`, nearest rank.
func percentile(_ values: [Int], _ p: Double) -> Int {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

/// All users of the token's tenant through the gateway, paging by index.
func listAllUsers(_ client: SCIMClient) -> [(id: String, userName: String)]? {
    var out: [(id: String, userName: String)] = []
    var start = 1
    while true {
        let (response, _) = client.send(.get, "/scim/v2/Users?startIndex=\(start)&count=200&attributes=userName")
        guard let response, response.status.code == 200, let list = try? JSONDecoder.decode(response.body),
              let resources = list["Resources"]?.array ?? (list["totalResults"]?.int == 0 ? [] : nil) else { return nil }
        for r in resources {
            guard let id = r["id"]?.string, let name = r["userName"]?.string else { return nil }
            out.append((id, name))
        }
        if resources.count < 200 { return out }
        start += resources.count
    }
}

/// A figure for the report: printed with a fixed prefix so `grep RELIABILITY` finds them in the test output.
func report(_ line: String) {
    print("RELIABILITY \(line)")
}
