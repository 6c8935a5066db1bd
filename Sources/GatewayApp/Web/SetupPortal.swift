import Crypto
import HTTPCore
import JSON
import Lifecycle
import Postgres
import RegionLink
import ServerRuntime
import Telemetry
import WebUI

/// The self-serve setup pages a customer's IT admin reaches through a setup link (docs/web.md), on the public
/// listener of the tenant's region host: pick the IdP, get the exact values (SCIM URL, a token issued on demand and
/// shown once), watch requests arrive with plain-language explanations, rotate the token, deactivate and reactivate.
///
/// A link (`/setup/l/<scimsetup_…>`) is checked like a token (format and checksum first, then the HMAC in the
/// control plane, constant-time), and exchanged by a POST from its own page for a signed session cookie
/// (`HttpOnly; SameSite=Strict; Secure`), so the secret leaves the address bar and `Referer` is never involved.
/// Every later request re-checks the link (revoked or expired links end their sessions at once). Every form
/// carries a CSRF token bound to the session; failed link attempts count against the source like failed tokens.
/// Pages are rendered on a `WorkQueue`, never on the threads that read requests.
final class SetupPortal: Sendable {
    static let prefix = "/setup"
    static let cookieName = "scim_setup"
    static let sessionSeconds: Int64 = 12 * 3600

    let store: ControlStore
    let directory: RegionDirectory
    let keys: WebKeys
    let policy: GatewayPolicy
    let authenticator: TokenAuthenticator
    let failureLimiter: KeyedRateLimiter
    let requestLog: RequestLogClient
    let logger: Logger
    let work: WorkQueue
    let defaultRotationGraceSeconds: Int

    init(store: ControlStore, directory: RegionDirectory, keyring: @escaping @Sendable () -> Keyring, policy: GatewayPolicy,
         authenticator: TokenAuthenticator, failureLimiter: KeyedRateLimiter, requestLog: RequestLogClient, logger: Logger,
         work: WorkQueue, defaultRotationGraceSeconds: Int) {
        self.store = store
        self.directory = directory
        self.keys = WebKeys(keyring: keyring)
        self.policy = policy
        self.authenticator = authenticator
        self.failureLimiter = failureLimiter
        self.requestLog = requestLog
        self.logger = logger
        self.work = work
        self.defaultRotationGraceSeconds = defaultRotationGraceSeconds
    }

    func handles(_ path: Substring) -> Bool { path == Self.prefix || path.hasPrefix(Self.prefix + "/") }

    /// The route templates requests are logged and counted under (never the raw path: it may hold a link).
    static func template(_ request: HTTPRequest) -> String {
        let p = request.path
        if p.hasPrefix("/setup/l/") { return "/setup/l/:link" }
        if p.hasPrefix("/setup/idp/") { return "/setup/idp/:idp" }
        if p.hasPrefix("/setup/static/") { return "/setup/static/:asset" }
        switch p {
        case "/setup", "/setup/", "/setup/start", "/setup/token", "/setup/token/rotate", "/setup/integration",
             "/setup/check-token", "/setup/live", "/setup/logout": return String(p)
        default: return "/setup/other"
        }
    }

    func respond(to request: HTTPRequest, context: RequestContext, record: RequestRecord,
                 done: @escaping @Sendable (HTTPResponse, RequestRecord) -> Void) {
        var record = record
        record.route = Self.template(request)
        let path = request.path
        if path == "/setup/static/app.css" { return done(WebResponse.asset(.stylesheet), record) }
        if path == "/setup/static/app.js" { return done(WebResponse.asset(.script), record) }
        let source = policy.clientSource.key(peer: context.remoteAddress, forwardedFor: request.headers["X-Forwarded-For"])
        let now = Timestamp.monotonicNanos()
        if path.hasPrefix("/setup/l/") || path == "/setup/start",
           failureLimiter.isExhausted(source, rate: policy.failureRate, burst: policy.failureBurst, nowNanos: now) {
            record.outcome = "source-throttled"
            var r = Self.message(title: "Too many attempts", status: 429,
                                 text: "Too many invalid setup links were tried from your network. Wait a minute and open the link again.")
            r.headers.set("Retry-After", String(Int((1 / max(policy.failureRate, 0.01)).rounded(.up))))
            return done(r, record)
        }
        let queued = record
        let submitted = work.submit { [self] in
            var record = queued
            let response: HTTPResponse
            do {
                response = try route(request, context: context, source: source, record: &record)
            } catch let e as ControlPlaneError {
                logger.warning("setup page failed", [("request.id", .string(record.requestID)), ("error", .string(e.description))])
                response = Self.message(title: "Temporarily unavailable", status: 503, text: "Please try again in a moment.")
            } catch {
                response = Self.message(title: "Temporarily unavailable", status: 503, text: "Please try again in a moment.")
            }
            done(response, record)
        }
        if !submitted {
            var r = Self.message(title: "Busy", status: 503, text: "The service is busy; please try again in a moment.")
            r.headers.set("Retry-After", "1")
            done(r, record)
        }
    }

