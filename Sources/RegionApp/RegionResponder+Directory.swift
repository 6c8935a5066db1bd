import HTTPCore
import JSON
import RegionEvents
import RegionSCIM
import SCIMCore

extension RegionResponder {
    /// Role rules, attribute mapping, one user, snapshots: like the tenant API, the signed tenant must be the one in
    /// the path.
    func directoryAPI(_ endpoint: DirectoryEndpoint, _ request: HTTPRequest, _ parameters: RouteParameters, scope: RequestScope)
        throws -> SCIMOutcome
    {
        let tenant = try Self.pathTenant(parameters["id"] ?? "", scope)
        let configs = directory.configs
        switch endpoint {
        case .getRoles:
            return .document(status: 200, try configs.get(.roles, tenant: tenant))
        case .putRoles:
            let (changed, answer) = try configs.putRoles(tenant: tenant, body: try Self.body(request))
            if changed { logger.notice("role configuration changed; recomputing every user", [("tenant.id", .string(tenant))]) }
            return .document(status: 200, answer)
        case .deleteRoles:
            guard let answer = try configs.delete(.roles, tenant: tenant) else { throw SCIMError.notFound("no role configuration") }
            logger.notice("role configuration removed; recomputing every user", [("tenant.id", .string(tenant))])
            return .document(status: 200, answer)
        case .getMapping:
            return .document(status: 200, try configs.get(.attributeMapping, tenant: tenant))
        case .putMapping:
            let (changed, answer) = try configs.putMapping(tenant: tenant, body: try Self.body(request))
            if changed { logger.notice("attribute mapping changed; recomputing every profile", [("tenant.id", .string(tenant))]) }
            return .document(status: 200, answer)
        case .deleteMapping:
            guard let answer = try configs.delete(.attributeMapping, tenant: tenant) else { throw SCIMError.notFound("no attribute mapping") }
            logger.notice("attribute mapping removed; clearing every profile", [("tenant.id", .string(tenant))])
            return .document(status: 200, answer)
        case .previewMapping:
            return .document(status: 200, try configs.preview(tenant: tenant, body: try Self.body(request)))
        case .user:
            return .document(status: 200, try events.user(scope: scope, id: parameters["user"] ?? ""))
        case .createSnapshot:
            return .document(status: 201, try directory.snapshots.create(scope: scope))
        case .snapshotPage:
            return .document(status: 200, try directory.snapshots.page(scope: scope, token: parameters["snapshot"] ?? "",
                                                                       query: request.query.map(String.init)))
        case .releaseSnapshot:
            guard try directory.snapshots.release(scope: scope, token: parameters["snapshot"] ?? "") else {
                throw SCIMError.notFound("this replica holds no such snapshot (it ends at its deadline)")
            }
            return .noContent(version: nil)
        }
    }
}
