import HTTPCore
import JSON
import RegionLink
import SCIMCore
import ServerRuntime
import Telemetry
import RegionSCIM
import RegionRequestLog

extension RegionResponder.Endpoint {
    /// The SCIM service provider's endpoints (their requests are what the request log records).
    var isSCIM: Bool {
        switch self {
        case .serviceProviderConfig, .resourceTypes, .resourceType, .schemas, .schema, .list, .create, .search, .get,
             .replace, .patch, .delete, .bulk, .searchAll, .me:
            return true
        case .healthz, .readyz, .metrics, .putTenant, .getTenant, .deleteTenant, .tenantQuirks, .events, .users, .groups,
             .groupMembers, .putWebhook, .getWebhook, .deleteWebhook, .redeliverWebhook, .requestLog, .requestLogSummary,
             .ingestRequestLog, .directory, .move:
            return false
        }
    }

    /// The resource type the endpoint works on, if one.
    var resourceKind: ResourceKind? {
        switch self {
        case .list(let k), .create(let k), .search(let k), .get(let k), .replace(let k), .patch(let k), .delete(let k): k
        default: nil
        }
    }
}

extension RegionResponder {
    /// A request under `/scim/v2` that matches no route is still the tenant's request (an IdP configured with a
    /// wrong path is exactly what its IT admin needs to see): when it is authenticated it is recorded, and it is
    /// answered 404 or 405 as before either way. Nothing else is done for it.
    func traceUnmatched(_ request: HTTPRequest, record: inout RequestRecord, trace: inout RequestTrace) {
        guard requestLog != nil, request.path.hasPrefix("/scim/v2"),
              case .success(let scope) = authenticator.authenticate(request) else { return }
        record.tenant = scope.tenant
        record.requestID = scope.requestID
        trace.scope = scope
    }

    /// `GET …/request-log`, `GET …/request-log/summary`, `POST …/request-log` (the gateway's records of requests it
    /// refused itself): the signed tenant must be the one in the path.
    func requestLogAPI(_ endpoint: Endpoint, _ request: HTTPRequest, _ parameters: RouteParameters, scope: RequestScope) throws
        -> SCIMOutcome
    {
        let pathTenant = try Self.pathTenant(parameters["id"] ?? "", scope)
        guard let requestLog else { throw SCIMError.notFound("the request log is off in region \(region)") }
        let query = request.query.map(String.init)
        switch endpoint {
        case .requestLog:
            return .document(status: 200, try requestLog.list(tenant: pathTenant, query: query))
        case .requestLogSummary:
            return .document(status: 200, try requestLog.summary(tenant: pathTenant, query: query))
        case .ingestRequestLog:
            guard try service.database.tenantSettings(id: pathTenant) != nil else { throw SCIMError.tenantNotProvisioned(region: region) }
            return .document(status: 202, try requestLog.ingest(tenant: pathTenant, body: try Self.body(request)))
        default:
            preconditionFailure("not a request log endpoint")
        }
    }

    /// The request's record for the log: references to what is already in memory, no parsing and no copies of
    /// bodies (the writer does the rest on its own thread).
    static func logEntry(_ request: HTTPRequest, _ response: HTTPResponse, _ record: RequestRecord, _ scope: RequestScope,
                         _ trace: RequestTrace) -> RequestLogEntry {
        var resourceID = trace.resourceID
        var keep: JSONValue? = nil
        var results: Int? = nil
        var answered = RequestLogEntry.Identifiers()
        switch trace.outcome {
        case .resource(let status, let body, _, _)?:
            answered = RequestLogEntry.Identifiers(resource: body)
            if status == 201 { resourceID = body["id"]?.string }
            // A write's answer is kept (redacted); a read's is what the directory holds anyway.
            if request.method != .get { keep = .object(body) }
        case .list(let list)?:
            results = list.totalResults
        case .document(_, let json)? where request.method == .post:
            keep = json  // a Bulk answer: each operation's outcome
        default:
            break
        }
        let millis = record.durationSeconds * 1000
        return RequestLogEntry(
            tenant: scope.tenant, atMillis: Timestamp.nowEpochMillis() - Int64(millis), requestID: scope.requestID,
            source: .region, method: request.method.description, route: record.route,
            resourceType: trace.kind?.rawValue, resourceID: resourceID, query: request.query.map(String.init),
            userAgent: request.headers["User-Agent"], status: response.status.code,
            error: response.status.code >= 400 ? trace.error : nil, quirks: scope.quirks?.all ?? QuirkSet(),
            durationMillis: millis, requestBody: request.body, response: keep, responseBytes: response.body.count,
            results: results, answered: answered)
    }
}
