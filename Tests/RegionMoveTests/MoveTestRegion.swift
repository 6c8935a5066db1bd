import Crypto
import Glibc
import HTTPCore
import JSON
import Postgres
@testable import RegionApp
@testable import RegionMove
@testable import RegionSCIM
import RegionLink
import SCIMCore
import Telemetry
import TestSupport
import Testing

let moveTestLinkKey = Key(purpose: .link, id: "move-test-link", secret: Array(repeating: 9, count: 32), state: .current)

/// One region of a move test: a migrated database of its own and the region's responder on it, called in-process
/// (no socket), with requests signed as the gateway signs them.
final class MoveTestRegion: Sendable {
    let database: TestDatabase
    let pool: PostgresPool
    let responder: RegionResponder
    let name: String

    init(_ name: String, extraSQL: String? = nil) throws {
        self.name = name
        database = try TestDatabase.create("move_\(name)")
        let migrate = PostgresPool(configuration: database.appConfiguration, maxConnections: 1)
        try Migrator.migrate(migrate, migrations: RegionSchema.migrations)
        if let extraSQL { try migrate.withConnection { try $0.executeScript(extraSQL) } }
        migrate.close()
        pool = PostgresPool(configuration: database.appConfiguration, maxConnections: 8, checkoutTimeout: .seconds(5),
                            sessionSetup: RegionDatabase.sessionSetup)
        let logger = Logger(label: "move-test", level: .warning, sink: LogSink.memory())
        let regionDatabase = RegionDatabase(pool: pool, region: name, autoProvision: false, logger: logger)
        let service = SCIMService(database: regionDatabase, settings: RegionSettings(), logger: logger)
        let readiness = Readiness()
        readiness.markMigrated()
        responder = RegionResponder(service: service, authenticator: Authenticator(
            verifier: LinkVerifier(keyring: Keyring(keys: [moveTestLinkKey])), developmentMode: false),
            readiness: readiness, region: name, logger: logger)
    }

    deinit {
        pool.close()
        database.drop()
    }

    /// A signed request for `tenant`.
    func send(_ method: HTTPMethod, _ target: String, tenant: String, body: [UInt8] = [], contentType: String = "application/json")
        -> HTTPResponse
    {
        var request = HTTPRequest(method: method, target: target, headers: HTTPHeaders([("Host", "region.internal")]), body: body)
        if !body.isEmpty { request.headers.add("Content-Type", contentType) }
        LinkSignature.sign(&request, tenant: tenant, baseURL: "https://\(name).example.com/scim/v2", requestID: "req-" + Base62.random(8),
                           key: moveTestLinkKey, nowSeconds: Int(Timestamp.nowEpochMillis() / 1000))
        return responder.respond(to: request, context: RequestContext(remoteAddress: "127.0.0.1", connectionID: 1, isTLS: false,
                                                                    receivedAtNanos: 0))
    }

    func send(_ method: HTTPMethod, _ target: String, tenant: String, json: JSONValue) -> HTTPResponse {
        send(method, target, tenant: tenant, body: json.encoded())
    }

    /// A SCIM call (`/scim/v2` + path).
    @discardableResult
    func scim(_ method: HTTPMethod, _ path: String, tenant: String, _ body: String? = nil) -> HTTPResponse {
        send(method, "/scim/v2" + path, tenant: tenant, body: body.map { Array($0.utf8) } ?? [], contentType: "application/scim+json")
    }

    /// A move call (`/internal/v1/tenants/{tenant}/move` + path).
    func move(_ method: HTTPMethod, _ path: String, tenant: String, json: JSONValue? = nil, raw: [UInt8]? = nil) -> HTTPResponse {
        send(method, "/internal/v1/tenants/\(tenant)/move" + path, tenant: tenant, body: raw ?? json?.encoded() ?? [])
    }

    /// A tenant provisioned through the internal API.
    func provision(_ tenant: String = SecureRandom.uuid()) -> String {
        let r = send(.put, "/internal/v1/tenants/\(tenant)", tenant: tenant,
                     body: Array(#"{"name":"t-\#(tenant.prefix(8))","deprovisionPolicy":"soft"}"#.utf8))
        precondition(r.status.code == 201, "provisioning failed: \(r.status) \(r.bodyText)")
        return tenant
    }

    /// Runs SQL as the app role in the tenant's scope (row-level security applies).
    func sql(_ tenant: String, _ text: String, _ parameters: [PostgresValue] = []) throws -> PostgresResult {
        try pool.withTransaction(setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)])]) { try $0.query(text, parameters) }
    }

    /// Every row of the tenant in every copied table, as record text, sorted: what "the same data" means.
    func dump(_ tenant: String) throws -> [String: [String]] {
        let tables = try pool.withConnection { try TenantTables.discover($0) }
        var out: [String: [String]] = [:]
        try pool.withTransaction(readOnly: true, setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)]), TenantCopy.canonicalText]) { c in
            for plan in tables.plans {
                let r = try c.query("SELECT \(plan.rowText) FROM \(plan.table) t WHERE \(plan.tenant) = $1::uuid", [.uuid(tenant)])
                out[plan.name] = (0..<r.rowCount).compactMap { r.string(row: $0, column: 0) }.sorted()
            }
        }
        return out
    }
}

extension HTTPResponse {
    var json: JSONValue { (try? JSONDecoder.decode(body)) ?? .null }
}

/// A PatchOp body.
func patchOp(_ operations: String) -> String {
    #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[\#(operations)]}"#
}
