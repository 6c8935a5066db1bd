#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import NetIO
import Postgres
import Synchronization
import Telemetry
import TestSupport
import Lifecycle

extension Reliability {
    /// Per-tenant token buckets (shaping first, then 429 + Retry-After; configurable by flag and per tenant),
    /// noisy-neighbour latency, and the per-source throttle on failed authentication.
    @Suite struct RateLimitTests {
        /// Without shaping (`--rate-limit-max-delay 0`) a tenant over its bucket is refused at once.
        @Test func aTenantOverItsLimitGets429WithRetryAfterAndOthersAreUnaffected() throws {
            // Default for tenants without an override: 20/s (flag); the limited tenant overrides it with 5/s, burst 5.
            let d = try Deployment.reliability("ratelimit", gatewayArguments: ["--tenant-rate", "20", "--tenant-burst", "20",
                                                                              "--rate-limit-max-delay", "0"])
            defer { d.stop() }
            let limited = try d.createTenant("limited", region: "us", rateLimit: 5)
            let other = try d.createTenant("default-limit", region: "eu2")
            let client = SCIMClient(port: d.gateways[0].port, token: limited.token)
            var statuses: [Int] = []
            var refused: [HTTPResponse] = []
            for _ in 0..<15 {
                let (response, exchange) = client.send(.get, "/scim/v2/Users?count=1")
                statuses.append(exchange.status)
                if exchange.status == 429, let response { refused.append(response) }
            }
            let allowed = statuses.filter { $0 == 200 }.count
            // Burst 5; at most one more token refills at 5/s while the burst is sent.
            #expect((5...6).contains(allowed), "\(statuses)")
            #expect(statuses.prefix(5).allSatisfy { $0 == 200 })
            #expect(allowed + refused.count == 15)
            var retryAfter = 1
            for r in refused {
                let seconds = r.headers["Retry-After"].flatMap(Int.init)
                #expect(seconds != nil && seconds! >= 1)
                retryAfter = max(retryAfter, seconds ?? 1)
                let body = json(r)
                #expect(body?["status"]?.string == "429")
                #expect(body?["schemas"]?[0]?.string == "urn:ietf:params:scim:api:messages:2.0:Error")
                #expect(r.headers["Content-Type"]?.hasPrefix("application/scim+json") == true)
            }
            // Other tenants keep their own buckets.
            #expect(try d.scim(.get, "/scim/v2/Users", token: other.token).status.code == 200)
            // After Retry-After the limited tenant is served again.
            sleepMillis(retryAfter * 1000)
            #expect(client.send(.get, "/scim/v2/Users?count=1").1.status == 200)

            // The flag's default applies to tenants without an override: 20 in a burst, then 429.
            let defaultClient = SCIMClient(port: d.gateways[0].port, token: other.token)
            let burstStart = Timestamp.monotonicNanos()
            let burst = (0..<30).map { _ in defaultClient.send(.get, "/scim/v2/Users?count=1").1.status }
            // The bucket refills continuously (20/s) while the 30 requests run: a loaded machine that takes longer
            // may serve a few more, never more than the burst plus what the elapsed time refilled.
            let burstSeconds = Double(Timestamp.monotonicNanos() - burstStart) / 1e9
            let served = burst.filter { $0 == 200 }.count
            #expect(served >= 19 && Double(served) <= 20 + 20 * burstSeconds + 1 && served < 30, "\(burst) in \(burstSeconds) s")

            // Limits are configurable at run time through the admin API.
            #expect(try d.admin(.patch, "/admin/v1/tenants/\(limited.id)", ["rateLimit": ["perSecond": 1000, "burst": 1000]]).0 == 200)
            sleepMillis(300)
            let relaxed = (0..<30).map { _ in client.send(.get, "/scim/v2/Users?count=1").1.status }
            #expect(relaxed.allSatisfy { $0 == 200 }, "\(relaxed)")
            report("rate limit: tenant at 5/s burst 5 sent 15 at once: \(allowed) served, \(refused.count) got 429 (Retry-After \(retryAfter) s); "
                   + "flag default 20/s: \(burst.filter { $0 == 200 }.count) of 30 served")
            expectNoSecrets(secretForms([limited.token, other.token], admin: d.adminToken), in: d.logs, place: "process logs")
        }

