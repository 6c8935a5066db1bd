import Crypto
import HTTPCore
import JSON
import Lifecycle
import NetIO
import RegionLink
import ServerRuntime
import SCIMCore
import Synchronization
import Telemetry

/// The public listener: `/scim/v2/...` from IdPs. Authenticates, enforces the integration lifecycle and rate
/// limits, and forwards to the tenant's home region over a signed keep-alive connection. Never forwards the
/// IdP's token; rewrites nothing in the body (the region builds URLs from the signed base URL).
///
/// It never parks a thread on a region: the worker that read the request runs the checks, hands the signed
/// request to the region's non-blocking pool and returns; the answer is written by whichever thread receives it
/// (`DeferredHTTPResponder`). A region is a set of replicas, each with its own bulkhead and circuit breaker: a
/// request goes to the least loaded healthy one, and to another when it could not reach the first at all; a hung
/// region costs its own tenants a fast 503 + `Retry-After` and nobody else anything.
final class SCIMProxy: DeferredHTTPResponder {
    let authenticator: TokenAuthenticator
    let directory: RegionDirectory
    let keyring: @Sendable () -> Keyring
    let policy: GatewayPolicy
    let logger: Logger
    let tenantLimiter = KeyedRateLimiter()
    let failureLimiter: KeyedRateLimiter
    /// The OAuth token endpoint and its discovery document, when configured (they share this listener).
    let oauth: OAuthTokenEndpoint?
    /// The IT admin's setup pages (`/setup/…`), when configured.
    let setup: SetupPortal?
    /// Where token rows missing from the cache are read (control-plane round trips never run on the threads that
    /// serve connections), and how long a request waits for that read before a 503.
    let authWork: WorkQueue?
    let authWaitLimit: Duration
    let readiness: @Sendable () -> (Bool, String)
    let metrics: GatewayMetrics
    /// Recent traffic per tenant on this replica (the console's tenant list).
    let activity = TenantActivity()
    /// Runs a task later without holding a thread (the upstream loop's timer): requests waiting for their rate.
    let schedule: @Sendable (Duration, @escaping @Sendable () -> Void) -> Void
    /// Where the requests this proxy refuses itself go, for the tenant's home region's request log (issue 17).
    let requestLog: RequestLogShipper?

    init(authenticator: TokenAuthenticator, directory: RegionDirectory, keyring: @escaping @Sendable () -> Keyring,
         policy: GatewayPolicy, logger: Logger, metrics: GatewayMetrics,
         schedule: @escaping @Sendable (Duration, @escaping @Sendable () -> Void) -> Void,
         failureLimiter: KeyedRateLimiter = KeyedRateLimiter(), oauth: OAuthTokenEndpoint? = nil, setup: SetupPortal? = nil,
         authWork: WorkQueue? = nil, authWaitLimit: Duration = .seconds(5), requestLog: RequestLogShipper? = nil,
         readiness: @escaping @Sendable () -> (Bool, String)) {
        self.authWork = authWork
        self.authWaitLimit = authWaitLimit
        self.requestLog = requestLog
        self.failureLimiter = failureLimiter
        self.oauth = oauth
        self.setup = setup
        self.schedule = schedule
        self.metrics = metrics
        self.authenticator = authenticator
        self.directory = directory
        self.keyring = keyring
        self.policy = policy
        self.logger = logger
        self.readiness = readiness
    }

    /// Headers passed to the region; everything else (Authorization first of all) stays at the gateway.
    static let forwardedRequestHeaders = ["Content-Type", "Accept", "Accept-Charset", "If-Match", "If-None-Match", "User-Agent"]
    static let droppedResponseHeaders = ["Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Date",
                                         "X-SCIM-Tenant", "Server"]

    /// What the checks decided: answer now (health), refuse, or forward to a region (after `delay` seconds when the
    /// tenant is over its rate).
    enum Decision {
        case answer(HTTPResponse)
        /// Refused here; `homeRegion` is the tenant's when one is known (its request log gets the record).
        case refuse(SCIMError, homeRegion: String? = nil)
        case forward(HTTPRequest, RegionRoute, delay: Double)
    }

    /// A request refused here for a known tenant, for its home region's request log.
    typealias Refusal = (request: HTTPRequest, region: String, error: SCIMError)

    func respond(to request: HTTPRequest, context: RequestContext, reply: any HTTPReply) {
        respond(to: request, context: context, reply: reply, prefetched: false)
    }

