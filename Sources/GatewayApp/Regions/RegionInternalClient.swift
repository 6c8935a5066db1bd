import HTTPCore
import NetIO
import RegionLink
import ServerRuntime
import Crypto
import Telemetry
import JSON

/// Signs and sends internal calls (tenant provisioning, key probes) to a region.
struct RegionInternalClient: Sendable {
    let keyring: @Sendable () -> Keyring

    enum Failure: Error, CustomStringConvertible {
        case unreachable(String)
        case refused(Int, String)
        var description: String {
            switch self {
            case .unreachable(let d): d
            case .refused(let status, let body): "region answered \(status): \(body)"
            }
        }
    }

    /// `PUT /internal/v1/tenants/{id}` with the settings the region keeps for the tenant.
    func provision(_ tenant: Tenant, on route: RegionRoute, requestID: String) throws(Failure) {
        var settings = tenant.settings
        settings.set("name", .string(tenant.name))
        settings.set("deprovisionPolicy", .string(tenant.deprovisionPolicy.rawValue))
        let response = try send(.put, "/internal/v1/tenants/\(tenant.id)", tenant: tenant.id,
                                body: JSONValue.object(settings).encoded(), on: route, requestID: requestID, key: nil)
        guard (200...299).contains(response.status.code) else {
            throw .refused(response.status.code, String(decoding: response.body.prefix(300), as: UTF8.self))
        }
    }

    /// `DELETE /internal/v1/tenants/{id}`: the region deletes every resource of the tenant.
    func purge(tenantID: String, on route: RegionRoute, requestID: String) throws(Failure) {
        let response = try send(.delete, "/internal/v1/tenants/\(tenantID)", tenant: tenantID, body: [], on: route,
                                requestID: requestID, key: nil)
        guard response.status.code == 204 || response.status.code == 404 else {
            throw .refused(response.status.code, String(decoding: response.body.prefix(300), as: UTF8.self))
        }
    }

    /// `GET /internal/v1/tenants/{id}/quirks`: the IdP quirks the tenant's requests needed, as the region counts them
    /// (nil when the region does not know the tenant).
    func quirks(tenantID: String, on route: RegionRoute, requestID: String) throws(Failure) -> JSONValue? {
        let response = try send(.get, "/internal/v1/tenants/\(tenantID)/quirks", tenant: tenantID, body: [], on: route,
                                requestID: requestID, key: nil)
        if response.status.code == 404 { return nil }
        guard response.status.code == 200, let json = try? JSONDecoder.decode(response.body) else {
            throw .refused(response.status.code, String(decoding: response.body.prefix(300), as: UTF8.self))
        }
        return json
    }

    /// Whether every replica of the region accepts a request signed with `key` (a link-key rotation waits for this
    /// before signing with it: each replica re-reads its own keyring file). Any answer other than 401 means the
    /// signature was accepted.
    func accepts(key: Key, on route: RegionRoute) -> Bool {
        let probe = "00000000-0000-0000-0000-000000000000"
        let replicas = route.replicas.members
        guard !replicas.isEmpty else { return false }
        return replicas.allSatisfy { replica in
            guard let response = try? send(.get, "/internal/v1/tenants/\(probe)", tenant: probe, body: [], on: route,
                                           requestID: "key-probe-" + Base62.random(8), key: key, replica: replica) else { return false }
            return response.status.code != 401
        }
    }

    func send(_ method: HTTPMethod, _ target: String, tenant: String, body: [UInt8], on route: RegionRoute,
              requestID: String, key: Key?, replica chosen: RegionReplica? = nil) throws(Failure) -> HTTPResponse {
        guard let signingKey = key ?? keyring().current(.link) else { throw .unreachable("no current link key in the keyring") }
        // One replica answers for the region: one that answered its last probe (all share the region's database).
        let replica = chosen ?? route.controlReplica
        let client = replica?.client ?? route.fallbackClient
        let authority = replica?.name ?? route.configuration.backends.first?.authority ?? route.id
        var request = HTTPRequest(method: method, target: target,
                                  headers: ["Content-Type": "application/json", "Host": authority], body: body)
        LinkSignature.sign(&request, tenant: tenant, baseURL: route.configuration.publicBaseURL, requestID: requestID,
                           key: signingKey, nowSeconds: Int(Timestamp.nowEpochMillis() / 1000))
        do {
            return try client.send(request, timeout: .seconds(10))
        } catch {
            throw .unreachable("region \(route.id): \(error.description)")
        }
    }
}
