import HTTPCore
import JSON
import Telemetry

/// Setup links for a tenant's IT admin (docs/web.md): create (the link is in this answer only), list, revoke.
extension AdminAPI {
    func setupLinkJSON(_ l: SetupLink, tenant: Tenant) -> JSONValue {
        var o: JSONObject = ["id": .string(l.id), "tenantId": .string(l.tenantID), "label": l.label.map { .string($0) } ?? .null,
                             "status": .string(l.status(nowMicros: Timestamp.nowEpochMillis() * 1000).rawValue),
                             "createdAt": .string(l.createdAt.iso8601), "createdBy": .string(l.createdBy),
                             "expiresAt": .string(l.expiresAt.iso8601)]
        o.set("lastOpenedAt", l.lastUsedAt.map { .string($0.iso8601) } ?? .null)
        o.set("opened", .number(JSONNumber(l.uses)))
        o.set("revokedAt", l.revokedAt.map { .string($0.iso8601) } ?? .null)
        return .object(o)
    }

    func listSetupLinks(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        do {
            return Self.json(200, ["setupLinks": .array(try store.setupLinks(tenantID: tenant.id).map { setupLinkJSON($0, tenant: tenant) })])
        } catch { throw AdminError.converting(error) }
    }

    func createSetupLink(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        let body = try call.body()
        var lifetime = SetupLink.defaultLifetimeSeconds
        if let v = body["expiresInSeconds"] {
            guard let s = v.int, (60...SetupLink.maximumLifetimeSeconds).contains(s) else {
                throw .badRequest("expiresInSeconds must be 60 to \(SetupLink.maximumLifetimeSeconds) (30 days)")
            }
            lifetime = s
        }
        var label: String? = nil
        if let v = body["label"], v != .null {
            guard let s = v.string, s.count <= 200 else { throw .badRequest("label must be a string of at most 200 characters") }
            label = s
        }
        guard let route = directory.routes[tenant.homeRegion] else { throw .unavailable("home region not configured") }
        guard let p = keyringFile.keyring.current(.pepper) else { throw .unavailable("keyring has no current pepper") }
        do {
            let created = try store.createSetupLink(tenantID: tenant.id, label: label, lifetimeSeconds: lifetime,
                                                    pepper: (p.id, p.secret), actor: call.actor)
            guard case .object(var o) = setupLinkJSON(created.link, tenant: tenant) else { return Self.json(500, .null) }
            let path = "/setup/l/" + created.credential.token
            o.set("path", .string(path))
            o.set("url", .string(OAuthTokenEndpoint.origin(of: route) + path))
            o.set("notice", .string("send this link to the customer's IT admin now: it is shown only once"))
            return Self.json(201, .object(o))
        } catch { throw AdminError.converting(error) }
    }

    func revokeSetupLink(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        do {
            let link = try store.revokeSetupLink(tenantID: tenant.id, linkID: call.parameter("link"), actor: call.actor)
            return Self.json(200, setupLinkJSON(link, tenant: tenant))
        } catch { throw AdminError.converting(error) }
    }
}