        /// The quiet tenant's latency alone and while a noisy tenant floods the same gateway and region far beyond its
        /// limit: paced at 10x its limit, and unpaced (as fast as 4 connections go). An unpaced flood of `/healthz` (no
        /// tenant, no database) is the control: what the same request rate costs this 2-core machine by itself.
        /// Rounds alternate so machine noise hits every condition alike.
        @Test func aNoisyTenantDoesNotSlowAQuietOne() throws {
            let d = try Deployment.reliability("noisy")
            defer { d.stop() }
            let quiet = try d.createTenant("quiet", region: "us")
            let noisy = try d.createTenant("noisy", region: "us", rateLimit: 50)
            let created = try d.scim(.post, "/scim/v2/Users", token: quiet.token, body: userBody("quiet@example.com"))
            let quietUser = try #require(json(created)?["id"]?.string)
            let port = d.gateways[0].port
            let quietClient = SCIMClient(port: port, token: quiet.token)

            // Latencies in microseconds: the quiet tenant's requests take about a millisecond.
            func quietRound(_ n: Int) -> [Int] {
                (0..<n).map { _ in
                    let start = Timestamp.monotonicNanos()
                    let exchange = quietClient.send(.get, "/scim/v2/Users/\(quietUser)").1
                    return exchange.status == 200 ? Int((Timestamp.monotonicNanos() - start) / 1000) : -1
                }
            }
            enum Flood: CaseIterable { case none, paced, unpaced, control }
            struct Tally { var latencies: [Int] = []; var served = 0; var refused = 0; var other = 0; var millis = 0 }
            var tallies: [Flood: Tally] = [:]
            _ = quietRound(50)  // warm-up
            let rounds = 4, perRound = 500
            for _ in 0..<rounds {
                for flood in Flood.allCases {
                    let stop = StopFlag()
                    let statuses = Collected<Int>()
                    let started = monotonicMillis()
                    let load: ThreadHandle? = flood == .none ? nil : background {
                        onThreads(4) { _ in
                            let c = SCIMClient(port: port, token: flood == .control ? nil : noisy.token)
                            var next = monotonicMillis()
                            while !stop.isRaised {
                                statuses.append(c.send(.get, flood == .control ? "/healthz" : "/scim/v2/Users?count=10").1.status)
                                if flood == .paced {
                                    // 4 threads x 125/s = 500 requests/s, ten times the tenant's limit.
                                    next += 8
                                    let wait = next - monotonicMillis()
                                    if wait > 0 { sleepMillis(wait) }
                                }
                            }
                        }
                    }
                    if load != nil { sleepMillis(100) }
                    let latencies = quietRound(perRound)
                    stop.raise()
                    load?.join()
                    var t = tallies[flood] ?? Tally()
                    t.latencies += latencies
                    t.millis += monotonicMillis() - started
                    t.served += statuses.all.filter { $0 == 200 }.count
                    t.refused += statuses.all.filter { $0 == 429 }.count
                    t.other += statuses.all.filter { $0 != 200 && $0 != 429 }.count
                    tallies[flood] = t
                }
            }
            func line(_ flood: Flood) -> String {
                let t = tallies[flood]!
                let rate = t.millis > 0 ? (t.served + t.refused) * 1000 / t.millis : 0
                return "p50/p95/p99 \(percentile(t.latencies, 50))/\(percentile(t.latencies, 95))/\(percentile(t.latencies, 99)) µs"
                    + (flood == .none ? "" : " (flood \(rate) req/s: \(t.served) 200, \(t.refused) 429)")
            }
            report("noisy neighbour, quiet tenant GET by id (\(rounds * perRound) requests per condition): alone \(line(.none)); "
                   + "noisy tenant (limit 50/s) at 10x its limit \(line(.paced)); noisy tenant unpaced \(line(.unpaced)); "
                   + "control: unpaced /healthz flood \(line(.control))")
            expectNoSecrets(secretForms([quiet.token, noisy.token], admin: d.adminToken), in: d.logs, place: "process logs")
            for flood in Flood.allCases {
                #expect(!tallies[flood]!.latencies.contains(-1), "the quiet tenant got a non-200 (\(flood))")
                #expect(tallies[flood]!.other == 0)
            }
            let alone = percentile(tallies[.none]!.latencies, 99)
            let paced = percentile(tallies[.paced]!.latencies, 99)
            let unpaced = percentile(tallies[.unpaced]!.latencies, 99)
            for flood in [Flood.paced, .unpaced] {
                let t = tallies[flood]!
                // Served noisy requests stay at the limit: 50/s over the flood time plus the bucket (burst 50) and the
                // second of waiting admitted ahead, each round. (Four connections waiting their turn are shaped, not
                // refused: they never ask for more than fits in the second of delay.)
                #expect(Double(t.served) <= 50 * Double(t.millis) / 1000 + Double(100 * rounds) + 10,
                        "the noisy tenant was not held to its rate (\(flood)): \(t.served) in \(t.millis) ms")
            }
            // Whether it paces itself at 10x its limit or sends as fast as it can, the noisy tenant leaves the quiet
            // one's p99 within twice its value alone (its excess waits for its turn, costing nobody anything).
            #expect(paced <= 2 * alone, "quiet p99 \(alone) µs alone, \(paced) µs beside a paced noisy tenant")
            #expect(unpaced <= 2 * alone, "quiet p99 \(alone) µs alone, \(unpaced) µs beside an unpaced noisy tenant")
        }

