#if canImport(Glibc)
import Glibc
#endif
import Crypto
import HTTPCore
import JSON
import NetIO
import Postgres
import RegionLink
import ServerRuntime
import Synchronization
import Telemetry
import Locking

typealias AdminHandler = @Sendable (AdminAPI, AdminCall) throws -> HTTPResponse

/// The operator's API on its own listener (`/admin/v1/...`), protected by admin credentials (`scimadm_…` bearer
/// tokens, stored as HMAC hashes, compared in constant time). JSON in and out; every change is audited.
/// Documented in `Sources/GatewayApp/Admin/admin-openapi.yaml`.
final class AdminAPI: HTTPResponder {
    let store: ControlStore
    let directory: RegionDirectory
    let keyringFile: KeyringFile
    let regions: RegionInternalClient
    let logger: Logger
    let authenticator: TokenAuthenticator
    let defaultRotationGraceSeconds: Int
    /// The shortest access-token lifetime an OAuth client may be given (`--oauth-min-token-lifetime`).
    let oauthMinimumLifetimeSeconds: Int
    let metrics: MetricsRegistry
    private let keyLock = Lock<Void>(())

    init(store: ControlStore, directory: RegionDirectory, keyringFile: KeyringFile, authenticator: TokenAuthenticator,
         logger: Logger, metrics: MetricsRegistry, defaultRotationGraceSeconds: Int = 86_400,
         oauthMinimumLifetimeSeconds: Int = OAuthClient.defaultMinimumLifetime) {
        self.metrics = metrics
        self.oauthMinimumLifetimeSeconds = oauthMinimumLifetimeSeconds
        self.store = store
        self.directory = directory
        self.keyringFile = keyringFile
        self.regions = RegionInternalClient(keyring: { [keyringFile] in keyringFile.keyring })
        self.logger = logger
        self.authenticator = authenticator
        self.defaultRotationGraceSeconds = defaultRotationGraceSeconds
    }