    /// A token whose row is not cached is first read on `authWork`; the request then continues on that thread.
    /// If the control plane does not answer within `authWaitLimit`, the client gets a 503 + Retry-After (the read
    /// may finish later and fill the cache); tokens already cached are not held up at all.
    private func respond(to request: HTTPRequest, context: RequestContext, reply: any HTTPReply, prefetched: Bool) {
        // Any case of /scim/ (as `decide` accepts): an uncached token must never be read on a server thread.
        if !prefetched, let authWork, asciiCaseInsensitiveEquals(request.path.prefix(6), "/scim/") {
            let presented = bearerToken(fromAuthorization: request.headers["Authorization"])
            if authenticator.needsLookup(presented),
               !failureLimiter.isExhausted(policy.clientSource.key(peer: context.remoteAddress, forwardedFor: request.headers["X-Forwarded-For"]),
                                           rate: policy.failureRate, burst: policy.failureBurst, nowNanos: Timestamp.monotonicNanos()) {
                let once = Once()
                let refuse: @Sendable () -> Void = { [self] in
                    var record = RequestRecord(requestID: RequestID.accept(request.headers["X-Request-Id"]), method: request.method,
                                               route: Self.routes.match(request.method, path: request.path).template ?? Self.unmatchedRoute)
                    record.outcome = "control-plane-unavailable"
                    finish(HTTPResponse(error: SCIMError.unavailable("authentication temporarily unavailable", retryAfter: policy.retryAfterSeconds),
                                        accept: request.headers["Accept"]), record: record, reply: reply)
                }
                let submitted = authWork.submit { [self] in
                    let loaded = authenticator.prefetch(presented)
                    guard once.claim() else { return }
                    // A read that failed (the control plane gave up, e.g. its pool's checkout timed out just before
                    // this request's own limit) is not made again for this request: that held it for a second wait.
                    if loaded { respond(to: request, context: context, reply: reply, prefetched: true) } else { refuse() }
                }
                if !submitted {
                    if once.claim() { refuse() }
                } else {
                    schedule(authWaitLimit) { if once.claim() { refuse() } }
                }
                return
            }
        }
        let requestID = RequestID.accept(request.headers["X-Request-Id"])
        if let oauth, oauth.handles(request.path) {
            let record = RequestRecord(requestID: requestID, method: request.method, route: String(request.path))
            oauth.respond(to: request, context: context, record: record) { [self] response, record in
                finish(response, record: record, reply: reply)
            }
            return
        }
        if let setup, setup.handles(request.path) {
            let record = RequestRecord(requestID: requestID, method: request.method, route: "/setup")
            setup.respond(to: request, context: context, record: record) { [self] response, record in
                finish(response, record: record, reply: reply)
            }
            return
        }
        var record = RequestRecord(requestID: requestID, method: request.method,
                                   route: Self.routes.match(request.method, path: request.path).template ?? Self.unmatchedRoute)
        let accept = request.headers["Accept"]
        switch decide(request, context: context, requestID: requestID, record: &record) {
        case .answer(let response):
            finish(response, record: record, reply: reply)
        case .refuse(let error, let homeRegion):
            finish(HTTPResponse(error: error, accept: accept), record: record, reply: reply,
                   refusal: homeRegion.map { (request, $0, error) })
        case .forward(let upstream, let home, let delay):
            if delay > 0 {
                record.outcome = "rate-shaped"
                metrics.shaped.increment([record.tenant ?? "-"])
                let waiting = record
                schedule(.nanoseconds(Int64(delay * 1e9))) { [self] in
                    dispatch(upstream, to: home, accept: accept, record: waiting, reply: reply)
                }
            } else {
                dispatch(upstream, to: home, accept: accept, record: record, reply: reply)
            }
        }
    }

    /// Sends a checked request to a replica of its region: the least loaded one whose breaker admits it. When no
    /// replica does, the answer is 503 at once (no connection, no slot).
    private func dispatch(_ upstream: HTTPRequest, to home: RegionRoute, accept: String?, record: RequestRecord,
                          reply: any HTTPReply) {
        let now = Timestamp.monotonicNanos()
        switch home.replicas.select(now: now) {
        case .replica(let replica, let trial):
            forward(upstream, to: home, via: replica, trial: trial, tried: [], deadline: now + policy.rerouteWindow.nanoseconds,
                    accept: accept, record: record, reply: reply)
        case .none(let seconds):
            var record = record
            record.outcome = "circuit-open"
            let refusal = SCIMError.unavailable("region \(home.id) is unavailable; retry later", retryAfter: seconds)
            finish(HTTPResponse(error: refusal, accept: accept), record: record, reply: reply, refusal: (upstream, home.id, refusal))
        }
    }