        /// With the default limits (200/s, burst 400, 1 s of shaping) what real IdPs do never sees a 429: a sequential
        /// client, and Okta's 75 simultaneous connections importing (a POST/GET mix) for 30 s. Each waits its turn
        /// instead, holding no gateway thread.
        @Test func defaultLimitsShapeAnImportInsteadOfRefusingIt() throws {
            let d = try Deployment.reliability("shaping", gatewayArguments: ["--tenant-rate", "200", "--tenant-burst", "400"])
            defer { d.stop() }
            let t = try d.createTenant("importer", region: "us")
            let port = d.gateways[0].port
            // Sequential, as fast as it goes: 1,000 requests (the bucket holds 400).
            let sequential = SCIMClient(port: port, token: t.token)
            let first = (0..<1000).map { _ in sequential.send(.get, "/scim/v2/Users?count=1").1 }
            #expect(first.allSatisfy { $0.status == 200 }, "sequential: \(Set(first.map(\.status)))")
            let seeded = try #require(json(try d.scim(.post, "/scim/v2/Users", token: t.token, body: userBody("seed@import.example")))?["id"]?.string)
            let stop = StopFlag()
            let outcomes = Collected<Exchange>()
            let started = monotonicMillis()
            let load = background {
                onThreads(75) { i in
                    let client = SCIMClient(port: port, token: t.token)
                    var n = 0
                    while !stop.isRaised {
                        n += 1
                        outcomes.append(n % 5 == 0
                            ? client.send(.post, "/scim/v2/Users", body: userBody("c\(i)-\(n)@import.example")).1
                            : client.send(.get, "/scim/v2/Users/\(seeded)").1)
                    }
                }
            }
            sleepMillis(30_000)
            stop.raise()
            load.join()
            let all = outcomes.all
            let seconds = Double(monotonicMillis() - started) / 1000
            let refused = all.filter { $0.status == 429 }.count
            let other = Set(all.filter { $0.status != 200 && $0.status != 201 && $0.status != 429 }.map(\.status))
            let latencies = all.map(\.latency)
            #expect(refused == 0, "\(refused) of \(all.count) requests got 429")
            #expect(other.isEmpty, "unexpected statuses \(other)")
            // Held to its rate all the same: 200/s plus what the bucket and the second of waiting hold.
            #expect(Double(all.count) <= 200 * seconds + 400 + 200 + 75)
            #expect(Double(all.count) >= 150 * seconds, "\(all.count) requests in \(seconds) s: far below the rate")
            report("shaping: sequential 1000 requests all 200; 75 connections POST/GET for \(Int(seconds)) s: \(all.count) requests "
                   + "(\(Int(Double(all.count) / seconds))/s against a 200/s limit), 429=\(refused), "
                   + "latency p50/p99 \(percentile(latencies, 50))/\(percentile(latencies, 99)) ms")
        }

