import Crypto
import Glibc
import HTTPCore
import JSON
import NetIO
import Postgres
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
@testable import RegionRequestLog
import RegionLink
import SCIMCore
import Synchronization
import Telemetry
import TestSupport
import Testing

/// One migrated database for the whole test process; every test works in tenants of its own, which is exactly
/// the isolation the region promises (and the tests check).
enum RegionTestDatabase {
    static let shared = Result { () throws -> TestDatabase in
        let database = try TestDatabase.create("region")
        let pool = PostgresPool(configuration: database.appConfiguration, maxConnections: 1)
        try Migrator.migrate(pool, migrations: RegionSchema.migrations)
        pool.close()
        return database
    }

    static func get() throws -> TestDatabase { try shared.get() }
}

/// The gateway's side of the link, for signing test requests.
let testLinkKey = Key(purpose: .link, id: "test-link-1", secret: Array(repeating: 7, count: 32), state: .current)

/// A region responder wired to the test database, called in-process (no socket). Requests are signed like the
/// gateway signs them unless a test says otherwise.
final class Region: Sendable {
    let responder: RegionResponder
    let pool: PostgresPool
    let logs: LogSink
    let baseURL = "https://eu2-api.example.com/scim/v2"
    /// The request log, when the test asked for one (its writer runs until the region is released).
    let requestLog: RequestLogAPI?
    /// The registry the request log counts in.
    let metrics = MetricsRegistry()

    init(settings: RegionSettings = RegionSettings(), development: Bool = false, poolSize: Int = 8,
         configuration: PostgresConfiguration? = nil, clock: (@Sendable () -> Int64)? = nil,
         webhookKeys: WebhookKeys = WebhookKeys(), requestLog: Bool = false, requestLogBuffer: Int = 10_000) throws {
        let database = try RegionTestDatabase.get()
        logs = LogSink.memory()
        let logger = Logger(label: "region-test", level: .info, sink: logs)
        pool = PostgresPool(configuration: configuration ?? database.appConfiguration, maxConnections: poolSize,
                            checkoutTimeout: .seconds(5), sessionSetup: RegionDatabase.sessionSetup)
        let regionDatabase = RegionDatabase(pool: pool, region: "test", autoProvision: development, logger: logger)
        let service = SCIMService(database: regionDatabase, settings: settings, logger: logger, clock: clock)
        let readiness = Readiness()
        readiness.markMigrated()
        if requestLog {
            var writerConfiguration = configuration ?? database.appConfiguration
            writerConfiguration.applicationName = "region-test-request-log-writer"
            let writer = RequestLogWriter(configuration: writerConfiguration, database: regionDatabase, registry: metrics,
                                          logger: logger, bufferCapacity: requestLogBuffer, flushInterval: .milliseconds(20),
                                          writtenBy: "test/unit-host/1")
            try writer.start()
            let logPool = PostgresPool(configuration: configuration ?? database.appConfiguration, maxConnections: 2,
                                       checkoutTimeout: .seconds(2), sessionSetup: RequestLogOptions.readerSession)
            self.requestLog = RequestLogAPI(pool: logPool, database: regionDatabase, writer: writer, region: "test")
        } else {
            self.requestLog = nil
        }
        responder = RegionResponder(service: service, authenticator: Authenticator(
            verifier: LinkVerifier(keyring: Keyring(keys: [testLinkKey])), developmentMode: development),
            readiness: readiness, region: "test", logger: logger,
            events: EventsAPI(database: regionDatabase, keys: webhookKeys), requestLog: self.requestLog)
    }

    deinit {
        requestLog?.writer.shutdown(gracePeriod: .seconds(5))
        pool.close()
    }

