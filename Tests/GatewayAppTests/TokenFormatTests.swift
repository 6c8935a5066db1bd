import HTTPCore
import Testing
@testable import GatewayApp

@Suite struct TokenFormatTests {
    @Test func generatedTokensParseBackInBothForms() throws {
        for _ in 0..<200 {
            let c = TokenCredential.generate(.tenant)
            #expect(c.token.hasPrefix("scim_"))
            #expect(c.token.utf8.count == 5 + 16 + 1 + 32 + 6)
            #expect(TokenCredential.parse(c.token, kind: .tenant) == .success(c))
            #expect(TokenCredential.parse(c.keyPairForm, kind: .tenant) == .success(c))
            #expect(TokenCredential.parse(c.token, kind: .admin) == .failure(.malformed))
        }
        let admin = TokenCredential.generate(.admin)
        #expect(admin.token.hasPrefix("scimadm_"))
        #expect(TokenCredential.parse(admin.token, kind: .admin) == .success(admin))
        // The key-pair form is for tenant tokens only.
        #expect(TokenCredential.parse(admin.keyPairForm, kind: .admin) == .failure(.malformed))
    }

    @Test func typosAreCaughtByTheChecksumWithoutALookup() {
        let c = TokenCredential.generate(.tenant)
        var chars = Array(c.token)
        let i = 10
        chars[i] = chars[i] == "a" ? "b" : "a"
        #expect(TokenCredential.parse(String(chars), kind: .tenant) == .failure(.badChecksum))
    }

    @Test(arguments: ["", "scim_", "scim_short", "not-a-token", "scim_" + String(repeating: "a", count: 55),
                      "scim_" + String(repeating: "!", count: 55), "abc:def", String(repeating: "a", count: 16) + ":" + "x"])
    func junkIsMalformed(_ text: String) {
        if case .success = TokenCredential.parse(text, kind: .tenant) { Issue.record("accepted \(text)") }
    }

    @Test(arguments: [
        ("Bearer abc", "abc"), ("bearer abc", "abc"), ("BEARER  abc ", "abc"), ("Bearer Bearer abc", "abc"),
    ])
    func bearerHeaderForms(_ header: String, _ token: String) {
        #expect(bearerToken(fromAuthorization: header) == token)
    }

    @Test(arguments: [nil, "Basic abc", "Bearer", "Bearer ", "abc", "Token abc"] as [String?])
    func nonBearerHeaders(_ header: String?) {
        #expect(bearerToken(fromAuthorization: header) == nil)
    }

    @Test func hashesDependOnPepperAndSecret() {
        let c = TokenCredential.generate(.tenant)
        let p1 = [UInt8](repeating: 1, count: 32), p2 = [UInt8](repeating: 2, count: 32)
        #expect(c.hash(pepper: p1) == c.hash(pepper: p1))
        #expect(c.hash(pepper: p1) != c.hash(pepper: p2))
        var other = c
        other.secret = String(c.secret.reversed())
        #expect(other.hash(pepper: p1) != c.hash(pepper: p1))
    }
}

