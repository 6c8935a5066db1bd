import HTTPCore
import JSON
import NetIO

/// The operator app's endpoints on the admin API — pull events, read users and groups, configure webhooks — relayed
/// to the tenant's home region over the signed internal API. Data residency: events, directory data and webhook
/// secrets live in the region; the gateway keeps nothing of them (the audit log records that a webhook changed,
/// never its URL's secret or the events).
extension AdminAPI {
    /// Sends the call to `/internal/v1/tenants/{id}/<path>` in the tenant's home region (query string and body as
    /// given) and answers with what the region answered. Region errors
    /// come back in the admin API's error shape with the region's status and detail.
    func relayToRegion(_ call: AdminCall, _ method: HTTPMethod, _ path: String, audit action: String? = nil) throws(AdminError)
        -> HTTPResponse
    {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        guard let route = directory.routes[tenant.homeRegion] else { throw .unavailable("home region not configured") }
        let query = call.request.query.map { "?" + $0 } ?? ""
        let response: HTTPResponse
        do {
            response = try regions.send(method, "/internal/v1/tenants/\(tenant.id)/\(path)\(query)", tenant: tenant.id,
                                        body: call.request.body, on: route, requestID: call.requestID, key: nil)
        } catch {
            throw .unavailable("region \(tenant.homeRegion) unreachable")
        }
        let status = response.status.code
        guard (200...299).contains(status) else {
            let detail = (try? JSONDecoder.decode(response.body))?["detail"]?.string ?? "the region answered \(status)"
            switch status {
            case 400: throw .badRequest(detail)
            case 404: throw .notFound(detail)
            case 409: throw .conflict(detail)
            case 401, 403: throw .unavailable("the region refused the gateway's signature")
            default: throw AdminError(status: status >= 500 ? 503 : status, code: status >= 500 ? "unavailable" : "invalid_request",
                                      message: detail)
            }
        }
        if let action {
            // What changed, never how: no secret, no URL (it may embed a token of the receiver).
            try? store.recordAudit(actor: call.actor, action: action, tenantID: tenant.id,
                                   detail: ["region": .string(tenant.homeRegion), "status": .number(JSONNumber(status))])
        }
        if status == 204 || response.body.isEmpty { return HTTPResponse(status: HTTPStatus(code: status)) }
        return HTTPResponse(status: HTTPStatus(code: status), headers: ["Content-Type": "application/json"], body: response.body)
    }
}