    /// Sends on one replica. A request that certainly never reached it (refused or timed-out connect, a full
    /// bulkhead, a queue wait that ran out, a connection that broke before a byte was written) goes to the next
    /// replica, each at most once, while `deadline` allows: so a replica that is stopping or was killed costs no
    /// request that had not reached it. Anything that may have reached a replica is never sent again (a POST could
    /// be applied twice); it is answered 503 + `Retry-After` when no answer came.
    private func forward(_ upstream: HTTPRequest, to home: RegionRoute, via replica: RegionReplica, trial: Bool,
                         tried: [RegionReplica], deadline: UInt64, accept: String?, record: RequestRecord, reply: any HTTPReply) {
        var sent = record
        sent.upstream = replica.name
        let attempt = sent
        replica.pool.send(upstream) { [self] result in
            var record = attempt
            if case .failure(let error) = result, !error.mayHaveReached, error.kind != .shuttingDown,
               Timestamp.monotonicNanos() < deadline {
                let now = Timestamp.monotonicNanos()
                count(error, on: replica, trial: trial, now: now)
                if case .replica(let next, let nextTrial) = home.replicas.select(excluding: tried + [replica], now: now) {
                    metrics.rerouted.increment([home.id, error.kind.rawValue])
                    logger.info("rerouted to another replica", [("request.id", .string(record.requestID)), ("region", .string(home.id)),
                                                                ("replica", .string(replica.name)), ("next", .string(next.name)),
                                                                ("error", .string(error.kind.rawValue))])
                    forward(upstream, to: home, via: next, trial: nextTrial, tried: tried + [replica], deadline: deadline,
                            accept: accept, record: record, reply: reply)
                    return
                }
                let (response, refusal) = answer(result, from: home, replica: replica, trial: trial, counted: true, accept: accept,
                                                 record: &record)
                finish(response, record: record, reply: reply, refusal: refusal.map { (upstream, home.id, $0) })
                return
            }
            let (response, refusal) = answer(result, from: home, replica: replica, trial: trial, counted: false, accept: accept,
                                             record: &record)
            finish(response, record: record, reply: reply, refusal: refusal.map { (upstream, home.id, $0) })
        }
    }

    private func finish(_ response: HTTPResponse, record: RequestRecord, reply: any HTTPReply, refusal: Refusal? = nil) {
        var response = response
        var record = record
        response.headers.set("X-Request-Id", record.requestID)
        // Residency evidence: a region's answer names the region; what the gateway answered itself (refusals,
        // health, the token endpoint, the setup pages) processed no directory data in any region.
        if response.headers["X-Scim-Region"] == nil { response.headers.set("X-Scim-Region", "none") }
        record.finish(status: response.status.code)
        record.log(logger)
        if !record.isProbe { metrics.record(record) }
        if let tenant = record.tenant, record.route.hasPrefix("/scim/") { activity.record(tenant: tenant, status: record.status) }
        reply.send(response)
        if let requestLog {
            if let refusal, let tenant = record.tenant {
                requestLog.refused(refusal.request, record: record, tenant: tenant, region: refusal.region, error: refusal.error)
            } else if record.tenant == nil && response.status.code >= 400
                        && (record.route.hasPrefix("/scim/") || record.route == Self.unmatchedRoute) {
                requestLog.unattributed(record.outcome ?? "no-scim-route")
            }
        }
    }

    /// Feeds a failed call's outcome to the replica's breaker: failures of the replica itself count; a full
    /// bulkhead says only that it is busy (which its requests in flight will show), unless it was the trial.
    private func count(_ error: UpstreamError, on replica: RegionReplica, trial: Bool, now: UInt64) {
        switch error.kind {
        case .overloaded, .queueTimeout:
            if trial { replica.breaker.record(success: false, trial: true, now: now) }
        case .shuttingDown:
            break
        case .connectFailed, .connectTimeout, .firstByteTimeout, .totalTimeout, .connectionClosed, .protocolError:
            replica.breaker.record(success: false, trial: trial, now: now)
        }
    }