@Suite struct RateLimiterTests {
    @Test func bucketRefillsAtRateUpToBurst() {
        var b = TokenBucket(burst: 3, nowNanos: 0)
        #expect(b.take(rate: 1, burst: 3, nowNanos: 0).allowed)
        #expect(b.take(rate: 1, burst: 3, nowNanos: 0).allowed)
        #expect(b.take(rate: 1, burst: 3, nowNanos: 0).allowed)
        let refused = b.take(rate: 1, burst: 3, nowNanos: 0)
        #expect(!refused.allowed)
        #expect(refused.retryAfterSeconds == 1)
        #expect(b.take(rate: 1, burst: 3, nowNanos: 1_000_000_000).allowed)
        #expect(!b.take(rate: 1, burst: 3, nowNanos: 1_000_000_000).allowed)
        // A long pause refills only up to the burst.
        for _ in 0..<3 { #expect(b.take(rate: 1, burst: 3, nowNanos: 100_000_000_000).allowed) }
        #expect(!b.take(rate: 1, burst: 3, nowNanos: 100_000_000_000).allowed)
    }

    /// Shaping: past the bucket a request waits its turn (each 1/rate after the previous), up to the bound; beyond
    /// it, 429 with the time until one would be admitted again. However many arrive, no more than the rate pass.
    @Test func shapingDelaysInArrivalOrderAndRefusesBeyondTheBound() {
        var b = TokenBucket(burst: 2, nowNanos: 0)
        #expect(b.reserve(rate: 10, burst: 2, maxDelay: 1, nowNanos: 0) == .now)
        #expect(b.reserve(rate: 10, burst: 2, maxDelay: 1, nowNanos: 0) == .now)
        var delays: [Double] = []
        while case .after(let seconds) = b.reserve(rate: 10, burst: 2, maxDelay: 1, nowNanos: 0) { delays.append(seconds) }
        // 10 waiters, 0.1 s apart, the last at exactly the bound.
        #expect(delays.count == 10)
        for (i, d) in delays.enumerated() { #expect(abs(d - Double(i + 1) / 10) < 1e-9) }
        guard case .refused(let retryAfter) = b.reserve(rate: 10, burst: 2, maxDelay: 1, nowNanos: 0) else {
            Issue.record("expected a refusal past the bound"); return
        }
        #expect(retryAfter == 1)
        // Half a second later five of the waiters have gone through: five places are free again.
        var admitted = 0
        while case .after = b.reserve(rate: 10, burst: 2, maxDelay: 1, nowNanos: 500_000_000) { admitted += 1 }
        #expect(admitted == 5)
        // With no bound, nothing waits.
        var c = TokenBucket(burst: 1, nowNanos: 0)
        #expect(c.reserve(rate: 10, burst: 1, maxDelay: 0, nowNanos: 0) == .now)
        #expect(c.reserve(rate: 10, burst: 1, maxDelay: 0, nowNanos: 0) == .refused(retryAfterSeconds: 1))
    }

    @Test func shapingHoldsAFloodToItsRate() {
        // 1,000 requests a second for 10 s against 50/s, burst 50, 1 s of waiting allowed.
        var b = TokenBucket(burst: 50, nowNanos: 0)
        var admitted = 0
        for ms in 0..<10_000 {
            switch b.reserve(rate: 50, burst: 50, maxDelay: 1, nowNanos: UInt64(ms) * 1_000_000) {
            case .now, .after: admitted += 1
            case .refused: break
            }
        }
        // The burst, ten seconds at the rate, and the second of waiting that is admitted ahead.
        #expect(admitted <= 50 + 500 + 50 + 1)
        #expect(admitted >= 500)
    }

    @Test func keysAreIndependentAndZeroRateIsUnlimited() {
        let limiter = KeyedRateLimiter()
        for _ in 0..<5 { #expect(limiter.take("noisy", rate: 1, burst: 5, nowNanos: 0).allowed) }
        #expect(!limiter.take("noisy", rate: 1, burst: 5, nowNanos: 0).allowed)
        #expect(limiter.isExhausted("noisy", rate: 1, burst: 5, nowNanos: 0))
        #expect(limiter.take("quiet", rate: 1, burst: 5, nowNanos: 0).allowed)
        #expect(!limiter.isExhausted("quiet", rate: 1, burst: 5, nowNanos: 0))
        for _ in 0..<1000 { #expect(limiter.take("free", rate: 0, burst: 0, nowNanos: 0).allowed) }
    }
}

@Suite struct RoutingTests {
    @Test(arguments: [
        ("/scim/v2/Users", "/scim/v2/Users"), ("/scim/v2/Users/123", "/scim/v2/Users/:id"),
        ("/scim/v2/Groups/abc", "/scim/v2/Groups/:id"), ("/scim/v2/Users/.search", "/scim/v2/Users/.search"),
        ("/scim/v2/Schemas/urn:x", "/scim/v2/Schemas/:id"), ("/scim/v2/secret-token-in-path", "other"),
        ("/healthz", "/healthz"),
        // Client-chosen spellings and paths never become label values of their own.
        ("/scim/v2/uSeRs/123", "/scim/v2/Users/:id"), ("/a1", "other"), ("/favicon.ico", "other"),
    ])
    func routeTemplatesHideIds(_ path: String, _ template: String) {
        let method: HTTPMethod = path.hasSuffix(".search") ? .post : .get
        #expect((SCIMProxy.routes.match(method, path: path[...]).template ?? SCIMProxy.unmatchedRoute) == template)
    }

    @Test(arguments: [
        (HTTPMethod.post, "/admin/v1/tenants/acme/tokens/abc/rotate", "/admin/v1/tenants/:tenant/tokens/:token/rotate"),
        (.post, "/admin/v1/keys/link/rotate", "/admin/v1/keys/link/rotate"),
        (.post, "/admin/v1/keys/pepper/k1/retire", "/admin/v1/keys/pepper/:key/retire"),
        (.get, "/admin/v1/tenants/acme/events", "/admin/v1/tenants/:tenant/events"),
        (.delete, "/admin/v1/tenants/acme", "/admin/v1/tenants/:tenant"),
    ])
    func adminRouteTemplates(_ method: HTTPMethod, _ path: String, _ template: String) {
        #expect(AdminAPI.routes.match(method, path: path[...]).template == template)
    }

    @Test(arguments: [
        ("http://127.0.0.1:8081", "127.0.0.1", 8081), ("http://region-us:80/", "region-us", 80), ("http://h", "h", 80),
        ("http://[::1]:9000", "::1", 9000),
    ])
    func backendURLs(_ url: String, _ host: String, _ port: Int) {
        let parsed = HTTPURL.hostAndPort(url)
        #expect(parsed?.0 == host)
        #expect(parsed?.1 == port)
    }

}
