import HTTPCore
import SCIMCore
import RegionSCIM
import RegionMove

extension RegionResponder {
    /// The move endpoints (`MoveAPI`): like the tenant API, the signed tenant must be the one in the path. Fence
    /// changes are logged (a move's steps are audited in the control plane; this is the region's own trace).
    func moveAPI(_ operation: MoveAPI.Operation, _ request: HTTPRequest, _ parameters: RouteParameters, scope: RequestScope) throws
        -> HTTPResponse
    {
        let pathTenant = try Self.pathTenant(parameters["id"] ?? "", scope)
        let response = try moves.respond(operation, request, tenant: pathTenant)
        switch operation {
        case .putFence, .removeFence, .purge:
            logger.notice("tenant move: \(operation.rawValue)", [("tenant.id", .string(pathTenant)),
                                                                 ("move", .string(String(decoding: response.body.prefix(200), as: UTF8.self)))])
        default:
            break
        }
        return response
    }
}