    // MARK: - Routing

    private func route(_ request: HTTPRequest, context: RequestContext, source: String,
                       record: inout RequestRecord) throws -> HTTPResponse {
        let path = request.path
        let secure = WebKeys.cookieIsSecure(context, request, trustForwardedProto: policy.trustForwardedProto)
        if path.hasPrefix("/setup/l/") {
            guard request.method == .get || request.method == .head else { return Self.notAllowed() }
            return try landing(String(path.dropFirst("/setup/l/".count)), request: request, source: source, record: &record)
        }
        if path == "/setup/start" {
            guard request.method == .post else { return Self.notAllowed() }
            return try start(request, source: source, secure: secure, record: &record)
        }
        // Everything else needs a session.
        guard let (session, link, tenant) = try currentSession(request) else {
            return Self.message(title: "Session ended", status: 401,
                                text: "Your setup session has ended or the link was revoked. Open the setup link you were sent again, or ask your provider for a new one.")
        }
        record.tenant = tenant.id
        record.token = link.id
        if let misdirected = misdirected(request, tenant: tenant) { return misdirected }
        let actor = "setup:" + link.id
        guard let signing = keys.signingKey else { throw ControlPlaneError.unavailable("no pepper") }
        let csrf = session.csrfToken(with: signing)
        let page = SetupPages(tenant: tenant, link: link, scimBaseURL: scimBaseURL(tenant), csrf: csrf)
        if request.method == .post {
            guard !WebResponse.isCrossSite(request), let form = WebResponse.form(request),
                  session.acceptsCSRF(form["csrf"], keys: keys.sessionKeys) else {
                record.outcome = "csrf-refused"
                return Self.message(title: "Form expired", status: 403,
                                    text: "This form could not be accepted (it expired or came from another site). Go back, reload the page and try again.")
            }
            switch path {
            case "/setup/token": return try issueToken(form, page: page, tenant: tenant, actor: actor)
            case "/setup/token/rotate": return try rotateToken(form, page: page, tenant: tenant, actor: actor)
            case "/setup/integration": return try setIntegration(form, tenant: tenant, actor: actor)
            case "/setup/check-token": return try home(page, tokenCheck: checkToken(form["token"] ?? "", tenant: tenant))
            case "/setup/logout":
                var r = WebResponse.redirect("/setup")
                r.headers.add("Set-Cookie", WebResponse.cookie(name: Self.cookieName, value: "", path: Self.prefix, maxAge: 0, secure: secure))
                return r
            default: return Self.message(title: "Not found", status: 404, text: "There is no such page.")
            }
        }
        guard request.method == .get || request.method == .head else { return Self.notAllowed() }
        switch path {
        case "/setup", "/setup/":
            let q = QueryParameters(request.query ?? "")
            return try home(page, flash: q?["done"])
        case "/setup/live": return WebResponse.page(page.layout(title: "Connection check", body: page.liveCheck(recent(tenant))))
        default:
            if path.hasPrefix("/setup/idp/"), let guide = IdPGuide.named(String(path.dropFirst("/setup/idp/".count))) {
                return WebResponse.page(page.guidePage(guide, issued: nil))
            }
            return Self.message(title: "Not found", status: 404, text: "There is no such page.")
        }
    }

    // MARK: - Link and session

    /// The link's own page: who it is for and a button that starts the session (a POST from this page, so the
    /// session cookie is set by a same-site request and the link leaves the address bar).
    private func landing(_ presented: String, request: HTTPRequest, source: String, record: inout RequestRecord) throws -> HTTPResponse {
        guard let (link, tenant) = try validLink(presented, source: source, record: &record) else { return Self.invalidLink() }
        if let misdirected = misdirected(request, tenant: tenant) { return misdirected }
        return WebResponse.page(SetupPages.landing(tenant: tenant, link: link, presented: presented))
    }

    private func start(_ request: HTTPRequest, source: String, secure: Bool, record: inout RequestRecord) throws -> HTTPResponse {
        guard !WebResponse.isCrossSite(request), let form = WebResponse.form(request), let presented = form["link"] else {
            return Self.invalidLink()
        }
        guard let (link, tenant) = try validLink(presented, source: source, record: &record) else { return Self.invalidLink() }
        if let misdirected = misdirected(request, tenant: tenant) { return misdirected }
        guard let signing = keys.signingKey else { throw ControlPlaneError.unavailable("no pepper") }
        let now = Timestamp.nowEpochMillis() / 1000
        let expires = min(now + Self.sessionSeconds, link.expiresAt.microsecondsSinceEpoch / 1_000_000)
        let session = WebSession(kind: .setup, subject: link.id, tenant: tenant.id, issuedAt: now, expiresAt: expires)
        try store.recordSetupLinkOpened(link, source: source)
        var r = WebResponse.redirect("/setup")
        r.headers.add("Set-Cookie", WebResponse.cookie(name: Self.cookieName, value: session.sealed(with: signing),
                                                       path: Self.prefix, maxAge: Int(expires - now), secure: secure))
        return r
    }

