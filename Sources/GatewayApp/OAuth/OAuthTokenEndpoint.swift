import Crypto
import HTTPCore
import JSON
import Lifecycle
import Locking
import RegionLink
import ServerRuntime
import Telemetry

/// The OAuth 2.0 token endpoint (RFC 6749 §4.4, client credentials) and its discovery document (RFC 8414), on
/// the public listener of every region host: `POST /oauth/token`, `GET /.well-known/oauth-authorization-server`.
/// The access tokens it issues are opaque `scimat_…` credentials stored like bearer tokens, so the SCIM path
/// checks, caches and revokes them with the same code (docs/oauth.md says why opaque).
///
/// What does not need the database (method, media type, parameters, credential format, the source throttle) is
/// decided on the worker that read the request; the client lookup and the token row run on `work`, a small queue
/// of its own, so a slow control plane never holds the threads that serve SCIM traffic.
final class OAuthTokenEndpoint: Sendable {
    static let tokenPath = "/oauth/token"
    static let metadataPath = "/.well-known/oauth-authorization-server"
    /// Token requests per client: Entra asks once per token lifetime; a client asking on every call is told to
    /// reuse its token (429) long before the table notices. Burst 20, then one every 3 s.
    static let issueBurst = 20.0
    static let issueRate = 1.0 / 3

    let store: ControlStore
    let directory: RegionDirectory
    let keyring: @Sendable () -> Keyring
    let policy: GatewayPolicy
    let logger: Logger
    let work: WorkQueue
    /// Shared with the SCIM path: a source's failed attempts count together, whichever credential it guessed.
    let failureLimiter: KeyedRateLimiter
    let issueLimiter = KeyedRateLimiter()
    let issued: Counter
    let refused: Counter
    /// Clients that recently authenticated: a throttled source (an IdP's shared egress address that someone else
    /// abuses) still gets tokens for a secret it proved. Keyed by client id; the value is an HMAC of the secret
    /// under a key that lives only in this process.
    private let knownGood = Lock<[String: [UInt8]]>([:])
    private let knownGoodKey = HMACKey(SecureRandom.bytes(32))

    init(store: ControlStore, directory: RegionDirectory, keyring: @escaping @Sendable () -> Keyring, policy: GatewayPolicy,
         logger: Logger, registry: MetricsRegistry, failureLimiter: KeyedRateLimiter, work: WorkQueue) {
        self.store = store
        self.directory = directory
        self.keyring = keyring
        self.policy = policy
        self.logger = logger
        self.failureLimiter = failureLimiter
        self.work = work
        issued = registry.counter("scim_gateway_oauth_tokens_issued_total", "Access tokens issued by the token endpoint, by region.",
                                  labels: ["region"])
        refused = registry.counter("scim_gateway_oauth_token_refusals_total",
                                   "Token requests refused, by reason (invalid_request, invalid_client, unsupported_grant_type, deactivated, misdirected, throttled, rate_limited, unavailable).",
                                   labels: ["reason"])
    }

    func handles(_ path: Substring) -> Bool { path == Self.tokenPath || path == Self.metadataPath }

    /// Answers through `done` (on this thread, or later from the work queue).
    func respond(to request: HTTPRequest, context: RequestContext, record: RequestRecord,
                 done: @escaping @Sendable (HTTPResponse, RequestRecord) -> Void) {
        var record = record
        func refuse(_ e: OAuthError, _ reason: String) {
            record.outcome = "oauth-" + reason
            refused.increment([reason])
            done(HTTPResponse(error: e), record)
        }
        if request.path == Self.metadataPath {
            guard request.method == .get || request.method == .head else {
                var e = OAuthError.invalidRequest("the discovery document takes GET")
                e.status = 405
                e.responseHeaders.append(("Allow", "GET, HEAD"))
                return done(HTTPResponse(error: e), record)
            }
            switch origin(request, context, hostRegion: directory.region(forHost: request.headers["Host"])) {
            case .failure(let e): return done(HTTPResponse(error: e), record)
            case .success(let origin): return done(metadata(origin: origin), record)
            }
        }
        guard request.method == .post else { return refuse(.methodNotAllowed(), "invalid_request") }
        let parsed: TokenRequest
        switch TokenRequest.parse(request) {
        case .failure(let e): return refuse(e, e.code)
        case .success(let r): parsed = r
        }
        let now = Timestamp.monotonicNanos()
        let source = policy.clientSource.key(peer: context.remoteAddress, forwardedFor: request.headers["X-Forwarded-For"])
        let failed: @Sendable () -> Void = { [failureLimiter, policy] in
            _ = failureLimiter.take(source, rate: policy.failureRate, burst: policy.failureBurst, nowNanos: now)
        }
        guard let credential = OAuthClientCredential.parse(clientID: parsed.clientID, clientSecret: parsed.clientSecret) else {
            failed()
            return refuse(.invalidClient(), "invalid_client")
        }
        if failureLimiter.isExhausted(source, rate: policy.failureRate, burst: policy.failureBurst, nowNanos: now)
            && !isKnownGood(credential) {
            let retry = Int((1 / max(policy.failureRate, 0.01)).rounded(.up))
            return refuse(.unavailable(status: 429, "too many failed authentication attempts from this source", retryAfter: retry),
                          "throttled")
        }
        let queued = record
        let submitted = work.submit { [self] in
            var record = queued
            let response = issue(parsed, credential, request: request, context: context, record: &record, onFailure: failed)
            done(response, record)
        }
        if !submitted {
            refuse(.unavailable(status: 503, "the token endpoint is busy; retry shortly", retryAfter: 1), "unavailable")
        }
    }

