import HTTPCore
import JSON
import Postgres
import SCIMCore
import RegionSCIM
import RegionEvents

extension RegionResponder {
    /// The events, webhook and read endpoints: like the tenant API, the signed tenant must be the one in the path.
    func eventsAPI(_ endpoint: Endpoint, _ request: HTTPRequest, _ parameters: RouteParameters, scope: RequestScope) throws
        -> SCIMOutcome
    {
        let pathTenant = try Self.pathTenant(parameters["id"] ?? "", scope)
        let query = request.query.map(String.init)
        switch endpoint {
        case .events:
            return .document(status: 200, try events.events(scope: scope, query: query))
        case .users:
            return .document(status: 200, try events.users(scope: scope, query: query))
        case .groups:
            return .document(status: 200, try events.groups(scope: scope, query: query))
        case .groupMembers:
            return .document(status: 200, try events.members(scope: scope, group: parameters["group"] ?? "", query: query))
        case .putWebhook:
            let (created, json) = try events.webhooks.put(tenant: pathTenant, body: try Self.body(request))
            logger.notice(created ? "webhook endpoint created" : "webhook endpoint updated", [("tenant.id", .string(pathTenant))])
            return .document(status: created ? 201 : 200, json)
        case .getWebhook:
            guard let json = try events.webhooks.get(tenant: pathTenant) else { throw SCIMError.notFound("no webhook endpoint") }
            return .document(status: 200, json)
        case .deleteWebhook:
            guard try events.webhooks.delete(tenant: pathTenant) else { throw SCIMError.notFound("no webhook endpoint") }
            logger.notice("webhook endpoint deleted", [("tenant.id", .string(pathTenant))])
            return .noContent(version: nil)
        case .redeliverWebhook:
            let body: JSONValue = request.body.isEmpty ? .object(JSONObject()) : try Self.body(request)
            guard let json = try events.webhooks.redeliver(tenant: pathTenant, body: body) else {
                throw SCIMError.notFound("no webhook endpoint")
            }
            logger.notice("webhook redelivery requested", [("tenant.id", .string(pathTenant))])
            return .document(status: 200, json)
        default:
            preconditionFailure("not an events endpoint")
        }
    }
}