    /// A presented link that is well-formed, known, matches its HMAC, and is neither revoked nor expired.
    /// Anything else counts as a failed attempt from the source; every refusal looks the same.
    private func validLink(_ presented: String, source: String, record: inout RequestRecord) throws -> (SetupLink, Tenant)? {
        func failed() -> (SetupLink, Tenant)? {
            record.outcome = "setup-link-invalid"
            _ = failureLimiter.take(source, rate: policy.failureRate, burst: policy.failureBurst, nowNanos: Timestamp.monotonicNanos())
            return nil
        }
        guard case .success(let credential) = TokenCredential.parse(presented, kind: .setup),
              let (link, tenant) = try store.setupLinkForUse(id: credential.id),
              let pepper = keys.keyring().key(.pepper, id: link.pepperID),
              constantTimeEquals(credential.hash(pepper: pepper.mac), link.hash),
              link.status(nowMicros: Timestamp.nowEpochMillis() * 1000) == .live else { return failed() }
        record.tenant = tenant.id
        record.token = link.id
        return (link, tenant)
    }

    private func currentSession(_ request: HTTPRequest) throws -> (WebSession, SetupLink, Tenant)? {
        guard let value = WebResponse.cookie(Self.cookieName, in: request.headers["Cookie"]),
              let session = WebSession.open(value, keys: keys.sessionKeys, kind: .setup, nowSeconds: Timestamp.nowEpochMillis() / 1000),
              let (link, tenant) = try store.setupLinkForUse(id: session.subject),
              link.tenantID == session.tenant,
              link.status(nowMicros: Timestamp.nowEpochMillis() * 1000) == .live else { return nil }
        return (session, link, tenant)
    }

    /// The setup pages of a tenant live on its region's host, like its SCIM URL.
    private func misdirected(_ request: HTTPRequest, tenant: Tenant) -> HTTPResponse? {
        guard let home = directory.routes[tenant.homeRegion] else { return nil }
        let hostRegion = directory.region(forHost: request.headers["Host"])
        if let hostRegion, hostRegion.id != home.id {
            return Self.message(title: "Wrong address", status: 421,
                                text: "This organisation's data lives in region \(home.id). Open the setup link on \(OAuthTokenEndpoint.origin(of: home)) instead.")
        }
        if hostRegion == nil, policy.strictHosts {
            return Self.message(title: "Wrong address", status: 421, text: "Open the setup link on \(OAuthTokenEndpoint.origin(of: home)).")
        }
        return nil
    }

    func scimBaseURL(_ tenant: Tenant) -> String {
        directory.routes[tenant.homeRegion]?.configuration.publicBaseURL ?? ""
    }

    // MARK: - Actions

    private func home(_ page: SetupPages, flash: String? = nil, tokenCheck: (RequestExplanation.Tone, String)? = nil) throws -> HTTPResponse {
        let tokens = try store.tokens(tenantID: page.tenant.id)
        let nowMicros = Timestamp.nowEpochMillis() * 1000
        let live = tokens.filter { $0.status(nowMicros: nowMicros) == .live || $0.status(nowMicros: nowMicros) == .expiring }
        return WebResponse.page(page.home(tokens: live, recent: recent(page.tenant), flash: flash, tokenCheck: tokenCheck,
                                          graceHours: defaultRotationGraceSeconds / 3600))
    }

    private func recent(_ tenant: Tenant) -> Result<[ObservedRequest], RequestLogClient.Failure> {
        guard let route = directory.routes[tenant.homeRegion] else { return .failure(.unavailable) }
        return requestLog.recent(tenant: tenant.id, on: route, limit: 15)
    }

    private func pepper() throws -> (id: String, secret: [UInt8]) {
        guard let p = keys.keyring().current(.pepper) else { throw ControlPlaneError.unavailable("no pepper") }
        return (p.id, p.secret)
    }

