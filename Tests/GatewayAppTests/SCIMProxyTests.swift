#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import NetIO
import RegionLink
import ServerRuntime
import Telemetry
import TestSupport
@testable import GatewayApp
import Locking
import Crypto
import Lifecycle
import Postgres
import Synchronization

/// A fake region on loopback: checks the gateway's signature, remembers what it was sent, answers by path.
/// `/scim/v2/Users/ok` → 200 (with headers the gateway must strip), `/down` → 503, `/slow` → waits 2 s.
final class FakeRegion: HTTPResponder, @unchecked Sendable {
    // @unchecked: `seen` is a ConditionLock.
    let verifier: LinkVerifier
    private let seen = ConditionLock<[(HTTPRequest, LinkContext?)]>([])

    init(keyring: Keyring) { verifier = LinkVerifier(keyring: keyring) }

    func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse {
        let link = try? verifier.verify(request, nowSeconds: Int(Timestamp.nowEpochMillis() / 1000)).get()
        seen.withLock { $0.append((request, link)) }
        switch request.path {
        case "/scim/v2/Users/down": return HTTPResponse(status: .serviceUnavailable, contentType: "application/scim+json", body: "{}")
        case "/scim/v2/Users/slow": sleepMillis(2000)
        default: break
        }
        return HTTPResponse(status: .ok, headers: ["Content-Type": "application/scim+json", "Server": "region",
                                                   "X-SCIM-Tenant": link?.tenant ?? "-"],
                            body: Array(#"{"id":"ok"}"#.utf8))
    }

    var requests: [(HTTPRequest, LinkContext?)] { seen.withLock { $0 } }
}

/// Collects a deferred answer.
final class CapturedReply: HTTPReply, @unchecked Sendable {
    // @unchecked: `answer` is a ConditionLock.
    private let answer = ConditionLock<(HTTPResponse, Int)?>(nil)
    let start = monotonicMillis()

    func send(_ response: HTTPResponse) {
        let at = monotonicMillis() - start
        answer.withLock { if $0 == nil { $0 = (response, at) } }
        answer.broadcast()
    }

    func wait(_ millis: Int = 10_000) -> (response: HTTPResponse, millis: Int)? {
        answer.wait(deadlineNanos: Timestamp.monotonicNanos() + UInt64(millis) * 1_000_000) { $0 }.map { ($0.0, $0.1) }
    }
}

/// The SCIM proxy in-process (no gateway process), against fake regions on loopback and a real control plane. The
/// us region has `usReplicas` fake replicas (plus `extraUSBackends`, e.g. a port where nothing listens); eu2 has the
/// first one.
final class ProxyFixture: @unchecked Sendable {
    // @unchecked: set up once, then only read.
    let control: ControlPlaneFixture
    let replicas: [FakeRegion]
    let servers: [HTTPServer]
    let loop = UpstreamLoop(name: "proxy-test", threads: 2, tick: .milliseconds(20))
    let proxy: SCIMProxy
    let directory: RegionDirectory
    let metrics = GatewayMetrics()
    var region: FakeRegion { replicas[0] }
    var server: HTTPServer { servers[0] }

    /// `policy` defaults to the gateway's, except that hosts of no region are served (the tests call 127.0.0.1, as
    /// test deployments run with --allow-any-host).
    init(_ label: String, link: RegionLinkSettings = RegionLinkSettings(), policy: GatewayPolicy = .anyHost,
         usReplicas: Int = 1, extraUSBackends: [String] = [],
         authenticator: ((ControlPlaneFixture) -> TokenAuthenticator)? = nil, authWork: WorkQueue? = nil,
         authWaitLimit: Duration = .seconds(5)) throws {
        control = try ControlPlaneFixture(label)
        var replicas: [FakeRegion] = [], servers: [HTTPServer] = []
        for _ in 0..<max(1, usReplicas) {
            let fake = FakeRegion(keyring: Keyring())
            fake.verifier.update(control.ring)
            var config = HTTPServerConfiguration()
            config.workerThreads = 8
            let server = HTTPServer(configuration: config, responder: fake, logger: Logger(label: "fake-region", level: .critical))
            try server.start()
            replicas.append(fake)
            servers.append(server)
        }
        self.replicas = replicas
        self.servers = servers
        loop.start()
        let regions = try RegionConfiguration.loadAll(directory: Deployment.repositoryRoot + "/Regions")
        let us = servers.map { "http://127.0.0.1:\($0.port)" } + extraUSBackends
        directory = try RegionDirectory(regions: regions,
                                        backendOverrides: RegionBackendOverrides.parse("us=\(us.joined(separator: "|")),eu2=http://127.0.0.1:\(servers[0].port)"),
                                        loop: loop, settings: link)
        let ring = control.ring
        proxy = SCIMProxy(authenticator: authenticator?(control) ?? control.authenticator(), directory: directory, keyring: { ring },
                          policy: policy, logger: Logger(label: "proxy", level: .critical), metrics: metrics,
                          schedule: { [loop] delay, task in loop.schedule(after: delay, task) }, authWork: authWork,
                          authWaitLimit: authWaitLimit, readiness: { (true, "ok") })
    }

    deinit {
        loop.shutdown()
        for server in servers { server.shutdown(gracePeriod: .seconds(1)) }
    }

    /// The us replica listening on `port`.
    func usReplica(_ port: Int) -> RegionReplica? {
        directory.routes["us"]!.replicas.members.first { $0.backend.port == port }
    }

    /// A tenant with a token.
    func tenant(_ name: String, region: String = "us") throws -> (Tenant, String) {
        let t = try control.tenant(name + "-\(monotonicMillis())", region: region)
        let issued = try control.store.issueToken(tenantID: t.id, label: "t", expiresAt: nil, pepper: control.pepper, actor: "test")
        return (t, issued.credential.token)
    }

    func send(_ method: HTTPMethod, _ target: String, token: String?, host: String = "127.0.0.1:8080",
              headers: [(String, String)] = []) -> (response: HTTPResponse, millis: Int)? {
        var request = HTTPRequest(method: method, target: target, headers: HTTPHeaders([("Host", host)] + headers))
        if let token { request.headers.add("Authorization", "Bearer \(token)") }
        let reply = CapturedReply()
        proxy.respond(to: request, context: RequestContext(remoteAddress: "127.0.0.1", connectionID: 1, isTLS: false,
                                                           receivedAtNanos: Timestamp.monotonicNanos()), reply: reply)
        return reply.wait()
    }
}

@Suite(.serialized) struct SCIMProxyTests {
    /// A proxy whose authenticator reads the control plane through a pool of one connection that gives up after
    /// 300 ms (cached rows trusted for 2 s), with the auth work queue on; `whileThePoolIsHeld` keeps that connection
    /// busy.
    final class OnePoolProxy: @unchecked Sendable {
        // @unchecked: set up once, then only read.
        let work = WorkQueue(name: "auth-test", threads: 2, capacity: 16)
        let fixture: ProxyFixture
        let pool: PostgresPool

        init(_ label: String) throws {
            try work.start()
            let made = Mutex<PostgresPool?>(nil)
            fixture = try ProxyFixture(label, authenticator: { control in
                let small = PostgresPool(configuration: control.database.appConfiguration, maxConnections: 1,
                                         checkoutTimeout: .milliseconds(300))
                made.withLock { $0 = small }
                return TokenAuthenticator(store: ControlStore(pool: small, maxLiveTokensPerTenant: 3), keyring: { control.ring },
                                          logger: Logger(label: "t", level: .critical), positiveTTL: .seconds(2))
            }, authWork: work, authWaitLimit: .seconds(3))
            pool = made.withLock { $0! }
        }

        deinit {
            work.shutdown(gracePeriod: .seconds(1))
            pool.close()
        }

        /// Runs `body` while the pool's one connection is held by another thread.
        func whileThePoolIsHeld<R>(_ body: () throws -> R) rethrows -> R {
            let state = ConditionLock<Int>(0)  // 1: held, 2: may release
            let holder = ThreadHandle.start(name: "pool-holder") { [pool] in
                try? pool.withConnection { _ in
                    state.withLock { $0 = 1 }
                    state.broadcast()
                    _ = state.wait(deadlineNanos: Timestamp.monotonicNanos() + 10_000_000_000) { $0 == 2 ? true : nil }
                }
            }
            defer {
                state.withLock { $0 = 2 }
                state.broadcast()
                holder.join()
            }
            _ = state.wait(deadlineNanos: Timestamp.monotonicNanos() + 5_000_000_000) { $0 == 1 ? true : nil }
            return try body()
        }
    }

    static func unknownToken() -> String {
        let body = "scim_" + Base62.random(16) + "_" + Base62.random(32)
        return body + Base62.encode32(CRC32.checksum(body.utf8))
    }

    /// An uncached token whose read fails (the control plane's pool gave up on a checkout) is answered 503 at once:
    /// the request is not sent back to authenticate, which would read (and wait) a second time.
    @Test func aFailedTokenReadIsNotMadeTwiceForOneRequest() throws {
        let p = try OnePoolProxy("proxy_auth_once")
        let answer = try p.whileThePoolIsHeld { try #require(p.fixture.send(.get, "/scim/v2/Users", token: Self.unknownToken())) }
        #expect(answer.response.status.code == 503)
        #expect(answer.response.headers["Retry-After"] != nil)
        #expect(p.pool.statistics.timeouts == 1, "one read per request (two before the fix): \(p.pool.statistics)")
    }

    /// A cached token gone stale while the control plane cannot answer is served from its stale row (nothing can be
    /// revoked meanwhile) after one failed read, and the next requests within a second do not try again.
    @Test func aStaleTokenIsServedAfterOneFailedReadAndNotReadAgainAtOnce() throws {
        let p = try OnePoolProxy("proxy_auth_stale")
        let (_, token) = try p.fixture.tenant("stale")
        #expect(p.fixture.send(.get, "/scim/v2/Users/ok", token: token)?.response.status.code == 200)  // now cached
        usleep(2_200_000)  // older than the 2 s TTL
        let statuses = p.whileThePoolIsHeld { (0..<3).map { _ in p.fixture.send(.get, "/scim/v2/Users/ok", token: token)?.response.status.code } }
        #expect(statuses == [200, 200, 200])
        #expect(p.pool.statistics.timeouts == 1, "one failed read, then the stale row for a second: \(p.pool.statistics)")
    }

    @Test func forwardsSignedForTheTenantWithoutTheTokenAndStripsRegionHeaders() throws {
        let f = try ProxyFixture("proxy_sign")
        let (tenant, token) = try f.tenant("acme")
        let answer = try #require(f.send(.get, "/scim/v2/Users/ok", token: token, headers: [("X-Request-Id", "idp-123")]))
        #expect(answer.response.status.code == 200)
        #expect(answer.response.bodyText == #"{"id":"ok"}"#)
        #expect(answer.response.headers["X-Request-Id"] == "idp-123")
        #expect(answer.response.headers["Server"] == nil && answer.response.headers["X-SCIM-Tenant"] == nil)
        let (request, link) = try #require(f.region.requests.last)
        #expect(link?.tenant == tenant.id)
        #expect(link?.requestID == "idp-123")
        #expect(link?.baseURL == "http://127.0.0.1:8080/scim/v2")
        #expect(request.headers["Authorization"] == nil)
    }

    @Test func refusalsNeverReachTheRegion() throws {
        let f = try ProxyFixture("proxy_refuse")
        let (_, token) = try f.tenant("acme")
        let misdirected = try #require(f.send(.get, "/scim/v2/Users/ok", token: token, host: "eu2-api.example.com"))
        #expect(misdirected.response.status.code == 421)
        #expect(misdirected.response.bodyText.contains("https://api.example.com/scim/v2"))
        let noToken = try #require(f.send(.get, "/scim/v2/Users/ok", token: nil))
        #expect(noToken.response.status.code == 401)
        #expect(noToken.response.headers["WWW-Authenticate"]?.hasPrefix("Bearer") == true)
        let notSCIM = try #require(f.send(.get, "/other", token: token))
        #expect(notSCIM.response.status.code == 404)
        #expect(f.region.requests.isEmpty)
    }

    @Test func aRegionThatKeepsFailingIsCutOffByItsBreaker() throws {
        var link = RegionLinkSettings()
        link.breakerFailures = 3
        link.breakerOpenDuration = .seconds(30)
        let f = try ProxyFixture("proxy_breaker", link: link)
        let (_, token) = try f.tenant("acme")
        for _ in 0..<3 { #expect(f.send(.get, "/scim/v2/Users/down", token: token)?.response.status.code == 503) }
        let refused = try #require(f.send(.get, "/scim/v2/Users/ok", token: token))
        #expect(refused.response.status.code == 503)
        #expect(refused.response.headers["Retry-After"].flatMap(Int.init).map { $0 >= 29 } == true)
        #expect(refused.millis < 250)  // at once (slack for a loaded machine; the region would answer 200)
        #expect(f.region.requests.count == 3)
        // A healthy probe closes it.
        f.directory.routes["us"]!.replicas.members[0].breaker.probe(up: true, now: Timestamp.monotonicNanos())
        #expect(f.send(.get, "/scim/v2/Users/ok", token: token)?.response.status.code == 200)
        // The other region's breaker never moved.
        #expect(f.directory.routes["eu2"]!.replicas.members[0].breaker.state == .closed)
    }

    @Test func aSlowRegionAnswers503AtTheFirstByteDeadlineAndAFullBulkheadAtOnce() throws {
        var link = RegionLinkSettings()
        link.upstream.firstByteTimeout = .milliseconds(300)
        link.upstream.maxConnections = 1
        link.upstream.maxQueued = 0
        let f = try ProxyFixture("proxy_slow", link: link)
        let (_, token) = try f.tenant("acme")
        let (_, euToken) = try f.tenant("acme-eu", region: "eu2")
        let slowReply = CapturedReply()
        var slow = HTTPRequest(method: .get, target: "/scim/v2/Users/slow", headers: ["Host": "127.0.0.1"])
        slow.headers.add("Authorization", "Bearer \(token)")
        f.proxy.respond(to: slow, context: RequestContext(remoteAddress: "127.0.0.1", connectionID: 1, isTLS: false,
                                                          receivedAtNanos: 0), reply: slowReply)
        // The one slot is taken: the next us request is refused at once, the eu2 one (its own bulkhead) is served.
        let full = try #require(f.send(.get, "/scim/v2/Users/ok", token: token))
        #expect(full.response.status.code == 503)
        #expect(full.response.headers["Retry-After"] == "1")
        #expect(full.millis < 250)  // at once: not queued until the slow one times out (300 ms)
        #expect(f.send(.get, "/scim/v2/Users/ok", token: euToken)?.response.status.code == 200)
        let timedOut = try #require(slowReply.wait())
        #expect(timedOut.response.status.code == 503)
        #expect(timedOut.response.headers["Retry-After"] == "5")
        #expect(timedOut.millis >= 280 && timedOut.millis < 1000)
    }
}

extension GatewayPolicy {
    /// The default policy with `--allow-any-host`.
    static var anyHost: GatewayPolicy {
        var policy = GatewayPolicy()
        policy.strictHosts = false
        return policy
    }
}