    /// Authenticates the client against the control plane and issues a token (on the work queue).
    private func issue(_ parsed: TokenRequest, _ credential: OAuthClientCredential, request: HTTPRequest,
                       context: RequestContext, record: inout RequestRecord, onFailure: () -> Void) -> HTTPResponse {
        func refuse(_ e: OAuthError, _ reason: String) -> HTTPResponse {
            record.outcome = "oauth-" + reason
            refused.increment([reason])
            return HTTPResponse(error: e)
        }
        let unavailable = OAuthError.unavailable(status: 503, "authentication temporarily unavailable", retryAfter: policy.retryAfterSeconds)
        let found: (OAuthClient, Tenant)?
        do {
            found = try store.oauthClientForTokenRequest(id: credential.clientID)
        } catch {
            logger.error("oauth client lookup failed", [("request.id", .string(record.requestID)), ("error", .string(error.description))])
            return refuse(unavailable, "unavailable")
        }
        record.token = credential.clientID
        let ring = keyring()
        let nowMicros = Timestamp.nowEpochMillis() * 1000
        guard let (client, tenant) = found, client.revokedAt == nil else {
            onFailure()
            return refuse(.invalidClient(), "invalid_client")
        }
        // Current secret, else the previous one while its grace window lasts; both compared in constant time.
        var matchedCurrent = false
        if let pepper = ring.key(.pepper, id: client.pepperID), constantTimeEquals(credential.hash(pepper: pepper.mac), client.hash) {
            matchedCurrent = true
        } else if let previous = client.previous(nowMicros: nowMicros), let pepper = ring.key(.pepper, id: previous.pepperID),
                  constantTimeEquals(credential.hash(pepper: pepper.mac), previous.hash) {
            matchedCurrent = false
        } else {
            onFailure()
            return refuse(.invalidClient(), "invalid_client")
        }
        record.tenant = tenant.id
        remember(credential)
        if tenant.integrationState == .deactivated {
            return refuse(.unauthorizedClient("integration deactivated: this tenant's SCIM integration is switched off"), "deactivated")
        }
        guard let home = directory.routes[tenant.homeRegion] else {
            return refuse(.unavailable(status: 503, "home region \(tenant.homeRegion) is not configured on this gateway",
                                       retryAfter: policy.retryAfterSeconds), "unavailable")
        }
        record.region = home.id
        let hostRegion = directory.region(forHost: request.headers["Host"])
        if let hostRegion, hostRegion.id != home.id {
            // Data residency, as for SCIM calls: the client belongs to another region's host.
            return refuse(.misdirected("client is homed in region \(home.id); use the token endpoint \(Self.origin(of: home) + Self.tokenPath)"),
                          "misdirected")
        }
        if hostRegion == nil, policy.strictHosts, !isGlobalHost(request.headers["Host"]) {
            return refuse(.misdirected("unknown host; use the token endpoint \(Self.origin(of: home) + Self.tokenPath)"), "misdirected")
        }
        switch issueLimiter.take(client.id, rate: Self.issueRate, burst: Self.issueBurst, nowNanos: Timestamp.monotonicNanos()) {
        case (false, let retry):
            return refuse(.unavailable(status: 429, "too many token requests for this client; reuse the access token until it expires",
                                       retryAfter: retry), "rate_limited")
        default: break
        }
        guard let pepper = ring.current(.pepper) else { return refuse(unavailable, "unavailable") }
        let token: ControlStore.IssuedToken
        do {
            guard let t = try store.issueAccessToken(client: client, pepper: (pepper.id, pepper.secret)) else {
                return refuse(.invalidClient(), "invalid_client") // revoked between the lookup and now
            }
            token = t
        } catch {
            logger.error("access token issue failed", [("request.id", .string(record.requestID)), ("error", .string(error.description))])
            return refuse(unavailable, "unavailable")
        }
        if matchedCurrent && client.pepperID != pepper.id {
            // Pepper rotation: re-hash the current secret under the current pepper now that we hold it.
            do {
                try store.rehashOAuthClient(id: client.id, fromPepper: client.pepperID, hash: credential.hash(pepper: pepper.mac),
                                            pepperID: pepper.id)
            } catch {
                logger.warning("oauth client re-hash deferred", [("oauth.client", .string(client.id)), ("error", .string(error.description))])
            }
        }
        issued.increment([home.id])
        record.outcome = "oauth-issued"
        let expiresIn = Int(((token.record.expiresAt?.microsecondsSinceEpoch ?? nowMicros) - nowMicros) / 1_000_000)
        var body: JSONObject = ["access_token": .string(token.credential.token), "token_type": "Bearer",
                                "expires_in": .number(JSONNumber(max(0, expiresIn)))]
        // RFC 6749 §3.3: a requested scope we do not grant as asked is answered with the scope granted.
        if parsed.scope != nil { body.appendUnchecked(key: "scope", value: "scim") }
        var response = HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: JSONValue.object(body).encoded())
        response.headers.set("Cache-Control", "no-store")
        response.headers.set("Pragma", "no-cache")
        return response
    }

    private func remember(_ credential: OAuthClientCredential) {
        let tag = knownGoodKey.mac(credential.clientID + ":" + credential.secret)
        knownGood.withLock { m in
            if m.count >= 10_000 { m.removeAll(keepingCapacity: true) }
            m[credential.clientID] = tag
        }
    }

    private func isKnownGood(_ credential: OAuthClientCredential) -> Bool {
        guard let tag = knownGood.withLock({ $0[credential.clientID] }) else { return false }
        return constantTimeEquals(knownGoodKey.mac(credential.clientID + ":" + credential.secret), tag)
    }

    /// A region-neutral token host (`--oauth-global-hosts`).
    private func isGlobalHost(_ host: String?) -> Bool {
        guard !policy.oauthGlobalHosts.isEmpty, let host = PublicHost.canonical(host) else { return false }
        return policy.oauthGlobalHosts.contains(host.withPort) || policy.oauthGlobalHosts.contains(host.bare)
    }

    /// `scheme://host[:port]` of a region's public base URL.
    static func origin(of route: RegionRoute) -> String {
        let base = Array(route.configuration.publicBaseURL.utf8)
        // After "scheme://", up to the first "/".
        guard let colon = base.firstIndex(of: 0x3A), base.count > colon + 3 else { return route.configuration.publicBaseURL }
        let end = base[(colon + 3)...].firstIndex(of: 0x2F) ?? base.count
        return String(decoding: base[..<end], as: UTF8.self)
    }

    /// Where this request's issuer lives: its region's public origin, or (dev, tests, without --strict-hosts) the
    /// origin the client used.
    private func origin(_ request: HTTPRequest, _ context: RequestContext, hostRegion: RegionRoute?) -> Result<String, OAuthError> {
        if let hostRegion { return .success(Self.origin(of: hostRegion)) }
        if policy.strictHosts && !isGlobalHost(request.headers["Host"]) { return .failure(.misdirected("unknown host")) }
        var scheme = context.isTLS ? "https" : "http"
        if policy.trustForwardedProto, let proto = request.headers["X-Forwarded-Proto"]?.lowercased(),
           proto == "https" || proto == "http" { scheme = proto }
        guard let host = request.headers["Host"], !host.isEmpty,
              host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x2F && $0 != 0x22 && $0 != 0x5C }) else {
            return .failure(.invalidRequest("a Host header is required"))
        }
        return .success("\(scheme)://\(host)")
    }

    /// RFC 8414 §2: what a client needs to find and use the token endpoint.
    private func metadata(origin: String) -> HTTPResponse {
        let doc: JSONObject = [
            "issuer": .string(origin),
            "token_endpoint": .string(origin + Self.tokenPath),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "scopes_supported": ["scim"],
        ]
        var response = HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: JSONValue.object(doc).encoded())
        response.headers.set("Cache-Control", "public, max-age=3600")
        return response
    }
}