    /// The replica's answer (its own headers stripped), or a 503 saying why there is none (and that error, for the
    /// request log). `counted`: the failure was already fed to the breaker.
    private func answer(_ result: Result<HTTPResponse, UpstreamError>, from home: RegionRoute, replica: RegionReplica, trial: Bool,
                        counted: Bool, accept: String?, record: inout RequestRecord) -> (HTTPResponse, SCIMError?) {
        let now = Timestamp.monotonicNanos()
        switch result {
        case .success(var response):
            // The region's own 503 (its database is unreachable) counts against the replica like a timeout; one
            // tenant's write pause while it moves to another region (X-Scim-Write-Pause, docs/residency.md) does not.
            replica.breaker.record(success: response.status.code != 503 || response.headers["X-Scim-Write-Pause"] != nil, trial: trial, now: now)
            for name in Self.droppedResponseHeaders { response.headers.remove(name) }
            return (response, nil)
        case .failure(let error):
            record.outcome = "upstream-\(error.kind.rawValue)"
            if !counted { count(error, on: replica, trial: trial, now: now) }
            let refusal: SCIMError
            switch error.kind {
            case .overloaded, .queueTimeout:
                // Every replica is slow or busy, which their in-flight requests will show; this request never
                // reached one.
                refusal = .unavailable("region \(home.id) is at capacity; retry later", retryAfter: 1)
            case .shuttingDown:
                refusal = .unavailable("the gateway is shutting down; retry later", retryAfter: 1)
            case .connectFailed, .connectTimeout, .firstByteTimeout, .totalTimeout, .connectionClosed, .protocolError:
                logger.warning("region call failed", [("request.id", .string(record.requestID)), ("region", .string(home.id)),
                                                      ("replica", .string(replica.name)), ("error", .string(error.kind.rawValue)),
                                                      ("may_have_reached", .bool(error.mayHaveReached))])
                refusal = .unavailable("region \(home.id) is unavailable; retry later", retryAfter: policy.retryAfterSeconds)
            }
            var response = HTTPResponse(error: refusal, accept: accept)
            // No answer, but the request may have been processed there (a replica killed mid-request): the residency
            // evidence names the region, and "none" (nothing read or written anywhere) would be untrue.
            if error.mayHaveReached { response.headers.set("X-Scim-Region", home.id) }
            return (response, refusal)
        }
    }

    private func decide(_ request: HTTPRequest, context: RequestContext, requestID: String, record log: inout RequestRecord) -> Decision {
        let path = request.path
        if path == "/healthz" { return .answer(ServerHealth.alive(service: "scim-gateway")) }
        if path == "/readyz" {
            let (ok, detail) = readiness()
            return .answer(ServerHealth.ready(ok, detail: detail))
        }
        guard path.lowercased().hasPrefix("/scim/v2") && (path.count == 8 || path.dropFirst(8).hasPrefix("/")) else {
            return .refuse(SCIMError(status: 404, detail: "no such endpoint; SCIM lives under /scim/v2"))
        }

        let presented = bearerToken(fromAuthorization: request.headers["Authorization"])
        let now = Timestamp.monotonicNanos()
        let source = policy.clientSource.key(peer: context.remoteAddress, forwardedFor: request.headers["X-Forwarded-For"])
        if failureLimiter.isExhausted(source, rate: policy.failureRate, burst: policy.failureBurst, nowNanos: now)
            && !authenticator.isKnownGood(presented) {
            log.outcome = "source-throttled"
            return .refuse(.tooMany(requests: "too many failed authentication attempts from this source",
                                    retryAfter: Int((1 / max(policy.failureRate, 0.01)).rounded(.up))))
        }

        let tenant: Tenant
        switch authenticator.authenticate(presented) {
        case .invalid(let reason, let owner):
            log.outcome = "auth-\(reason)"
            log.tenant = owner?.id
            _ = failureLimiter.take(source, rate: policy.failureRate, burst: policy.failureBurst, nowNanos: now)
            // A revoked or expired token of a known tenant (its secret matched) goes to that tenant's request log.
            return .refuse(.unauthorized(presented == nil
                                         ? "missing bearer token (Authorization: Bearer <token>)"
                                         : "invalid, revoked or expired token"), homeRegion: owner?.homeRegion)
        case .deactivated(let t):
            log.tenant = t.id
            log.outcome = "integration-deactivated"
            return .refuse(.unauthorized("integration deactivated: this tenant's SCIM integration is switched off; nothing was changed"),
                           homeRegion: t.homeRegion)
        case .unavailable:
            log.outcome = "control-plane-unavailable"
            return .refuse(.unavailable("authentication temporarily unavailable", retryAfter: policy.retryAfterSeconds))
        case .authenticated(let auth):
            tenant = auth.tenant
            log.tenant = tenant.id
            log.token = auth.tokenID
        }

        let rate = tenant.rateLimitPerSecond.map(Double.init) ?? policy.tenantRate
        let burst = tenant.rateLimitBurst.map(Double.init) ?? max(policy.tenantBurst, rate)
        let delay: Double
        switch tenantLimiter.reserve(tenant.id, rate: rate, burst: burst, maxDelay: Double(policy.rateLimitMaxDelay.nanoseconds) / 1e9,
                                     nowNanos: now) {
        case .now: delay = 0
        case .after(let seconds): delay = seconds
        case .refused(let retryAfter):
            log.outcome = "rate-limited"
            return .refuse(.tooMany(requests: "rate limit exceeded for this tenant", retryAfter: retryAfter),
                           homeRegion: tenant.homeRegion)
        }

        guard let home = directory.routes[tenant.homeRegion] else {
            log.outcome = "region-not-configured"
            return .refuse(.unavailable("home region \(tenant.homeRegion) is not configured on this gateway",
                                        retryAfter: policy.retryAfterSeconds))
        }
        log.region = home.id
        let host = request.headers["Host"]
        let baseURL: String
        if let hostRegion = directory.region(forHost: host) {
            guard hostRegion.id == home.id else {
                // Data residency: the tenant's data lives in another region; tell the IdP where.
                log.outcome = "misdirected"
                return .refuse(SCIMError(status: 421, detail:
                    "tenant is homed in region \(home.id); use the SCIM base URL \(home.configuration.publicBaseURL)"),
                    homeRegion: home.id)
            }
            baseURL = home.configuration.publicBaseURL
        } else {
            if policy.strictHosts {
                log.outcome = "unknown-host"
                return .refuse(SCIMError(status: 421, detail:
                    "unknown host; use the SCIM base URL \(home.configuration.publicBaseURL)"), homeRegion: home.id)
            }
            var scheme = context.isTLS ? "https" : "http"
            if policy.trustForwardedProto, let proto = request.headers["X-Forwarded-Proto"]?.lowercased(),
               proto == "https" || proto == "http" { scheme = proto }
            baseURL = "\(scheme)://\(host ?? "\(home.backendHost)")/scim/v2"
        }
        guard let key = keyring().current(.link) else {
            return .refuse(.unavailable("gateway has no current link key", retryAfter: policy.retryAfterSeconds))
        }
        // No Host header here: the replica's pool adds its own `host:port` once one is chosen.
        var upstream = HTTPRequest(method: request.method, target: request.target, body: request.body)
        for name in Self.forwardedRequestHeaders {
            for value in request.headers.values(name) { upstream.headers.add(name, value) }
        }
        LinkSignature.sign(&upstream, tenant: tenant.id, baseURL: baseURL, requestID: requestID, key: key,
                           nowSeconds: Int(Timestamp.nowEpochMillis() / 1000))
        return .forward(upstream, home, delay: delay)
    }

}

