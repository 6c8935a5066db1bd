import Crypto
import HTTPCore
import JSON
import Postgres
import RegionLink
import ServerRuntime
import Telemetry
import WebUI

/// The operator console (docs/web.md): HTML pages on the admin listener under `/console`, behind the admin
/// credential. A sign-in with an admin token (`scimadm_…`) starts a signed session cookie; every page re-checks that
/// the admin key is still valid, every form carries a CSRF token, failed sign-ins are throttled per source.
///
/// The console is a face on the admin API: each action runs the same admin route (`AdminAPI.perform`), with the
/// same validation and audit rows (actor `console:<key id>`); the pages only render what the routes answer.
final class OperatorConsole: Sendable {
    static let prefix = "/console"
    static let cookieName = "scim_console"
    static let sessionSeconds: Int64 = 8 * 3600

    let admin: AdminAPI
    let keys: WebKeys
    let activity: TenantActivity
    let regionHealth: @Sendable () -> [String: Bool]
    let requestLog: RequestLogClient
    let trustForwardedProto: Bool
    let loginLimiter = KeyedRateLimiter()

    init(admin: AdminAPI, activity: TenantActivity, regionHealth: @escaping @Sendable () -> [String: Bool],
         trustForwardedProto: Bool) {
        self.admin = admin
        self.keys = WebKeys(keyring: { [keyringFile = admin.keyringFile] in keyringFile.keyring })
        self.activity = activity
        self.regionHealth = regionHealth
        self.requestLog = RequestLogClient(regions: admin.regions)
        self.trustForwardedProto = trustForwardedProto
    }

    func handles(_ path: Substring) -> Bool { path == Self.prefix || path.hasPrefix(Self.prefix + "/") }

    /// Route templates for logs and metrics (never raw paths).
    static func template(_ path: Substring) -> String {
        let parts = path.split(separator: "/")
        if parts.count >= 3 && parts[1] == "tenants" && parts[2] != "new" {
            let rest = parts.dropFirst(3).map { p in p.count > 20 ? ":id" : String(p) }
            return (["/console/tenants/:tenant"] + rest).joined(separator: "/")
        }
        if parts.count >= 2 && parts[1] == "static" { return "/console/static/:asset" }
        return parts.count <= 3 ? String(path) : "/console/other"
    }

    func respond(to request: HTTPRequest, context: RequestContext, record: inout RequestRecord) -> HTTPResponse {
        record.route = Self.template(request.path)
        let path = request.path
        if path == "/console/static/app.css" { return WebResponse.asset(.stylesheet) }
        if path == "/console/static/app.js" { return WebResponse.asset(.script) }
        let secure = WebKeys.cookieIsSecure(context, request, trustForwardedProto: trustForwardedProto)
        if path == "/console/login" {
            if request.method == .post { return login(request, context: context, secure: secure, record: &record) }
            return WebResponse.page(ConsolePages.login(error: nil))
        }
        guard let session = currentSession(request) else {
            return request.method == .get ? WebResponse.redirect("/console/login") : WebResponse.page(ConsolePages.login(error: "Your session ended; sign in again."), status: 401)
        }
        record.actor = "console:" + session.subject
        guard let signing = keys.signingKey else { return WebResponse.page(ConsolePages.message("Unavailable", "No keyring pepper."), status: 503) }
        let pages = ConsolePages(csrf: session.csrfToken(with: signing))
        let actor = "console:" + session.subject
        let requestID = record.requestID
        func call(_ method: HTTPMethod, _ target: String, _ body: JSONValue? = nil) -> (Int, JSONValue?) {
            admin.perform(method, target, body: body, actor: actor, requestID: requestID)
        }
        if request.method == .post {
            guard !WebResponse.isCrossSite(request), let form = WebResponse.form(request),
                  session.acceptsCSRF(form["csrf"], keys: keys.sessionKeys) else {
                record.outcome = "csrf-refused"
                return WebResponse.page(ConsolePages.message("Form expired", "This form could not be accepted (it expired or came from another site). Go back, reload and try again."), status: 403)
            }
            if path == "/console/logout" {
                var r = WebResponse.redirect("/console/login")
                r.headers.add("Set-Cookie", WebResponse.cookie(name: Self.cookieName, value: "", path: Self.prefix, maxAge: 0, secure: secure))
                return r
            }
            return ConsoleActions(pages: pages, call: call).perform(path: path, form: form)
        }
        guard request.method == .get || request.method == .head else {
            return WebResponse.page(ConsolePages.message("Not allowed", "This page cannot be used that way."), status: 405)
        }
        let query = QueryParameters(request.query) ?? QueryParameters([])
        switch path {
        case "/console", "/console/":
            return tenantsPage(pages, call: call)
        case "/console/tenants/new":
            return WebResponse.page(pages.newTenant(regions: admin.directory.ids, error: nil))
        case "/console/keys":
            let (status, keysJSON) = call(.get, "/admin/v1/keys")
            return WebResponse.page(pages.keys(status == 200 ? keysJSON : nil))
        case "/console/regions":
            let (_, regions) = call(.get, "/admin/v1/regions")
            return WebResponse.page(pages.regions(regions))
        default:
            let parts = path.split(separator: "/")
            if parts.count == 3 && parts[1] == "tenants" {
                return tenantPage(String(parts[2]), pages: pages, query: query, call: call)
            }
            return WebResponse.page(pages.layout("Not found", "<h1>Not found</h1><p>There is no such page.</p>"), status: 404)
        }
    }

    // MARK: - Session