    /// Every admin route; the templates are what logs and metrics record.
    static let routes: Router<AdminHandler> = {
        var r = Router<AdminHandler>(caseInsensitiveLiterals: false)
        r.add(.get, "/admin/v1/tenants", { try $0.listTenants($1) })
        r.add(.post, "/admin/v1/tenants", { try $0.createTenant($1) })
        r.add(.get, "/admin/v1/tenants/:tenant", { try $0.showTenant($1) })
        r.add(.patch, "/admin/v1/tenants/:tenant", { try $0.updateTenant($1) })
        r.add(.delete, "/admin/v1/tenants/:tenant", { try $0.deleteTenant($1) })
        r.add(.get, "/admin/v1/tenants/:tenant/quirks", { try $0.tenantQuirks($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/move", { try $0.startMove($1) })
        r.add(.get, "/admin/v1/tenants/:tenant/move", { try $0.showMove($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/move/abort", { try $0.abortMove($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/move/resume", { try $0.resumeMove($1) })
        r.add(.get, "/admin/v1/tenants/:tenant/residency", { try $0.residencyReport($1) })
        r.add(.get, "/admin/v1/tenants/:tenant/tokens", { try $0.listTokens($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/tokens", { try $0.issueToken($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/tokens/:token/rotate", { try $0.rotateToken($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/tokens/:token/revoke", { try $0.revokeToken($1) })
        r.add(.delete, "/admin/v1/tenants/:tenant/tokens/:token", { try $0.revokeToken($1) })
        r.add(.get, "/admin/v1/tenants/:tenant/oauth-clients", { try $0.listOAuthClients($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/oauth-clients", { try $0.createOAuthClient($1) })
        r.add(.patch, "/admin/v1/tenants/:tenant/oauth-clients/:client", { try $0.updateOAuthClient($1) })
        r.add(.delete, "/admin/v1/tenants/:tenant/oauth-clients/:client", { try $0.revokeOAuthClient($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/oauth-clients/:client/rotate-secret", { try $0.rotateOAuthClientSecret($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/oauth-clients/:client/revoke", { try $0.revokeOAuthClient($1) })
        r.add(.get, "/admin/v1/tenants/:tenant/setup-links", { try $0.listSetupLinks($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/setup-links", { try $0.createSetupLink($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/setup-links/:link/revoke", { try $0.revokeSetupLink($1) })
        r.add(.delete, "/admin/v1/tenants/:tenant/setup-links/:link", { try $0.revokeSetupLink($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/integration/deactivate", { try $0.setIntegration($1, .deactivated) })
        r.add(.post, "/admin/v1/tenants/:tenant/integration/reactivate", { try $0.setIntegration($1, .active) })
        r.add(.post, "/admin/v1/tenants/:tenant/integration/token", { try $0.replaceTokens($1) })
        r.add(.get, "/admin/v1/tenants/:tenant/events", { try $0.relayToRegion($1, .get, "events") })
        r.add(.get, "/admin/v1/tenants/:tenant/users", { try $0.relayToRegion($1, .get, "users") })
        r.add(.get, "/admin/v1/tenants/:tenant/groups", { try $0.relayToRegion($1, .get, "groups") })
        r.add(.get, "/admin/v1/tenants/:tenant/groups/:group/members", { try $0.relayToRegion($1, .get, "groups/\(try AdminAPI.uuidSegment($1, "group"))/members") })
        r.add(.put, "/admin/v1/tenants/:tenant/webhook", { try $0.relayToRegion($1, .put, "webhook", audit: "webhook.configure") })
        r.add(.get, "/admin/v1/tenants/:tenant/webhook", { try $0.relayToRegion($1, .get, "webhook") })
        r.add(.delete, "/admin/v1/tenants/:tenant/webhook", { try $0.relayToRegion($1, .delete, "webhook", audit: "webhook.delete") })
        r.add(.post, "/admin/v1/tenants/:tenant/webhook/redeliver",
              { try $0.relayToRegion($1, .post, "webhook/redeliver", audit: "webhook.redeliver") })
        // Roles, attribute mapping, one user, reconciliation snapshots (issue 18; AdminDirectoryAPI).
        r.add(.get, "/admin/v1/tenants/:tenant/roles", { try $0.getRoles($1) })
        r.add(.put, "/admin/v1/tenants/:tenant/roles", { try $0.putRoles($1) })
        r.add(.delete, "/admin/v1/tenants/:tenant/roles", { try $0.deleteRoles($1) })
        r.add(.get, "/admin/v1/tenants/:tenant/attribute-mapping", { try $0.getAttributeMapping($1) })
        r.add(.put, "/admin/v1/tenants/:tenant/attribute-mapping", { try $0.putAttributeMapping($1) })
        r.add(.delete, "/admin/v1/tenants/:tenant/attribute-mapping", { try $0.deleteAttributeMapping($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/attribute-mapping/preview", { try $0.previewAttributeMapping($1) })
        r.add(.get, "/admin/v1/tenants/:tenant/users/:user", { try $0.showUser($1) })
        r.add(.post, "/admin/v1/tenants/:tenant/snapshots", { try $0.createSnapshot($1) })
        r.add(.get, "/admin/v1/tenants/:tenant/snapshots/:snapshot", { try $0.snapshotPage($1) })
        r.add(.delete, "/admin/v1/tenants/:tenant/snapshots/:snapshot", { try $0.releaseSnapshot($1) })
        r.add(.get, "/admin/v1/tenants/:tenant/request-log", { try $0.requestLog($1) })
        r.add(.get, "/admin/v1/tenants/:tenant/request-log/summary", { try $0.requestLogSummary($1) })
        r.add(.get, "/admin/v1/keys", { try $0.listKeys($1) })
        r.add(.post, "/admin/v1/keys/pepper/rotate", { try $0.rotatePepper($1) })
        r.add(.post, "/admin/v1/keys/pepper/:key/retire", { try $0.retireKey($1, .pepper) })
        r.add(.post, "/admin/v1/keys/link/rotate", { try $0.rotateLink($1) })
        r.add(.post, "/admin/v1/keys/link/promote", { try $0.promoteLink($1) })
        r.add(.post, "/admin/v1/keys/link/:key/retire", { try $0.retireKey($1, .link) })
        r.add(.get, "/admin/v1/audit", { try $0.auditLog($1) })
        r.add(.get, "/admin/v1/regions", { try $0.listRegions($1) })
        return r
    }()

    func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse {
        let match = Self.routes.match(request.method, path: request.path)
        var record = RequestRecord(requestID: RequestID.accept(request.headers["X-Request-Id"]), method: request.method,
                                   route: match.template ?? (request.path == "/healthz" || request.path == "/metrics"
                                                             ? String(request.path) : "unmatched"))
        var response: HTTPResponse
        if request.path == "/healthz" {
            response = HTTPResponse(status: .ok, contentType: "application/json", body: "{\"status\":\"ok\",\"service\":\"scim-gateway-admin\"}")
        } else if request.path == "/metrics" && request.method == .get {
            // Unauthenticated for Prometheus scrapers: the admin listener is private. Ids only, no secrets.
            response = HTTPResponse(status: .ok, contentType: MetricsRegistry.contentType, body: metrics.render())
        } else {
            do {
                response = try handle(request, match, record: &record)
            } catch let error as AdminError {
                response = HTTPResponse(error: error)
            } catch {
                response = HTTPResponse(error: AdminError.unavailable("internal error"))
            }
        }
        response.headers.set("X-Request-Id", record.requestID)
        response.headers.set("Cache-Control", "no-store")
        record.finish(status: response.status.code)
        record.log(logger, message: "admin request")
        return response
    }

    private func handle(_ request: HTTPRequest, _ match: Router<AdminHandler>.Match, record: inout RequestRecord) throws -> HTTPResponse {
        switch match {
        case .notFound:
            throw AdminError.notFound("no such endpoint")
        case .methodNotAllowed(let allowed, _):
            throw AdminError(status: 405, code: "method_not_allowed", message: "method not allowed",
                             headers: [("Allow", allowed.map(\.description).joined(separator: ", "))])
        case .found(let handler, let parameters, _):
            let keyID = try authenticate(request).get()
            record.actor = "admin:\(keyID)"
            let call = AdminCall(request: request, parameters: parameters,
                                 query: QueryParameters(request.query) ?? QueryParameters([]),
                                 actor: record.actor!, requestID: record.requestID)
            return try handler(self, call)
        }
    }

    private func authenticate(_ request: HTTPRequest) -> Result<String, AdminError> {
        authenticateAdmin(bearerToken(fromAuthorization: request.headers["Authorization"]))
    }

    /// The admin key id of a presented admin credential (constant-time HMAC check; re-hashed after a pepper
    /// rotation), or 401.
    func authenticateAdmin(_ presented: String?) -> Result<String, AdminError> {
        let unauthorized = AdminError(status: 401, code: "unauthorized", message: "admin credentials required (Authorization: Bearer scimadm_…)",
                                      headers: [("WWW-Authenticate", "Bearer realm=\"scim-admin\"")])
        guard let presented, case .success(let credential) = TokenCredential.parse(presented, kind: .admin) else { return .failure(unauthorized) }
        let key: ControlStore.AdminKey?
        do {
            key = try store.adminKey(id: credential.id)
        } catch {
            return .failure(.unavailable("control plane unavailable"))
        }
        let ring = keyringFile.keyring
        guard let key, !key.revoked, let pepper = ring.key(.pepper, id: key.pepperID),
              constantTimeEquals(credential.hash(pepper: pepper.secret), key.hash) else { return .failure(unauthorized) }
        if let current = ring.current(.pepper), current.id != key.pepperID {
            try? store.rehashAdminKey(id: key.id, fromPepper: key.pepperID, hash: credential.hash(pepper: current.secret),
                                      pepperID: current.id)
        }
        return .success(key.id)
    }

    /// Runs an admin route for the console, whose session already authenticated the operator: same handlers, same
    /// validation, same audit rows (actor `console:<key id>`). Returns the status and the JSON answer.
    func perform(_ method: HTTPMethod, _ target: String, body: JSONValue? = nil, actor: String, requestID: String) -> (Int, JSONValue?) {
        var request = HTTPRequest(method: method, target: target, body: body?.encoded() ?? [])
        request.headers.add("Content-Type", "application/json")
        let response: HTTPResponse
        switch Self.routes.match(method, path: request.path) {
        case .found(let handler, let parameters, _):
            let call = AdminCall(request: request, parameters: parameters, query: QueryParameters(request.query) ?? QueryParameters([]),
                                 actor: actor, requestID: requestID)
            do {
                response = try handler(self, call)
            } catch let error as AdminError {
                response = HTTPResponse(error: error)
            } catch {
                response = HTTPResponse(error: AdminError.unavailable("internal error"))
            }
        default:
            response = HTTPResponse(error: AdminError.notFound("no such endpoint"))
        }
        return (response.status.code, response.body.isEmpty ? nil : try? JSONDecoder.decode(response.body))
    }

    // MARK: - JSON helpers

    static func json(_ status: Int, _ value: JSONValue) -> HTTPResponse {
        HTTPResponse(status: HTTPStatus(code: status), headers: ["Content-Type": "application/json"], body: value.encoded())
    }

    static func error(_ e: AdminError) -> HTTPResponse { HTTPResponse(error: e) }

    func tenantOrThrow(_ reference: String) throws(AdminError) -> Tenant {
        do {
            guard let t = try store.tenant(reference: reference) else { throw AdminError.notFound("tenant '\(reference)' not found") }
            return t
        } catch let e as AdminError { throw e }
        catch let e as ControlPlaneError { throw AdminError(e) }
        catch { throw .unavailable("control plane unavailable") }
    }

    func tenantJSON(_ t: Tenant) -> JSONValue {
        var o: JSONObject = ["id": .string(t.id), "name": .string(t.name), "region": .string(t.homeRegion),
                             "integrationState": .string(t.integrationState.rawValue),
                             "deprovisionPolicy": .string(t.deprovisionPolicy.rawValue)]
        o.set("scimBaseURL", directory.routes[t.homeRegion].map { .string($0.configuration.publicBaseURL) } ?? .null)
        o.set("rateLimit", ["perSecond": t.rateLimitPerSecond.map { .number(JSONNumber($0)) } ?? .null,
                            "burst": t.rateLimitBurst.map { .number(JSONNumber($0)) } ?? .null])
        o.set("settings", .object(t.settings))
        o.set("createdAt", .string(t.createdAt))
        o.set("updatedAt", .string(t.updatedAt))
        return .object(o)
    }

    static func tokenJSON(_ r: TokenRecord) -> JSONValue {
        let now = Timestamp.nowEpochMillis() * 1000
        return ["id": .string(r.id), "tenantId": .string(r.tenantID), "label": r.label.map { .string($0) } ?? .null,
                "status": .string(r.status(nowMicros: now).rawValue), "createdAt": .string(r.createdAt.iso8601),
                "createdBy": .string(r.createdBy), "lastUsedAt": r.lastUsedAt.map { .string($0.iso8601) } ?? .null,
                "expiresAt": r.expiresAt.map { .string($0.iso8601) } ?? .null,
                "revokedAt": r.revokedAt.map { .string($0.iso8601) } ?? .null,
                "revokedReason": r.revokedReason.map { .string($0) } ?? .null, "pepperId": .string(r.pepperID)]
    }

    /// The one time a secret is shown: the token, its `API_KEY:SCIM_KEY` form, and where to use it.
    func issuedJSON(_ issued: ControlStore.IssuedToken, tenant: Tenant) -> JSONValue {
        guard case .object(var o) = Self.tokenJSON(issued.record) else { return .null }
        o.set("token", .string(issued.credential.token))
        o.set("apiKey", .string(issued.credential.id))
        o.set("scimKey", .string(issued.credential.secret))
        o.set("scimBaseURL", directory.routes[tenant.homeRegion].map { .string($0.configuration.publicBaseURL) } ?? .null)
        o.set("notice", .string("store this token now: it is shown only once"))
        return .object(o)
    }

    private func currentPepper() throws(AdminError) -> (id: String, secret: [UInt8]) {
        guard let p = keyringFile.keyring.current(.pepper) else { throw .unavailable("keyring has no current pepper") }
        return (p.id, p.secret)
    }

    // MARK: - Tenants

    func listTenants(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        do {
            return Self.json(200, ["tenants": .array(try store.tenants().map(tenantJSON))])
        } catch { throw AdminError.converting(error) }
    }

    func showTenant(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        Self.json(200, tenantJSON(try tenantOrThrow(call.parameter("tenant"))))
    }

    private static func policy(_ body: JSONObject) throws(AdminError) -> Tenant.DeprovisionPolicy? {
        guard let v = body["deprovisionPolicy"] else { return nil }
        guard let s = v.string, let p = Tenant.DeprovisionPolicy(rawValue: s) else {
            throw .badRequest("deprovisionPolicy must be one of hard, soft, refuse")
        }
        return p
    }

    private static func rateLimit(_ body: JSONObject) throws(AdminError) -> (Int??, Int??) {
        guard let v = body["rateLimit"] else { return (nil, nil) }
        if v.isNull { return (.some(nil), .some(nil)) }
        guard case .object(let o) = v else { throw .badRequest("rateLimit must be an object {perSecond, burst} or null") }
        func field(_ name: String) throws(AdminError) -> Int?? {
            guard let f = o[name] else { return nil }
            if f.isNull { return .some(nil) }
            guard let n = f.int, n >= 0, n <= 1_000_000 else { throw .badRequest("rateLimit.\(name) must be an integer 0-1000000") }
            return .some(n)
        }
        return (try field("perSecond"), try field("burst"))
    }

    /// The region-side settings a tenant may carry: schema extensions, per-attribute validators and whether
    /// externalId is unique (the region validates them when the tenant is provisioned, so a bad entry is a 400 and
    /// nothing is created or changed).
    private static func settings(_ body: JSONObject, base: JSONObject) throws(AdminError) -> JSONObject? {
        var s = base
        var given = false
        for key in ["schemaExtensions", "validators"] {
            guard let v = body[key] else { continue }
            guard v.array != nil || v.isNull else { throw .badRequest("\(key) must be an array") }
            s.set(key, v)
            given = true
        }
        if let v = body["uniqueExternalId"] {
            guard v.bool != nil || v.isNull else { throw .badRequest("uniqueExternalId must be a boolean") }
            s.set("uniqueExternalId", v)
            given = true
        }
        if let v = body["requestLog"] {
            if let merged = try requestLogSettings(v, base: s["requestLog"]) {
                s.set("requestLog", merged)
            } else if let i = s.index(forKey: "requestLog") {
                s.remove(at: i)
            }
            given = true
        }
        return given ? s : nil
    }

    func createTenant(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let body = try call.body()
        guard let name = body["name"]?.string, (1...200).contains(name.count) else {
            throw .badRequest("name is required (1-200 characters)")
        }
        guard let regionID = body["region"]?.string else {
            throw .badRequest("region is required (one of \(directory.ids.joined(separator: ", ")))")
        }
        guard let route = directory.routes[regionID] else {
            throw .badRequest("unknown region '\(regionID)' (known: \(directory.ids.joined(separator: ", ")))")
        }
        let policy = try Self.policy(body) ?? .soft
        let (rate, burst) = try Self.rateLimit(body)
        let settings = try Self.settings(body, base: JSONObject()) ?? JSONObject()
        let issue = body["issueToken"]?.bool ?? true
        var requestedID: String? = nil
        if let v = body["id"] {
            // Adopting a tenant whose data already lives in the region (imports, restores, benchmarks).
            guard let s = v.string, isUUID(s) else { throw .badRequest("id must be a UUID") }
            requestedID = s.lowercased()
        }
        let tenant: Tenant
        do {
            tenant = try store.createTenant(name: name, region: regionID, policy: policy, settings: settings,
                                            rateLimitPerSecond: rate ?? nil, rateLimitBurst: burst ?? nil, actor: call.actor,
                                            id: requestedID) { t in
                try regions.provision(t, on: route, requestID: call.requestID)
            }
        } catch {
            throw AdminError.converting(error)
        }
        var out: JSONObject = ["tenant": tenantJSON(tenant)]
        if issue {
            do {
                let issued = try store.issueToken(tenantID: tenant.id, label: body["tokenLabel"]?.string ?? "initial",
                                                  expiresAt: nil, pepper: try currentPepper(), actor: call.actor)
                out.set("token", issuedJSON(issued, tenant: tenant))
            } catch { throw AdminError.converting(error) }
        }
        return Self.json(201, .object(out))
    }

    func updateTenant(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        let body = try call.body()
        var changes = ControlStore.TenantChanges()
        if let v = body["name"] {
            guard let n = v.string, (1...200).contains(n.count) else { throw .badRequest("name must be 1-200 characters") }
            changes.name = n
        }
        if body["region"] != nil, body["region"]?.string != tenant.homeRegion {
            throw .badRequest("a tenant's home region changes only by moving it (POST …/move, scimctl tenant move)")
        }
        changes.deprovisionPolicy = try Self.policy(body)
        (changes.rateLimitPerSecond, changes.rateLimitBurst) = try Self.rateLimit(body)
        changes.settings = try Self.settings(body, base: tenant.settings)
        guard let route = directory.routes[tenant.homeRegion] else { throw .unavailable("home region not configured") }
        do {
            let updated = try store.updateTenant(id: tenant.id, changes: changes, actor: call.actor) { t in
                try regions.provision(t, on: route, requestID: call.requestID)
            }
            authenticator.invalidate("tenant:\(tenant.id)")
            return Self.json(200, tenantJSON(updated))
        } catch {
            throw AdminError(error)
        }
    }

    func deleteTenant(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        guard let route = directory.routes[tenant.homeRegion] else { throw .unavailable("home region not configured") }
        try refuseWhileMoving(tenant)
        do {
            try store.deleteTenant(id: tenant.id, actor: call.actor) { t in
                try regions.purge(tenantID: t.id, on: route, requestID: call.requestID)
            }
            authenticator.invalidate("tenant:\(tenant.id)")
        } catch {
            throw AdminError(error)
        }
        return HTTPResponse(status: .noContent)
    }

    /// Which IdP quirks the tenant's requests needed, counted by its home region: tells which dialect its IdP speaks.
    func tenantQuirks(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        guard let route = directory.routes[tenant.homeRegion] else { throw .unavailable("home region not configured") }
        let answer: JSONValue?
        do {
            answer = try regions.quirks(tenantID: tenant.id, on: route, requestID: call.requestID)
        } catch {
            logger.warning("quirk report failed", [("request.id", .string(call.requestID)), ("region", .string(route.id)),
                                                   ("error", .string(error.description))])
            throw .unavailable("region \(route.id) did not answer; retry later")
        }
        guard let answer else { throw .notFound("tenant '\(tenant.id)' is not provisioned in region \(route.id)") }
        var o: JSONObject = ["tenantId": .string(tenant.id), "tenantName": .string(tenant.name), "region": .string(route.id)]
        o.set("quirks", answer["quirks"] ?? .array([]))
        return Self.json(200, .object(o))
    }

    // MARK: - Tokens and the integration lifecycle

    func listTokens(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        do {
            return Self.json(200, ["tokens": .array(try store.tokens(tenantID: tenant.id).map(Self.tokenJSON))])
        } catch { throw AdminError.converting(error) }
    }

    func issueToken(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        let body = try call.body()
        var expiresAt: PostgresTimestamp? = nil
        if let v = body["expiresInSeconds"] {
            guard let s = v.int, s > 0, s <= 10 * 366 * 86_400 else { throw .badRequest("expiresInSeconds must be 1 to 10 years") }
            expiresAt = PostgresTimestamp(microsecondsSinceEpoch: (Timestamp.nowEpochMillis() + Int64(s) * 1000) * 1000)
        }
        do {
            let issued = try store.issueToken(tenantID: tenant.id, label: body["label"]?.string, expiresAt: expiresAt,
                                              pepper: try currentPepper(), actor: call.actor)
            return Self.json(201, issuedJSON(issued, tenant: tenant))
        } catch { throw AdminError.converting(error) }
    }

    func rotateToken(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        let body = try call.body()
        var grace = defaultRotationGraceSeconds
        if let v = body["graceSeconds"] {
            guard let g = v.int, g >= 0, g <= 30 * 86_400 else { throw .badRequest("graceSeconds must be 0 to 2592000") }
            grace = g
        }
        do {
            let issued = try store.rotateToken(tenantID: tenant.id, tokenID: call.parameter("token"), graceSeconds: grace,
                                               pepper: try currentPepper(), actor: call.actor)
            authenticator.invalidate("token:\(call.parameter("token"))")
            var o: JSONObject = ["token": issuedJSON(issued, tenant: tenant)]
            o.set("previousTokenId", .string(call.parameter("token")))
            o.set("previousTokenValidForSeconds", .number(JSONNumber(grace)))
            return Self.json(201, .object(o))
        } catch { throw AdminError.converting(error) }
    }

    func revokeToken(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        do {
            let record = try store.revokeToken(tenantID: tenant.id, tokenID: call.parameter("token"),
                                               reason: call.revocationReason, actor: call.actor)
            authenticator.invalidate("token:\(record.id)")
            return Self.json(200, Self.tokenJSON(record))
        } catch { throw AdminError.converting(error) }
    }

    func setIntegration(_ call: AdminCall, _ state: Tenant.IntegrationState) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        do {
            let updated = try store.setIntegrationState(id: tenant.id, state, actor: call.actor)
            // This replica sees the change at once; the others within a notification's latency.
            authenticator.invalidate("tenant:\(tenant.id)")
            return Self.json(200, tenantJSON(updated))
        } catch { throw AdminError.converting(error) }
    }

    func replaceTokens(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let tenant = try tenantOrThrow(call.parameter("tenant"))
        do {
            let issued = try store.replaceTokens(tenantID: tenant.id, pepper: try currentPepper(), actor: call.actor)
            authenticator.invalidate("tenant:\(tenant.id)")
            return Self.json(201, ["tenant": tenantJSON(tenant), "token": issuedJSON(issued, tenant: tenant)])
        } catch { throw AdminError.converting(error) }
    }

    // MARK: - Keys

    func listKeys(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let usage: [String: Int]
        do { usage = try store.pepperUsage() } catch { throw AdminError.converting(error) }
        let ring = keyringFile.keyring
        func list(_ purpose: Key.Purpose) -> JSONValue {
            .array(ring.keys(purpose).map { k in
                var o: JSONObject = ["id": .string(k.id), "state": .string(k.state.rawValue)]
                if purpose == .pepper { o.set("credentialsUsingIt", .number(JSONNumber(usage[k.id] ?? 0))) }
                return .object(o)
            })
        }
        return Self.json(200, ["link": list(.link), "pepper": list(.pepper), "keyringWritable": .bool(keyringFile.isWritable)])
    }

    private func mutateKeyring(_ body: (inout Keyring) throws(AdminError) -> Void) throws(AdminError) -> Keyring {
        guard keyringFile.isWritable else {
            throw .conflict("the keyring file is read-only here; rotate by updating it in the secret store")
        }
        var ring = keyringFile.keyring
        try body(&ring)
        do { try keyringFile.save(ring) } catch { throw .unavailable(error.description) }
        return ring
    }

    private static func newKeyID(_ purpose: Key.Purpose) -> String {
        "\(purpose.rawValue)-\(Timestamp.iso8601(epochMillis: Timestamp.nowEpochMillis()).prefix(10))-\(Base62.random(6))"
    }

    func rotatePepper(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try keyLock.withLock { _ throws(AdminError) -> HTTPResponse in
            let newKey = Key.generate(purpose: .pepper, id: Self.newKeyID(.pepper), state: .current)
            let ring = try mutateKeyring { r throws(AdminError) in
                for k in r.keys(.pepper) where k.state == .current { r.setState(.pepper, id: k.id, .previous) }
                r.add(newKey)
            }
            try? store.recordAudit(actor: call.actor, action: "keys.pepper.rotate", detail: ["current": .string(newKey.id)])
            return Self.json(200, ["current": .string(newKey.id),
                                   "previous": .array(ring.keys(.pepper).filter { $0.state == .previous }.map { .string($0.id) }),
                                   "note": .string("existing tokens keep working and are re-hashed under the new pepper on their next use")])
        }
    }

    func rotateLink(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try keyLock.withLock { _ throws(AdminError) -> HTTPResponse in
            let newKey = Key.generate(purpose: .link, id: Self.newKeyID(.link), state: .next)
            _ = try mutateKeyring { r throws(AdminError) in
                for k in r.keys(.link) where k.state == .next { r.remove(.link, id: k.id) }
                r.add(newKey)
            }
            try? store.recordAudit(actor: call.actor, action: "keys.link.stage", detail: ["next": .string(newKey.id)])
            let wait = min(max(call.query["waitSeconds"].flatMap(Int.init) ?? 15, 0), 60)
            return try promoteNextLink(call, waitSeconds: wait)
        }
    }

    func promoteLink(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try keyLock.withLock { _ throws(AdminError) -> HTTPResponse in
            try promoteNextLink(call, waitSeconds: min(max(call.query["waitSeconds"].flatMap(Int.init) ?? 0, 0), 60))
        }
    }

    /// Signs with the staged key only once every region accepts it: then no request is ever refused mid-rotation.
    private func promoteNextLink(_ call: AdminCall, waitSeconds: Int) throws(AdminError) -> HTTPResponse {
        guard let next = keyringFile.keyring.keys(.link).first(where: { $0.state == .next }) else {
            throw .conflict("no staged link key; POST /admin/v1/keys/link/rotate first")
        }
        let deadline = Timestamp.monotonicNanos() + UInt64(waitSeconds) * 1_000_000_000
        var notReady: [String] = []
        while true {
            notReady = directory.ids.filter { id in !regions.accepts(key: next, on: directory.routes[id]!) }
            if notReady.isEmpty || Timestamp.monotonicNanos() >= deadline { break }
            usleep(500_000)
        }
        guard notReady.isEmpty else {
            return Self.json(202, ["staged": .string(next.id), "regionsNotReady": .array(notReady.map { .string($0) }),
                                   "note": .string("regions do not accept the staged key yet (they reload the keyring file every few seconds); POST /admin/v1/keys/link/promote to retry")])
        }
        let ring = try mutateKeyring { r throws(AdminError) in
            for k in r.keys(.link) where k.state == .current { r.setState(.link, id: k.id, .previous) }
            r.setState(.link, id: next.id, .current)
        }
        try? store.recordAudit(actor: call.actor, action: "keys.link.promote", detail: ["current": .string(next.id)])
        return Self.json(200, ["current": .string(next.id),
                               "previous": .array(ring.keys(.link).filter { $0.state == .previous }.map { .string($0.id) }),
                               "note": .string("regions accept current and previous keys; retire the previous one when you are done")])
    }

    func retireKey(_ call: AdminCall, _ purpose: Key.Purpose) throws(AdminError) -> HTTPResponse {
        let id = call.parameter("key")
        let force = call.query["force"] == "true"
        return try keyLock.withLock { _ throws(AdminError) -> HTTPResponse in
            guard let key = keyringFile.keyring.key(purpose, id: id) else { throw .notFound("no \(purpose.rawValue) key \(id)") }
            guard key.state != .current else { throw .conflict("\(id) is the current key; rotate first") }
            if purpose == .pepper {
                let inUse: Int
                do { inUse = try store.pepperUsage()[id] ?? 0 } catch { throw AdminError.converting(error) }
                if inUse > 0 && !force {
                    throw .conflict("\(inUse) credentials still use pepper \(id) (they are re-hashed when next used); retry later or pass force=true to invalidate them")
                }
            }
            _ = try mutateKeyring { r throws(AdminError) in r.remove(purpose, id: id) }
            try? store.recordAudit(actor: call.actor, action: "keys.\(purpose.rawValue).retire", detail: ["id": .string(id), "force": .bool(force)])
            return HTTPResponse(status: .noContent)
        }
    }

    // MARK: - Audit and regions

    func auditLog(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        var tenantID: String? = nil
        if let t = call.query["tenant"] { tenantID = try tenantOrThrow(t).id }
        let limit = min(max(call.query["limit"].flatMap(Int.init) ?? 100, 1), 1000)
        let after = call.query["after"].flatMap(Int64.init)
        do {
            let entries = try store.auditLog(tenantID: tenantID, afterID: after, limit: limit)
            let items: [JSONValue] = entries.map { e in
                ["id": .number(JSONNumber(e.id)), "at": .string(e.at), "actor": .string(e.actor), "action": .string(e.action),
                 "tenantId": e.tenantID.map { .string($0) } ?? .null, "tokenId": e.tokenID.map { .string($0) } ?? .null,
                 "detail": e.detail]
            }
            var o: JSONObject = ["entries": .array(items)]
            o.set("next", entries.count == limit ? .string(String(entries.last!.id)) : .null)
            return Self.json(200, .object(o))
        } catch { throw AdminError.converting(error) }
    }

    func listRegions(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        let items: [JSONValue] = directory.ids.map { id in
            let route = directory.routes[id]!
            let health = try? route.client.send(HTTPRequest(method: .get, target: "/readyz"), timeout: .seconds(2))
            return ["id": .string(id), "displayName": .string(route.configuration.displayName),
                    "publicBaseURL": .string(route.configuration.publicBaseURL),
                    "publicHosts": .array(route.configuration.publicHosts.map { .string($0) }),
                    "backend": .string("http://\(route.backendAuthority)"),
                    "ready": .bool(health?.status.code == 200)]
        }
        return Self.json(200, ["regions": .array(items)])
    }
}