extension SCIMProxy {
    /// The SCIM routes, for their templates (logs and metrics): the gateway forwards whatever it gets under
    /// `/scim/v2` and the region answers; these are only the names requests are counted under.
    static let routes: Router<Void> = {
        var r = Router<Void>(caseInsensitiveLiterals: true)
        for type in ["Users", "Groups"] {
            r.add(.get, "/scim/v2/\(type)", ())
            r.add(.post, "/scim/v2/\(type)", ())
            r.add(.post, "/scim/v2/\(type)/.search", ())
            for method in [HTTPMethod.get, .put, .patch, .delete] { r.add(method, "/scim/v2/\(type)/:id", ()) }
        }
        r.add(.post, "/scim/v2/Bulk", ())
        r.add(.post, "/scim/v2/.search", ())
        for method in [HTTPMethod.get, .post, .put, .patch, .delete] { r.add(method, "/scim/v2/Me", ()) }
        for type in ["Schemas", "ResourceTypes"] {
            r.add(.get, "/scim/v2/\(type)", ())
            r.add(.get, "/scim/v2/\(type)/:id", ())
        }
        r.add(.get, "/scim/v2/ServiceProviderConfig", ())
        r.add(.get, "/healthz", ())
        r.add(.get, "/readyz", ())
        return r
    }()

    /// Anything a client can make up would become a metric series of its own: one fixed name for the rest.
    static let unmatchedRoute = "other"
}

extension SCIMError {
    /// 401 with the bearer challenge (RFC 6750 §3).
    static func unauthorized(_ detail: String) -> SCIMError {
        SCIMError(status: 401, detail: detail, challenge: "Bearer realm=\"scim\", error=\"invalid_token\"")
    }

    /// 429: the tenant's (or source's) rate, and when to come back.
    static func tooMany(requests detail: String, retryAfter: Int) -> SCIMError {
        SCIMError(status: 429, detail: detail, retryAfterSeconds: retryAfter)
    }

    /// 503: nobody can answer this now, and when to try again.
    static func unavailable(_ detail: String, retryAfter: Int) -> SCIMError {
        SCIMError(status: 503, detail: detail, retryAfterSeconds: retryAfter)
    }
}