    private func login(_ request: HTTPRequest, context: RequestContext, secure: Bool, record: inout RequestRecord) -> HTTPResponse {
        let now = Timestamp.monotonicNanos()
        let source = context.remoteAddress
        guard !WebResponse.isCrossSite(request) else {
            return WebResponse.page(ConsolePages.login(error: "Sign-in must come from this page."), status: 403)
        }
        if loginLimiter.isExhausted(source, rate: 0.2, burst: 10, nowNanos: now) {
            record.outcome = "source-throttled"
            var r = WebResponse.page(ConsolePages.login(error: "Too many failed sign-ins from your address; wait a minute."), status: 429)
            r.headers.set("Retry-After", "5")
            return r
        }
        let presented = WebResponse.form(request)?["token"]?.trimmingWhitespace()
        guard case .success(let keyID) = admin.authenticateAdmin(presented), let signing = keys.signingKey else {
            _ = loginLimiter.take(source, rate: 0.2, burst: 10, nowNanos: now)
            record.outcome = "auth-failed"
            return WebResponse.page(ConsolePages.login(error: "That admin token is not valid."), status: 401)
        }
        let nowSeconds = Timestamp.nowEpochMillis() / 1000
        let session = WebSession(kind: .console, subject: keyID, tenant: "-", issuedAt: nowSeconds, expiresAt: nowSeconds + Self.sessionSeconds)
        try? admin.store.auditWebAction(actor: "console:" + keyID, action: "console.sign_in", tenantID: nil)
        var r = WebResponse.redirect("/console")
        r.headers.add("Set-Cookie", WebResponse.cookie(name: Self.cookieName, value: session.sealed(with: signing), path: Self.prefix,
                                                       maxAge: Int(Self.sessionSeconds), secure: secure))
        return r
    }

    /// The session's admin key must still exist and be unrevoked: revoking it ends its console sessions.
    private func currentSession(_ request: HTTPRequest) -> WebSession? {
        guard let value = WebResponse.cookie(Self.cookieName, in: request.headers["Cookie"]),
              let session = WebSession.open(value, keys: keys.sessionKeys, kind: .console, nowSeconds: Timestamp.nowEpochMillis() / 1000),
              let key = try? admin.store.adminKey(id: session.subject), !key.revoked else { return nil }
        return session
    }

    // MARK: - Pages that gather data

    private func tenantsPage(_ pages: ConsolePages, call: (HTTPMethod, String, JSONValue?) -> (Int, JSONValue?)) -> HTTPResponse {
        let (status, json) = call(.get, "/admin/v1/tenants", nil)
        guard status == 200, let tenants = json?["tenants"]?.array else {
            return WebResponse.page(pages.layout("Tenants", "<h1>Tenants</h1><p class=\"error\">The control plane did not answer.</p>"), status: 503)
        }
        // Counts come from each tenant's region; only the first 50 tenants are counted per view.
        let rows = tenants.enumerated().map { (i, t) -> ConsolePages.TenantRow in
            let id = t["id"]?.string ?? ""
            let counts = i < 50 ? regionCounts(id, region: t["region"]?.string ?? "") : nil
            return ConsolePages.TenantRow(tenant: t, activity: activity.summary(tenant: id), counts: counts)
        }
        return WebResponse.page(pages.tenants(rows, health: regionHealth()))
    }

    private func regionCounts(_ tenantID: String, region: String) -> (users: Int, groups: Int)? {
        guard let route = admin.directory.routes[region],
              let response = try? admin.regions.send(.get, "/internal/v1/tenants/\(tenantID)?counts=1", tenant: tenantID, body: [],
                                                     on: route, requestID: "console-" + Base62.random(10), key: nil),
              response.status.code == 200, let doc = try? JSONDecoder.decode(response.body),
              let users = doc["users"]?.int, let groups = doc["groups"]?.int else { return nil }
        return (users, groups)
    }

    private func tenantPage(_ reference: String, pages: ConsolePages, query: QueryParameters,
                            call: (HTTPMethod, String, JSONValue?) -> (Int, JSONValue?)) -> HTTPResponse {
        let base = "/admin/v1/tenants/" + PercentEncoding.encode(reference)
        let (status, tenant) = call(.get, base, nil)
        guard status == 200, let tenant, let id = tenant["id"]?.string else {
            return WebResponse.page(pages.layout("Not found", "<h1>Tenant not found</h1><p><a href=\"/console\">Back to the tenants</a></p>"), status: 404)
        }
        var logQuery = "limit=50"
        for name in ["status", "userName", "resource"] {
            if let v = query[name], !v.isEmpty { logQuery += "&" + name + "=" + PercentEncoding.encode(v) }
        }
        let region = tenant["region"]?.string ?? ""
        let data = ConsolePages.TenantData(
            tenant: tenant,
            counts: regionCounts(id, region: region),
            activity: activity.summary(tenant: id),
            tokens: call(.get, base + "/tokens", nil).1?["tokens"]?.array ?? [],
            oauthClients: call(.get, base + "/oauth-clients", nil).1?["oauthClients"]?.array ?? [],
            setupLinks: call(.get, base + "/setup-links", nil).1?["setupLinks"]?.array ?? [],
            quirks: call(.get, base + "/quirks", nil).1,
            events: call(.get, base + "/events?limit=20", nil).1?["events"]?.array,
            webhook: { let (s, w) = call(.get, base + "/webhook", nil); return s == 200 ? w : nil }(),
            audit: (try? admin.store.latestAudit(tenantID: id, limit: 50)) ?? [],
            requestLog: admin.directory.routes[region].map { requestLog.page(tenant: id, on: $0, query: logQuery) } ?? .failure(.unavailable),
            filters: query,
            roles: { let (s, r) = call(.get, base + "/roles", nil); return s == 200 ? r : nil }(),
            mapping: { let (s, m) = call(.get, base + "/attribute-mapping", nil); return s == 200 ? m : nil }())
        return WebResponse.page(pages.tenant(data))
    }
}