    /// Sends a request; `tenant` signs it as the gateway would (nil: unsigned).
    func send(_ method: HTTPMethod, _ target: String, tenant: String?, body: String? = nil,
              headers: [(String, String)] = [], contentType: String? = "application/scim+json") -> HTTPResponse {
        var request = HTTPRequest(method: method, target: target, headers: HTTPHeaders([("Host", "region.internal")] + headers),
                                  body: body.map { Array($0.utf8) } ?? [])
        if body != nil, let contentType { request.headers.add("Content-Type", contentType) }
        if let tenant {
            LinkSignature.sign(&request, tenant: tenant, baseURL: baseURL, requestID: "req-" + Base62.random(8),
                               key: testLinkKey, nowSeconds: Int(Timestamp.nowEpochMillis() / 1000))
        }
        return responder.respond(to: request, context: RequestContext(remoteAddress: "127.0.0.1", connectionID: 1,
                                                                    isTLS: false, receivedAtNanos: 0))
    }

    /// A new tenant provisioned through the internal API.
    func tenant(policy: DeprovisionPolicy = .hard, extra: String = "") -> Tenant {
        let id = SecureRandom.uuid()
        let response = send(.put, "/internal/v1/tenants/\(id)", tenant: id,
                            body: #"{"name":"t-\#(id.prefix(8))","deprovisionPolicy":"\#(policy.rawValue)"\#(extra)}"#)
        precondition(response.status.code == 201, "tenant provisioning failed: \(response.status) \(response.bodyText)")
        return Tenant(id: id, region: self)
    }
}

/// A tenant of the test region, with request shortcuts.
struct Tenant {
    let id: String
    let region: Region

    @discardableResult
    func send(_ method: HTTPMethod, _ path: String, _ body: String? = nil, headers: [(String, String)] = []) -> HTTPResponse {
        region.send(method, "/scim/v2" + path, tenant: id, body: body, headers: headers)
    }

    /// POSTs a resource and returns its id (expects 201).
    @discardableResult
    func create(_ endpoint: String, _ body: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let response = send(.post, endpoint, body)
        #expect(response.status.code == 201, "\(response.bodyText)", sourceLocation: sourceLocation)
        return response.json["id"]?.string ?? ""
    }

    @discardableResult
    func user(_ userName: String, _ extra: String = "", sourceLocation: SourceLocation = #_sourceLocation) -> String {
        create("/Users", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"\#(userName)"\#(extra)}"#,
               sourceLocation: sourceLocation)
    }

    @discardableResult
    func group(_ displayName: String, _ extra: String = "", sourceLocation: SourceLocation = #_sourceLocation) -> String {
        create("/Groups", #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"\#(displayName)"\#(extra)}"#,
               sourceLocation: sourceLocation)
    }

    /// The ids of a ListResponse for `GET path`.
    func ids(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        let response = send(.get, path)
        #expect(response.status.code == 200, "\(response.bodyText)", sourceLocation: sourceLocation)
        return (response.json["Resources"]?.array ?? []).compactMap { $0["id"]?.string }
    }
}

extension HTTPResponse {
    /// The body as JSON (`null` when it is not JSON).
    var json: JSONValue { (try? JSONDecoder.decode(body)) ?? .null }
    var scimType: String? { json["scimType"]?.string }
    var detail: String? { json["detail"]?.string }
}

/// A PatchOp body.
func patchOp(_ operations: String) -> String {
    #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[\#(operations)]}"#
}

/// Runs `body(i)` for i in 0..<count on `count` OS threads started together, and waits for all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Gate: Sendable { let arrived = Atomic<Int>(0) }
    final class Job: Sendable {
        let index: Int
        let total: Int
        let gate: Gate
        let body: @Sendable (Int) -> Void
        init(_ index: Int, _ total: Int, _ gate: Gate, _ body: @escaping @Sendable (Int) -> Void) {
            self.index = index; self.total = total; self.gate = gate; self.body = body
        }
    }
    let gate = Gate()
    var threads: [pthread_t] = []
    for index in 0..<count {
        var thread = pthread_t()
        let job = Unmanaged.passRetained(Job(index, count, gate, body)).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            let job = Unmanaged<Job>.fromOpaque(context!).takeRetainedValue()
            // A start barrier: every thread fires at (nearly) the same moment.
            job.gate.arrived.add(1, ordering: .acquiringAndReleasing)
            while job.gate.arrived.load(ordering: .acquiring) < job.total { sched_yield() }
            job.body(job.index)
            return nil
        }, job)
        precondition(status == 0, "pthread_create failed")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// Collects values from several threads.
final class Collected<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}
