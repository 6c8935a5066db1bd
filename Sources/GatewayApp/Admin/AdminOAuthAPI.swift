import HTTPCore
import JSON
import Postgres
import Telemetry

/// OAuth clients of a tenant (docs/oauth.md): create (the secret is shown once), list, change the access-token
/// lifetime or label, rotate the secret with a grace window, revoke (its access tokens die with it).
extension AdminAPI {
    func oauthClientJSON(_ c: OAuthClient, tenant: Tenant) -> JSONValue {
        let now = Timestamp.nowEpochMillis() * 1000
        var o: JSONObject = ["clientId": .string(c.id), "tenantId": .string(c.tenantID),
                             "label": c.label.map { .string($0) } ?? .null,
                             "status": .string(c.revokedAt == nil ? "live" : "revoked"),
                             "tokenLifetimeSeconds": .number(JSONNumber(c.tokenLifetimeSeconds)),
                             "createdAt": .string(c.createdAt.iso8601), "createdBy": .string(c.createdBy)]
        o.set("secretRotatedAt", c.secretRotatedAt.map { .string($0.iso8601) } ?? .null)
        o.set("previousSecretValidUntil", c.previous(nowMicros: now) != nil ? c.previousExpiresAt.map { .string($0.iso8601) } ?? .null : .null)
        o.set("lastTokenIssuedAt", c.lastUsedAt.map { .string($0.iso8601) } ?? .null)
        o.set("liveAccessTokens", .number(JSONNumber(c.liveAccessTokens)))
        o.set("revokedAt", c.revokedAt.map { .string($0.iso8601) } ?? .null)
        o.set("revokedReason", c.revokedReason.map { .string($0) } ?? .null)
        if let route = directory.routes[tenant.homeRegion] {
            o.set("tokenEndpoint", .string(OAuthTokenEndpoint.origin(of: route) + OAuthTokenEndpoint.tokenPath))
            o.set("scimBaseURL", .string(route.configuration.publicBaseURL))
        }
        return .object(o)
    }

    /// The one time a client secret is shown.
    private func createdJSON(_ created: ControlStore.CreatedOAuthClient, tenant: Tenant) -> JSONValue {
        guard case .object(var o) = oauthClientJSON(created.client, tenant: tenant) else { return .null }
        o.set("clientSecret", .string(created.credential.clientSecret))
        o.set("notice", .string("store this client secret now: it is shown only once"))
        return .object(o)
    }

    private func lifetime(_ body: JSONObject) throws(AdminError) -> Int? {
        guard let v = body["tokenLifetimeSeconds"] else { return nil }
        guard let s = v.int, (oauthMinimumLifetimeSeconds...OAuthClient.maximumLifetime).contains(s) else {
            throw .badRequest("tokenLifetimeSeconds must be an integer from \(oauthMinimumLifetimeSeconds) to \(OAuthClient.maximumLifetime) (6 hours)")
        }
        return s
    }

    private static func label(_ body: JSONObject) throws(AdminError) -> String?? {
        guard let v = body["label"] else { return nil }
        if v == .null { return .some(nil) }
        guard let s = v.string, s.count <= 200 else { throw .badRequest("label must be a string of at most 200 characters, or null") }
        return .some(s)
    }

    func listOAuthClients(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        do {
            return Self.json(200, ["oauthClients": .array(try store.oauthClients(tenantID: tenant.id).map { oauthClientJSON($0, tenant: tenant) })])
        } catch { throw AdminError.converting(error) }
    }

    func createOAuthClient(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        let body = try call.body()
        let lifetime = try lifetime(body) ?? OAuthClient.defaultLifetime
        let label = try Self.label(body) ?? nil
        guard let p = keyringFile.keyring.current(.pepper) else { throw .unavailable("keyring has no current pepper") }
        do {
            let created = try store.createOAuthClient(tenantID: tenant.id, label: label, lifetimeSeconds: lifetime,
                                                      pepper: (p.id, p.secret), actor: call.actor)
            return Self.json(201, createdJSON(created, tenant: tenant))
        } catch { throw AdminError.converting(error) }
    }

    func updateOAuthClient(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        let body = try call.body()
        let lifetime = try lifetime(body)
        let label = try Self.label(body)
        guard lifetime != nil || label != nil else { throw .badRequest("nothing to change: send tokenLifetimeSeconds and/or label") }
        do {
            let client = try store.updateOAuthClient(tenantID: tenant.id, clientID: call.parameter("client"),
                                                     lifetimeSeconds: lifetime, label: label, actor: call.actor)
            return Self.json(200, oauthClientJSON(client, tenant: tenant))
        } catch { throw AdminError.converting(error) }
    }

    func rotateOAuthClientSecret(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        let body = try call.body()
        var grace = defaultRotationGraceSeconds
        if let v = body["graceSeconds"] {
            guard let g = v.int, g >= 0, g <= 30 * 86_400 else { throw .badRequest("graceSeconds must be 0 to 2592000") }
            grace = g
        }
        guard let p = keyringFile.keyring.current(.pepper) else { throw .unavailable("keyring has no current pepper") }
        do {
            let rotated = try store.rotateOAuthClientSecret(tenantID: tenant.id, clientID: call.parameter("client"), graceSeconds: grace,
                                                            pepper: (p.id, p.secret), actor: call.actor)
            guard case .object(var o) = createdJSON(rotated, tenant: tenant) else { return Self.json(500, .null) }
            o.set("previousSecretValidForSeconds", .number(JSONNumber(grace)))
            return Self.json(201, .object(o))
        } catch { throw AdminError.converting(error) }
    }

    func revokeOAuthClient(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        do {
            let client = try store.revokeOAuthClient(tenantID: tenant.id, clientID: call.parameter("client"),
                                                     reason: call.revocationReason, actor: call.actor)
            // This replica at once; the others when the NOTIFY sent in the same transaction arrives.
            authenticator.invalidate("tenant:\(tenant.id)")
            return Self.json(200, oauthClientJSON(client, tenant: tenant))
        } catch { throw AdminError.converting(error) }
    }
}