        /// A tenant asking for far more than its rate (100 connections against 20/s) is still held to it: what does
        /// not fit in the second of waiting is refused with 429 + Retry-After.
        @Test func aTenantHammeringFarAboveItsRateIsHeldToIt() throws {
            let d = try Deployment.reliability("hammer", gatewayArguments: ["--tenant-rate", "200", "--tenant-burst", "400"])
            defer { d.stop() }
            let t = try d.createTenant("hammer", region: "us", rateLimit: 20)
            let port = d.gateways[0].port
            let stop = StopFlag()
            let outcomes = Collected<Exchange>()
            let started = monotonicMillis()
            let load = background {
                onThreads(100) { _ in
                    let client = SCIMClient(port: port, token: t.token)
                    while !stop.isRaised {
                        let e = client.send(.get, "/scim/v2/Users?count=1").1
                        outcomes.append(e)
                        if e.status == 429 { sleepMillis(20) }
                    }
                }
            }
            sleepMillis(5000)
            stop.raise()
            load.join()
            let seconds = Double(monotonicMillis() - started) / 1000
            let all = outcomes.all
            let served = all.filter { $0.status == 200 }.count, refused = all.filter { $0.status == 429 }
            #expect(Double(served) <= 20 * seconds + 20 + 20 + 5, "served \(served) in \(seconds) s at a 20/s limit")
            #expect(!refused.isEmpty)
            #expect(refused.allSatisfy { $0.retryAfter.flatMap(Int.init) ?? 0 >= 1 })
            report("hammering: 100 connections against 20/s for \(Int(seconds)) s: \(served) served (\(Int(Double(served) / seconds))/s), "
                   + "\(refused.count) refused with 429 + Retry-After")
        }

        /// A random `id:secret` credential (the key-pair form needs no checksum, so every guess reaches the lookup).
        static func guess(id: String? = nil) -> String {
            let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
            func random(_ n: Int) -> String { String((0..<n).map { _ in alphabet[Int.random(in: 0..<62)] }) }
            return (id ?? random(16)) + ":" + random(32)
        }

        static func request(port: Int, source: String, token: String) throws -> HTTPResponse? {
            let c = try RawConnection(port: port, source: source)
            try c.send("GET /scim/v2/Users?count=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n")
            return try c.readResponse()
        }

        static func request(port: Int, peer: String, forwardedFor: String, token: String) throws -> HTTPResponse? {
            let c = try RawConnection(port: port, source: peer)
            try c.send("GET /scim/v2/Users?count=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
                       + "X-Forwarded-For: \(forwardedFor)\r\nConnection: close\r\n\r\n")
            return try c.readResponse()
        }

        /// Behind a load balancer (a trusted proxy) the throttle keys on the client named by X-Forwarded-For, so an
        /// attacker does not throttle the other IdPs that come through the same balancer; IPv6 clients by /64.
        @Test func behindATrustedProxyTheThrottleKeysOnTheForwardedClient() throws {
            let d = try Deployment.reliability("proxied", gatewayArguments: ["--auth-failure-burst", "5", "--trusted-proxies", "127.0.0.4/32"])
            defer { d.stop() }
            let t = try d.createTenant("behind-lb", region: "us")
            let port = d.gateways[0].port
            let balancer = "127.0.0.4"
            func codes(_ n: Int, _ forwardedFor: String, _ token: () -> String) throws -> [Int] {
                try (0..<n).map { _ in try Self.request(port: port, peer: balancer, forwardedFor: forwardedFor, token: token())?.status.code ?? 0 }
            }
            // The attacker forges a left part; the balancer appended the real address.
            let attack = try codes(12, "198.51.100.77, 203.0.113.9", { Self.guess() })
            #expect(attack.filter { $0 == 401 }.count <= 7 && attack.suffix(4).allSatisfy { $0 == 429 }, "\(attack)")
            // Another IdP behind the same balancer: its failures and successes are its own.
            #expect(try codes(1, "198.51.100.77", { Self.guess() }) == [401])
            #expect(try codes(1, "198.51.100.77", { t.token }) == [200])
            // A client that is not the balancer cannot borrow someone else's identity with the header.
            #expect(try Self.request(port: port, peer: "127.0.0.5", forwardedFor: "203.0.113.9", token: Self.guess())?.status.code == 401)
            // IPv6: addresses inside one /64 share a bucket; the next /64 does not.
            let v6 = try (0..<12).map { i in try Self.request(port: port, peer: balancer, forwardedFor: "2001:db8:1:2::\(i + 1)", token: Self.guess())?.status.code ?? 0 }
            #expect(v6.suffix(4).allSatisfy { $0 == 429 }, "\(v6)")
            #expect(try codes(1, "2001:db8:1:3::1", { Self.guess() }) == [401])
            report("trusted proxy: attacker behind the balancer throttled (\(attack.filter { $0 == 429 }.count)/12 got 429); "
                   + "another IdP behind the same balancer unaffected; forged header from an untrusted peer ignored; "
                   + "12 IPv6 addresses in one /64 share a bucket (\(v6.filter { $0 == 429 }.count) got 429), the next /64 does not")
        }

