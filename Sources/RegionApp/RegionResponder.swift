package import HTTPCore
import JSON
import Postgres
import RegionLink
package import SCIMCore
import ServerRuntime
import Synchronization
package import Telemetry
package import RegionSCIM
package import RegionEvents
package import RegionRequestLog
package import RegionMove

/// The region's HTTP surface: routing, authentication, content negotiation, SCIM error rendering and one log line
/// per request. All behaviour lives in `SCIMService`.
package final class RegionResponder: HTTPResponder {
    enum Endpoint: Sendable {
        case healthz, readyz, metrics
        case serviceProviderConfig, resourceTypes, resourceType, schemas, schema
        case list(ResourceKind), create(ResourceKind), search(ResourceKind)
        case get(ResourceKind), replace(ResourceKind), patch(ResourceKind), delete(ResourceKind)
        case bulk, searchAll, me
        case putTenant, getTenant, deleteTenant, tenantQuirks
        case events, users, groups, groupMembers, putWebhook, getWebhook, deleteWebhook, redeliverWebhook
        case directory(DirectoryEndpoint)
        case move(MoveAPI.Operation)
        case requestLog, requestLogSummary, ingestRequestLog
    }

    /// The SCIM behaviour.
    package let service: SCIMService
    /// Signature (or development-mode) checks.
    package let authenticator: Authenticator
    /// What `/readyz` reports besides the database ping.
    package let readiness: Readiness
    /// The events, webhook and read API (`/internal/v1/tenants/{id}/…`).
    package let events: EventsAPI
    /// Role rules, attribute mapping and reconciliation snapshots (`/internal/v1/tenants/{id}/…`, issue 18).
    package let directory: DirectoryAPI
    /// The request log: every SCIM request's record goes to its writer; nil when the region runs without one.
    package let requestLog: RequestLogAPI?
    /// Moving a tenant to or from another region (`/internal/v1/tenants/{id}/move/…`).
    package let moves: MoveAPI
    let logger: Logger
    let metrics: RegionMetrics
    let region: String
    let router: Router<Endpoint>

    /// Builds the route table once; the responder is immutable afterwards.
    package init(service: SCIMService, authenticator: Authenticator, readiness: Readiness, region: String, logger: Logger,
                metrics: RegionMetrics = RegionMetrics(), events: EventsAPI? = nil, requestLog: RequestLogAPI? = nil,
                directory: DirectoryAPI? = nil) {
        self.metrics = metrics
        self.requestLog = requestLog
        self.service = service
        self.events = events ?? EventsAPI(database: service.database, keys: WebhookKeys())
        self.directory = directory ?? DirectoryAPI(database: service.database)
        self.moves = MoveAPI(database: service.database)
        self.authenticator = authenticator
        self.readiness = readiness
        self.region = region
        self.logger = logger
        var router = Router<Endpoint>()
        func add(_ method: HTTPMethod, _ pattern: String, _ endpoint: Endpoint) { router.add(method, pattern, endpoint) }
        add(.get, "/healthz", .healthz)
        add(.get, "/readyz", .readyz)
        add(.get, "/metrics", .metrics)
        let v2 = "/scim/v2"
        add(.get, v2 + "/ServiceProviderConfig", .serviceProviderConfig)
        add(.get, v2 + "/ResourceTypes", .resourceTypes)
        add(.get, v2 + "/ResourceTypes/:id", .resourceType)
        add(.get, v2 + "/Schemas", .schemas)
        add(.get, v2 + "/Schemas/:id", .schema)
        for kind in ResourceKind.allCases {
            let base = v2 + kind.endpoint
            add(.get, base, .list(kind))
            add(.post, base, .create(kind))
            add(.post, base + "/.search", .search(kind))
            add(.get, base + "/:id", .get(kind))
            add(.put, base + "/:id", .replace(kind))
            add(.patch, base + "/:id", .patch(kind))
            add(.delete, base + "/:id", .delete(kind))
        }
        add(.post, v2 + "/Bulk", .bulk)
        add(.post, v2 + "/.search", .searchAll)
        for method in [HTTPMethod.get, .post, .put, .patch, .delete] { add(method, v2 + "/Me", .me) }
        add(.put, "/internal/v1/tenants/:id", .putTenant)
        add(.get, "/internal/v1/tenants/:id", .getTenant)
        add(.delete, "/internal/v1/tenants/:id", .deleteTenant)
        add(.get, "/internal/v1/tenants/:id/quirks", .tenantQuirks)
        add(.get, "/internal/v1/tenants/:id/events", .events)
        add(.get, "/internal/v1/tenants/:id/users", .users)
        add(.get, "/internal/v1/tenants/:id/groups", .groups)
        add(.get, "/internal/v1/tenants/:id/groups/:group/members", .groupMembers)
        add(.put, "/internal/v1/tenants/:id/webhook", .putWebhook)
        add(.get, "/internal/v1/tenants/:id/webhook", .getWebhook)
        add(.delete, "/internal/v1/tenants/:id/webhook", .deleteWebhook)
        add(.post, "/internal/v1/tenants/:id/webhook/redeliver", .redeliverWebhook)
        for (method, pattern, endpoint) in DirectoryEndpoint.routes { add(method, pattern, .directory(endpoint)) }
        add(.get, "/internal/v1/tenants/:id/request-log", .requestLog)
        add(.get, "/internal/v1/tenants/:id/request-log/summary", .requestLogSummary)
        add(.post, "/internal/v1/tenants/:id/request-log", .ingestRequestLog)
        for operation in MoveAPI.Operation.allCases { add(operation.method, "/internal/v1/tenants/:id/move" + operation.path, .move(operation)) }
        self.router = router
    }

    /// Answers one request and writes its log line.
    package func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse {
        let match = router.match(request.method, path: request.path)
        // Until authentication says otherwise, echo a well-formed request id the caller sent.
        let callerID = request.headers[LinkHeader.requestID].flatMap { Authenticator.isPrintableToken($0) ? $0 : nil } ?? ""
        var record = RequestRecord(requestID: callerID, method: request.method, route: match.template ?? "unmatched")
        let accept = request.headers["Accept"]
        var response: HTTPResponse
        var trace = RequestTrace()
        do {
            response = try handle(request, match, record: &record, trace: &trace)
        } catch let error as SCIMError {
            trace.error = error
            response = HTTPResponse(error: error, accept: accept)
        } catch let error as PostgresError {
            logger.error("database error", [("request.id", .string(record.requestID)), ("error", .string(error.description))])
            trace.error = SCIMError.from(error, region: region)
            response = HTTPResponse(error: trace.error!, accept: accept)
        } catch {
            logger.error("unexpected error", [("request.id", .string(record.requestID)), ("error", .string(String(describing: type(of: error))))])
            trace.error = SCIMError(status: 500, detail: "internal error")
            response = HTTPResponse(error: trace.error!, accept: accept)
        }
        if !record.requestID.isEmpty { response.headers.set("X-Request-Id", record.requestID) }
        // Residency evidence (docs/residency.md): the region that processed the request, on every answer.
        response.headers.set("X-Scim-Region", region)
        record.finish(status: response.status.code)
        if !record.isProbe {
            metrics.record(record)
            record.log(logger)
        }
        if let requestLog, let scope = trace.scope {
            requestLog.writer.record(Self.logEntry(request, response, record, scope, trace))
        }
        return response
    }

    func handle(_ request: HTTPRequest, _ match: Router<Endpoint>.Match, record: inout RequestRecord,
                trace: inout RequestTrace) throws -> HTTPResponse {
        let endpoint: Endpoint, parameters: RouteParameters
        switch match {
        case .notFound:
            traceUnmatched(request, record: &record, trace: &trace)
            throw SCIMError.notFound("no such endpoint")
        case .methodNotAllowed(let allowed, _):
            traceUnmatched(request, record: &record, trace: &trace)
            throw SCIMError(status: 405, detail: "\(request.method) is not allowed here")
                .allowing(allowed.map(\.description).joined(separator: ", "))
        case .found(let e, let p, _):
            (endpoint, parameters) = (e, p)
        }
        switch endpoint {
        case .healthz: return Health.alive(service: "scim-region", extra: [("region", region)])
        case .readyz: return readyz()
        case .metrics:
            // Unauthenticated for Prometheus, like /healthz: the region listener is private (only the gateway and
            // the operator's network reach it). Labels are tenant ids, routes and quirk names, never data.
            return HTTPResponse(status: .ok, contentType: MetricsRegistry.contentType, body: metrics.registry.render())
        default: break
        }
        var scope = try authenticator.authenticate(request).get()
        record.tenant = scope.tenant
        record.requestID = scope.requestID
        if requestLog != nil && endpoint.isSCIM {
            // The service notes the IdP quirks it applies here; the request log records them.
            scope.quirks = RequestQuirks()
            trace.scope = scope
            trace.kind = endpoint.resourceKind
            trace.resourceID = parameters["id"]
        }
        if case .move(let operation) = endpoint { return try moveAPI(operation, request, parameters, scope: scope) }
        let outcome = try perform(endpoint, request, parameters, scope)
        trace.outcome = outcome
        return Self.render(outcome, Self.responseContentType(request))
    }

    func perform(_ endpoint: Endpoint, _ request: HTTPRequest, _ parameters: RouteParameters, _ scope: RequestScope) throws
        -> SCIMOutcome
    {
        let query = request.query.map(String.init)
        let id = parameters["id"] ?? ""
        switch endpoint {
        case .healthz, .readyz, .metrics:
            preconditionFailure("answered before authentication")
        case .serviceProviderConfig:
            return try service.serviceProviderConfig(scope: scope)
        case .resourceTypes:
            return try service.resourceTypes(id: nil, scope: scope)
        case .resourceType:
            return try service.resourceTypes(id: id, scope: scope)
        case .schemas:
            return try service.schemas(id: nil, scope: scope)
        case .schema:
            return try service.schemas(id: id, scope: scope)
        case .list(let kind):
            return try service.list(kind, source: .queryString(query ?? ""), scope: scope)
        case .search(let kind):
            return try service.list(kind, source: .searchRequest(try Self.body(request)), scope: scope)
        case .create(let kind):
            return try service.create(kind, body: try Self.body(request), scope: scope, query: query)
        case .get(let kind):
            return try service.get(kind, id: id, scope: scope, query: query, ifNoneMatch: request.headers["If-None-Match"])
        case .replace(let kind):
            return try service.replace(kind, id: id, body: try Self.body(request), scope: scope, query: query,
                                       ifMatch: request.headers["If-Match"])
        case .patch(let kind):
            return try service.patch(kind, id: id, body: try Self.body(request), scope: scope, query: query,
                                     ifMatch: request.headers["If-Match"])
        case .delete(let kind):
            return try service.delete(kind, id: id, scope: scope, ifMatch: request.headers["If-Match"])
        case .bulk:
            return try service.bulk(body: try Self.body(request), byteCount: request.body.count, scope: scope)
        case .searchAll:
            return try service.searchAll(body: try Self.body(request), scope: scope)
        case .me:
            throw SCIMError(status: 501, detail: "/Me is not supported: this service provider has no authenticated subject")
        case .putTenant, .getTenant, .deleteTenant, .tenantQuirks:
            return try tenantAPI(endpoint, request, id: id, scope: scope)
        case .events, .users, .groups, .groupMembers, .putWebhook, .getWebhook, .deleteWebhook, .redeliverWebhook:
            return try eventsAPI(endpoint, request, parameters, scope: scope)
        case .directory(let endpoint):
            return try directoryAPI(endpoint, request, parameters, scope: scope)
        case .move:
            preconditionFailure("answered by moveAPI")
        case .requestLog, .requestLogSummary, .ingestRequestLog:
            return try requestLogAPI(endpoint, request, parameters, scope: scope)
        }
    }

    /// The tenant named in an internal path (`/internal/v1/tenants/{id}/…`), which must be the signed tenant: 404 when
    /// it is not a UUID, 403 when it is another tenant.
    static func pathTenant(_ id: String, _ scope: RequestScope) throws(SCIMError) -> String {
        guard let tenant = UUIDText.canonical(id) else { throw SCIMError.notFound("tenant id must be a UUID") }
        guard tenant == scope.tenant else {
            throw SCIMError(status: 403, detail: "the signed tenant does not match the tenant in the path")
        }
        return tenant
    }

    /// The internal tenant API: the signed tenant must be the tenant in the path.
    func tenantAPI(_ endpoint: Endpoint, _ request: HTTPRequest, id: String, scope: RequestScope) throws -> SCIMOutcome {
        let pathTenant = try Self.pathTenant(id, scope)
        switch endpoint {
        case .putTenant:
            let settings = try TenantSettings.parse(try Self.body(request))
            let created = try service.database.putTenant(id: pathTenant, settings: settings)
            logger.notice(created ? "tenant created" : "tenant updated", [("tenant.id", .string(pathTenant))])
            return .document(status: created ? 201 : 200, Self.tenantJSON(pathTenant, settings))
        case .getTenant:
            guard let settings = try service.database.tenantSettings(id: pathTenant) else {
                throw SCIMError.tenantNotProvisioned(region: region)
            }
            guard QueryParameters(request.query)?["counts"] == "1", case .object(var o) = Self.tenantJSON(pathTenant, settings) else {
                return .document(status: 200, Self.tenantJSON(pathTenant, settings))
            }
            // The operator console's figures (the console asks for them; provisioning does not).
            let counts = try service.database.tenantCounts(id: pathTenant)
            o.appendUnchecked(key: "users", value: .number(JSONNumber(counts.users)))
            o.appendUnchecked(key: "groups", value: .number(JSONNumber(counts.groups)))
            return .document(status: 200, .object(o))
        case .deleteTenant:
            guard try service.database.deleteTenant(id: pathTenant) else { throw SCIMError.tenantNotProvisioned(region: region) }
            logger.notice("tenant deleted with all its data", [("tenant.id", .string(pathTenant))])
            return .noContent(version: nil)
        case .tenantQuirks:
            guard try service.database.tenantSettings(id: pathTenant) != nil else {
                throw SCIMError.tenantNotProvisioned(region: region)
            }
            let totals = try service.quirkCounts.totals(tenant: pathTenant, database: service.database)
            return .document(status: 200, QuirkCounts.json(tenant: pathTenant, totals))
        default:
            preconditionFailure("not a tenant endpoint")
        }
    }

    static func tenantJSON(_ id: String, _ settings: TenantSettings) -> JSONValue {
        var o = JSONObject()
        o.appendUnchecked(key: "id", value: .string(id))
        if case .object(let s) = settings.json { for (k, v) in s { o.appendUnchecked(key: k, value: v) } }
        return .object(o)
    }

    func readyz() -> HTTPResponse {
        guard !readiness.isDraining else {
            return HTTPResponse(status: .serviceUnavailable, contentType: "application/json",
                                body: "{\"status\":\"unavailable\",\"reason\":\"shutting down\"}")
        }
        guard readiness.isMigrated else {
            return HTTPResponse(status: .serviceUnavailable, contentType: "application/json",
                                body: "{\"status\":\"unavailable\",\"reason\":\"migrations not applied\"}")
        }
        do {
            try service.database.pool.withConnection(timeout: .seconds(1)) { connection in
                _ = try connection.query("SELECT 1")
            }
        } catch {
            return HTTPResponse(status: .serviceUnavailable, contentType: "application/json",
                                body: "{\"status\":\"unavailable\",\"reason\":\"database unreachable\"}")
        }
        return HTTPResponse(status: .ok, contentType: "application/json", body: "{\"status\":\"ready\"}")
    }

    // MARK: Content negotiation and rendering

    /// The default response media type.
    package static let scimJSON = "application/scim+json; charset=utf-8"

    /// `application/scim+json` unless the client's Accept prefers `application/json` (OneLogin asks for plain JSON
    /// [docs/idp-behaviour.md#onelogin-overview]; Entra needs scim+json [docs/idp-behaviour.md#entra-overview]); q-values count (`ResponseMediaType`).
    static func responseContentType(_ request: HTTPRequest) -> String {
        ResponseMediaType.negotiate(accept: request.headers["Accept"]).contentType
    }

    /// The request body as JSON: `application/scim+json` or `application/json` (or no Content-Type at all), else 415.
    static func body(_ request: HTTPRequest) throws(SCIMError) -> JSONValue {
        if let type = request.headers["Content-Type"] {
            let media = trimOWS(type.split(separator: ";", maxSplits: 1).first ?? "").lowercased()
            guard media == "application/scim+json" || media == "application/json" else {
                throw SCIMError(status: 415, detail: "Content-Type must be application/scim+json or application/json")
            }
        }
        guard !request.body.isEmpty else { throw .invalidSyntax("the request needs a JSON body") }
        do {
            return try JSONDecoder.decode(request.body)
        } catch {
            throw .malformedJSON(error)
        }
    }

    static func render(_ outcome: SCIMOutcome, _ contentType: String) -> HTTPResponse {
        switch outcome {
        case .resource(let status, let body, let version, let location):
            var response = HTTPResponse(status: HTTPStatus(code: status), headers: ["Content-Type": contentType],
                                        body: JSONEncoder.encode(.object(body)))
            response.headers.add("ETag", ETag.weak(version: String(version)))
            if let location { response.headers.add("Location", location) }
            return response
        case .list(let list):
            return HTTPResponse(status: .ok, headers: ["Content-Type": contentType], body: JSONEncoder.encode(list.json))
        case .document(let status, let json):
            return HTTPResponse(status: HTTPStatus(code: status), headers: ["Content-Type": contentType], body: JSONEncoder.encode(json))
        case .noContent(let version):
            var response = HTTPResponse(status: .noContent)
            if let version { response.headers.add("ETag", ETag.weak(version: String(version))) }
            return response
        case .notModified(let version):
            return HTTPResponse(status: .notModified, headers: ["ETag": ETag.weak(version: String(version))])
        }
    }

    /// A SCIM Error response (RFC 7644 §3.12), as every server renders failures (`HTTPResponseError`).
    package static func error(_ error: SCIMError, _ contentType: String = scimJSON) -> HTTPResponse {
        HTTPResponse(error: error, accept: contentType.hasPrefix("application/json") ? "application/json" : nil)
    }
}