    private func issueToken(_ form: QueryParameters, page: SetupPages, tenant: Tenant, actor: String) throws -> HTTPResponse {
        let guide = IdPGuide.named(form["idp"] ?? "") ?? .other
        let pepper = try pepper()
        let issued: ControlStore.IssuedToken
        switch Result(catching: { () throws(ControlPlaneError) in
            try store.issueToken(tenantID: tenant.id, label: "setup: \(guide.name)", expiresAt: nil, pepper: pepper, actor: actor)
        }) {
        case .success(let t): issued = t
        case .failure(.conflict(let message)):
            return WebResponse.page(page.guidePage(guide, issued: nil, error: message + " (rotate an existing token from the overview instead)"),
                                    status: 409)
        case .failure(let e): throw e
        }
        return WebResponse.page(page.guidePage(guide, issued: issued.credential))
    }

    private func rotateToken(_ form: QueryParameters, page: SetupPages, tenant: Tenant, actor: String) throws -> HTTPResponse {
        guard let tokenID = form["token"], !tokenID.isEmpty else { return try home(page, flash: "missing-token") }
        let hours = Int(form["grace"] ?? "") ?? (defaultRotationGraceSeconds / 3600)
        guard (0...720).contains(hours) else { return try home(page, flash: "bad-grace") }
        let pepper = try pepper()
        let issued: ControlStore.IssuedToken
        switch Result(catching: { () throws(ControlPlaneError) in
            try store.rotateToken(tenantID: tenant.id, tokenID: tokenID, graceSeconds: hours * 3600, pepper: pepper, actor: actor)
        }) {
        case .success(let t): issued = t
        case .failure(.notFound): return try home(page, flash: "no-such-token")
        case .failure(let e): throw e
        }
        authenticator.invalidate("token:\(tokenID)")
        let guide = IdPGuide.named(form["idp"] ?? "") ?? .other
        return WebResponse.page(page.guidePage(guide, issued: issued.credential,
                                               notice: hours == 0 ? "The previous token stopped working now."
                                                                  : "The previous token keeps working for \(hours) hours, then stops by itself."))
    }

    private func setIntegration(_ form: QueryParameters, tenant: Tenant, actor: String) throws -> HTTPResponse {
        guard form["confirm"] == "yes" else { return WebResponse.redirect("/setup?done=not-confirmed") }
        let state: Tenant.IntegrationState
        switch form["action"] {
        case "deactivate"?: state = .deactivated
        case "reactivate"?: state = .active
        default: return WebResponse.redirect("/setup")
        }
        _ = try store.setIntegrationState(id: tenant.id, state, actor: actor)
        authenticator.invalidate("tenant:\(tenant.id)")
        return WebResponse.redirect("/setup?done=" + (state == .active ? "reactivated" : "deactivated"))
    }

    /// Tells the IT admin what is wrong with the token they pasted into their IdP, without revealing anything about
    /// tokens of other tenants (a token that is not this tenant's is simply "not a token of this organisation").
    private func checkToken(_ presented: String, tenant: Tenant) throws -> (RequestExplanation.Tone, String) {
        let text = presented.trimmingWhitespace()
        let token = bearerToken(fromAuthorization: "Bearer " + text) ?? text
        switch TokenCredential.parse(token, kind: .scim(token)) {
        case .failure(.missing): return (.warn, "Paste the token your IdP uses into the box to check it.")
        case .failure(.badChecksum): return (.bad, "This token has a typo or was cut short: its checksum does not match. Copy it again in full.")
        case .failure: return (.bad, "This is not one of our tokens (they start with scim_). Generate one on this page.")
        case .success(let credential):
            guard let (record, owner) = try store.tokenForAuthentication(id: credential.id), owner.id == tenant.id,
                  let pepper = keys.keyring().key(.pepper, id: record.pepperID),
                  constantTimeEquals(credential.hash(pepper: pepper.mac), record.hash) else {
                return (.bad, "This token does not belong to this organisation (or its secret part is wrong). Generate a new one on this page.")
            }
            switch record.status(nowMicros: Timestamp.nowEpochMillis() * 1000) {
            case .revoked: return (.bad, "This token was revoked. Generate a new one on this page and paste it into your IdP.")
            case .expired: return (.bad, "This token has expired. Generate a new one on this page and paste it into your IdP.")
            case .live, .expiring:
                if tenant.integrationState == .deactivated {
                    return (.warn, "The token is valid, but the integration is switched off: reactivate it on this page.")
                }
                return (.ok, "This token is valid and active for this organisation.")
            }
        }
    }

    // MARK: - Fixed pages

    static func message(title: String, status: Int, text: String) -> HTTPResponse {
        WebResponse.page(SetupPages.message(title: title, text: text), status: status)
    }

    static func invalidLink() -> HTTPResponse {
        message(title: "Link not valid", status: 404,
                text: "This setup link is not valid: it may have expired, been revoked, or been copied incompletely. Ask your provider for a new link.")
    }

    static func notAllowed() -> HTTPResponse {
        var r = message(title: "Not allowed", status: 405, text: "This page cannot be used that way.")
        r.headers.set("Allow", "GET, POST")
        return r
    }
}