        @Test func bruteForceGuessingIsThrottledPerSourceWhileAValidTokenKeepsWorking() throws {
            let d = try Deployment.reliability("bruteforce", gatewayArguments: ["--auth-failure-burst", "10"])
            defer { d.stop() }
            let t = try d.createTenant("target", region: "us")
            let port = d.gateways[0].port
            let attacker = "127.0.0.2", bystander = "127.0.0.3"
            // The IdP behind the same address has been provisioning already.
            #expect(try Self.request(port: port, source: attacker, token: t.token)?.status.code == 200)

            var statuses: [Int] = []
            var retryAfter: [String?] = []
            for _ in 0..<40 {
                let r = try Self.request(port: port, source: attacker, token: Self.guess())
                statuses.append(r?.status.code ?? 0)
                if r?.status.code == 429 { retryAfter.append(r?.headers["Retry-After"]) }
            }
            let unauthorized = statuses.filter { $0 == 401 }.count, throttled = statuses.filter { $0 == 429 }.count
            // Burst 10, refilled at 1/s: 10 (maybe 11 when a second passes) guesses reach the lookup, the rest are cut off.
            #expect((10...12).contains(unauthorized), "\(statuses)")
            #expect(unauthorized + throttled == 40)
            #expect(retryAfter.allSatisfy { $0.flatMap(Int.init) ?? 0 >= 1 })
            // Guessing the secret of a known token id gets no special treatment.
            let tokenID = String(t.token.split(separator: "_")[1])
            let knownID = try (0..<10).map { _ in try Self.request(port: port, source: attacker, token: Self.guess(id: tokenID))?.status.code ?? 0 }
            #expect(knownID.allSatisfy { $0 == 429 }, "guesses against a known token id: \(knownID)")
            // The valid token from the same address still works, through the throttle.
            let valid = try (0..<5).map { _ in try Self.request(port: port, source: attacker, token: t.token)?.status.code ?? 0 }
            #expect(valid.allSatisfy { $0 == 200 }, "\(valid)")
            // The throttle is per source: another address is not affected.
            #expect(try Self.request(port: port, source: bystander, token: Self.guess())?.status.code == 401)
            #expect(try Self.request(port: port, source: bystander, token: t.token)?.status.code == 200)
            // The bucket refills (1/s): a guess after a pause reaches the lookup again.
            sleepMillis(1500)
            #expect(try Self.request(port: port, source: attacker, token: Self.guess())?.status.code == 401)
            report("brute force: 40 random guesses from one address: \(unauthorized) answered 401, \(throttled) got 429; "
                   + "10 guesses at a known token id: \(knownID.filter { $0 == 429 }.count) got 429; valid token from the same address: "
                   + "\(valid.filter { $0 == 200 }.count)/5 served; other address unaffected")
            expectNoSecrets(secretForms([t.token], admin: d.adminToken), in: d.logs, place: "process logs")
        }
    }
}
