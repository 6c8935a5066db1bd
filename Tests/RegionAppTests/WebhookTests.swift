import Crypto
import Glibc
import HTTPCore
import JSON
import NetIO
import Postgres
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import RegionLink
import SCIMCore
import Synchronization
import Telemetry
import TestSupport
import Testing
import Lifecycle

let testWebhookKey = Key(purpose: .webhook, id: "wh-test-1", secret: Array(repeating: 9, count: 32), state: .current)

/// A region on a database of its own (delivery workers look across tenants, so webhook tests must not share one),
/// a receiver, and the delivery services a test starts. `stop()` ends everything.
final class WebhookHarness: @unchecked Sendable {
    // @unchecked: used from one test thread (services are appended before they run).
    let database: TestDatabase
    let region: Region
    let keys = WebhookKeys(Keyring(keys: [testWebhookKey]))
    let receiver: WebhookReceiver
    var services: [PeriodicService] = []

    init(tls: TLSConfiguration? = nil) throws {
        database = try TestDatabase.create("webhooks")
        let pool = PostgresPool(configuration: database.appConfiguration, maxConnections: 1)
        try Migrator.migrate(pool, migrations: RegionSchema.migrations)
        pool.close()
        region = try Region(configuration: database.appConfiguration, webhookKeys: keys)
        receiver = try WebhookReceiver(tls: tls)
    }

    var url: String { "http://127.0.0.1:\(receiver.port)/hooks/scim" }

    /// Starts a delivery service with test timings (fast polls and retries) adjusted by `configure`.
    @discardableResult
    func start(owner: String? = nil, _ configure: (inout WebhookDeliverySettings) -> Void = { _ in }) throws -> WebhookDelivery {
        var settings = WebhookDeliverySettings()
        settings.pollInterval = .milliseconds(30)
        settings.retry = RetrySchedule(baseMillis: 50, capMillis: 200)
        settings.requestTimeout = .seconds(2)
        settings.lease = .seconds(5)
        settings.baseURL = region.baseURL
        configure(&settings)
        let delivery = WebhookDelivery(database: region.responder.service.database, keys: keys, settings: settings,
                                       logger: Logger(label: "delivery", level: .error), owner: owner)
        let service = delivery.service
        try service.start()
        services.append(service)
        return delivery
    }

    /// Configures the tenant's endpoint; returns the secret.
    func configure(_ t: Tenant, url: String? = nil, extra: String = "") -> String {
        let response = t.internalCall(.put, "webhook", #"{"url":"\#(url ?? self.url)"\#(extra)}"#)
        #expect(response.status.code == 201, "\(response.bodyText)")
        return response.json["secret"]?.string ?? ""
    }

    /// The events of every delivery the receiver answered with `status`, in arrival order.
    func deliveredEvents(status: Int = 200) -> [JSONValue] {
        receiver.deliveries.filter { $0.status == status }.flatMap { (try? JSONDecoder.decode($0.body))?["events"]?.array ?? [] }
    }

    func waitForDelivered(count: Int, timeoutMillis: Int = 20_000) -> Bool {
        receiver.wait(timeoutMillis: timeoutMillis) { deliveries in
            deliveries.filter { $0.status == 200 }.reduce(0) { n, d in n + ((try? JSONDecoder.decode(d.body))?["events"]?.array?.count ?? 0) } >= count
        }
    }

    func stop() {
        for service in services { service.shutdown(gracePeriod: .seconds(1)) }
        receiver.stop()
        region.pool.close()
        database.drop()
    }
}

/// Waits until `condition` holds, polling; true when it did.
func eventually(timeoutMillis: Int = 20_000, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicMillis() + timeoutMillis
    while monotonicMillis() < deadline {
        if condition() { return true }
        sleepMillis(20)
    }
    return condition()
}

func ids(_ events: [JSONValue]) -> [String] { events.compactMap { $0["id"]?.string } }

/// Webhook configuration and delivery against a receiver on loopback, with a real database.
@Suite struct WebhookTests {
    @Test func deliversEveryEventInOrderWithVerifiableSignatures() throws {
        let h = try WebhookHarness()
        defer { h.stop() }
        let t = h.region.tenant()
        let before = t.user("before-the-endpoint")
        // "now" starts at the horizon: an event still held back by an open transaction would be delivered too.
        _ = t.visible(1)
        let secret = h.configure(t)
        #expect(secret.hasPrefix("whsec_") && secret.count == 38)
        let users = (0..<20).map { t.user("d\($0)") }
        let g = t.group("Delivered", #","members":[{"value":"\#(users[0])"},{"value":"\#(users[1])"}]"#)
        t.send(.patch, "/Users/\(users[2])", patchOp(#"{"op":"replace","path":"active","value":false}"#))
        try h.start { $0.batchSize = 7 }
        let expected = t.visible(24).events.filter { $0["data"]?["user"]?["id"]?.string != before }
        #expect(expected.count == 23)
        #expect(h.waitForDelivered(count: expected.count))

        let delivered = h.deliveredEvents()
        #expect(ids(delivered) == ids(expected))
        #expect(delivered == expected)
        #expect(delivered.last?["type"]?.string == "user.deactivated")
        #expect(delivered.contains { $0["data"]?["group"]?["id"]?.string == g })
        let now = Timestamp.nowEpochMillis() / 1000
        for d in h.receiver.deliveries {
            #expect(d.path == "/hooks/scim")
            #expect(d.headers["Content-Type"] == "application/json")
            #expect(d.headers["Scim-Gateway-Attempt"] == "1")
            let header = try #require(d.headers[WebhookSignature.header])
            guard case .success = WebhookSignature.verify(header: header, secrets: [secret], body: d.body, nowSeconds: now) else {
                Issue.record("signature does not verify: \(header)")
                continue
            }
            #expect(WebhookSignature.verify(header: header, secrets: ["whsec_wrong"], body: d.body, nowSeconds: now) == .failure(.mismatch))
            #expect(WebhookSignature.verify(header: header, secrets: [secret], body: d.body + [0x20], nowSeconds: now) == .failure(.mismatch))
            #expect(WebhookSignature.verify(header: header, secrets: [secret], body: d.body, nowSeconds: now + 3600) == .failure(.staleTimestamp))
        }
        // Batches of at most 7 (four, unless an event was still held back when a batch was read).
        #expect(h.receiver.deliveries.allSatisfy { ((try? JSONDecoder.decode($0.body))?["events"]?.array?.count ?? 0) <= 7 })
        #expect(h.receiver.deliveries.count >= 4)

        // The receiver has answered; the region records the success right after.
        #expect(eventually { t.internalCall(.get, "webhook").json["deliveredEvents"]?.int == 23 })
        let state = t.internalCall(.get, "webhook").json
        #expect(state["state"]?.string == "active")
        #expect(state["deliveredEvents"]?.int == 23)
        #expect(state["backlog"]?.int == 0)
        #expect(state["lastStatus"]?.int == 200)
        let lastID = try #require(ids(expected).last)
        #expect(EventPosition(cursor: state["cursor"]?.string ?? "") == EventTests.position(lastID))
        #expect(state["secret"] == nil)
    }

    @Test func retriesWithBackOffUntilTheReceiverIsBackAndLosesNothing() throws {
        let h = try WebhookHarness()
        defer { h.stop() }
        let t = h.region.tenant()
        _ = h.configure(t)
        h.receiver.respond(status: 503)
        try h.start { $0.batchSize = 10; $0.maxAttempts = 1000 }
        for i in 0..<15 { t.user("r\(i)") }
        #expect(h.receiver.wait { $0.count >= 4 })
        let retrying = t.internalCall(.get, "webhook").json
        #expect(retrying["state"]?.string == "retrying")
        #expect((retrying["attempts"]?.int ?? 0) >= 3)
        #expect(retrying["lastStatus"]?.int == 503)
        #expect(retrying["lastError"]?.string == "HTTP 503")
        for i in 15..<30 { t.user("r\(i)") }
        h.receiver.respond(status: 200)
        let expected = t.visible(30).events
        #expect(h.waitForDelivered(count: 30))
        // Exactly once among the acknowledged deliveries, in stream order.
        #expect(ids(h.deliveredEvents()) == ids(expected))
        // Every failed attempt carried the same first batch, with a growing attempt number.
        let failed = h.receiver.deliveries.filter { $0.status == 503 }
        let firstBatch = Array(ids(expected).prefix(10))
        for d in failed {
            let batch = ids((try? JSONDecoder.decode(d.body))?["events"]?.array ?? [])
            #expect(Array(batch.prefix(firstBatch.count)) == Array(firstBatch.prefix(batch.count)))
        }
        #expect(failed.map { Int($0.headers["Scim-Gateway-Attempt"] ?? "") ?? 0 } == Array(1...failed.count))
        #expect(t.internalCall(.get, "webhook").json["state"]?.string == "active")
    }

    @Test func deadLetterStopsTheEndpointUntilRedeliverySkipOrReplay() throws {
        let h = try WebhookHarness()
        defer { h.stop() }
        let t = h.region.tenant()
        _ = h.configure(t)
        h.receiver.respond(status: 500)
        // All five events visible before the deliverer starts: its three attempts (~75 ms apart) each carry all five
        // (created after the start, a slow machine could leave some for after the dead letter).
        for i in 0..<5 { t.user("x\(i)") }
        _ = t.visible(5)
        try h.start { $0.maxAttempts = 3 }
        #expect(eventually { t.internalCall(.get, "webhook").json["state"]?.string == "dead_lettered" })
        sleepMillis(400)
        // Exactly three attempts, then nothing more: the endpoint is stopped.
        #expect(h.receiver.deliveries.count == 3)
        let dead = t.internalCall(.get, "webhook").json
        let letter = try #require(dead["deadLetters"]?[0])
        #expect(letter["attempts"]?.int == 3)
        #expect(letter["eventCount"]?.int == 5)
        #expect(letter["lastStatus"]?.int == 500)
        #expect(letter["resolution"] == .null)
        #expect(letter["after"]?.string == dead["cursor"]?.string)
        // Later events wait behind it (order is kept).
        for i in 5..<7 { t.user("x\(i)") }
        sleepMillis(200)
        #expect(h.receiver.deliveries.count == 3)

        h.receiver.respond(status: 200)
        let resumed = t.internalCall(.post, "webhook/redeliver", "{}")
        #expect(resumed.status.code == 200)
        #expect(resumed.json["state"]?.string == "active")
        #expect(h.waitForDelivered(count: 7))
        let all = t.visible(7).events
        #expect(ids(h.deliveredEvents()) == ids(all))
        #expect(t.internalCall(.get, "webhook").json["deadLetters"]?[0]?["resolution"]?.string == "redelivered")

        // Skipping: the dead-lettered batch is never acknowledged, what follows is.
        h.receiver.respond(status: 500)
        let skipped = t.user("skipped")
        #expect(eventually { t.internalCall(.get, "webhook").json["state"]?.string == "dead_lettered" })
        h.receiver.respond(status: 200)
        #expect(t.internalCall(.post, "webhook/redeliver", #"{"skip":true}"#).status.code == 200)
        let after = t.user("after-skip")
        #expect(h.waitForDelivered(count: 8))
        let acknowledged = h.deliveredEvents().compactMap { $0["data"]?["user"]?["id"]?.string }
        #expect(!acknowledged.contains(skipped))
        #expect(acknowledged.last == after)
        #expect(t.internalCall(.get, "webhook").json["deadLetters"]?[0]?["resolution"]?.string == "skipped")
        #expect(t.internalCall(.post, "webhook/redeliver", #"{"skip":true}"#).status.code == 409)

        // Replay from the beginning: the whole stream once more, in order.
        #expect(t.internalCall(.post, "webhook/redeliver", #"{"after":"beginning"}"#).status.code == 200)
        #expect(h.waitForDelivered(count: 8 + 9))
        #expect(Array(ids(h.deliveredEvents()).suffix(9)) == ids(t.allEvents().events))
    }

    @Test func replicasNeverDeliverToOneEndpointConcurrently() throws {
        let h = try WebhookHarness()
        defer { h.stop() }
        let t = h.region.tenant()
        _ = h.configure(t)
        h.receiver.respond(status: 200, delayMillis: 15)
        for owner in ["replica-a", "replica-b"] {
            try h.start(owner: owner) { $0.workers = 3; $0.batchSize = 5; $0.batchesPerClaim = 2 }
        }
        let writers = 4
        onThreads(writers) { i in for n in 0..<25 { t.user("c\(i)-\(n)") } }
        #expect(h.waitForDelivered(count: 100))
        sleepMillis(200)
        #expect(ids(h.deliveredEvents()) == ids(t.allEvents().events))
        #expect(h.receiver.maxInFlight == 1)
    }

    /// Leases name the process: a thread of it that stalled past its lease, while a sibling delivered further, must
    /// not move the cursor back when it finally records its own (older) success.
    @Test func aStaleSuccessNeverMovesTheCursorBack() throws {
        let h = try WebhookHarness()
        defer { h.stop() }
        let t = h.region.tenant()
        _ = h.configure(t)
        // Not started: its statements are driven by hand.
        let delivery = WebhookDelivery(database: h.region.responder.service.database, keys: h.keys, settings: WebhookDeliverySettings(),
                                       logger: Logger(label: "delivery", level: .error), owner: "process-1")
        let admin = try PostgresConnection(configuration: h.database.adminConfiguration)
        let start = try admin.query("UPDATE webhook_endpoints SET lease_owner = 'process-1', lease_until = now() + interval '1 minute' "
                                    + "WHERE tenant_id = $1::uuid RETURNING cursor_xid::text", [.text(t.id)])
        let xid = UInt64(start.string(row: 0, column: 0) ?? "") ?? 0
        func cursor() throws -> String? {
            try admin.query("SELECT cursor_xid::text || '/' || cursor_seq FROM webhook_endpoints WHERE tenant_id = $1::uuid", [.text(t.id)])
                .string(row: 0, column: 0)
        }
        let newer = WebhookDelivery.Batch(body: [], count: 5, last: EventPosition(xid: xid + 10, seq: 50))
        let older = WebhookDelivery.Batch(body: [], count: 2, last: EventPosition(xid: xid + 5, seq: 20))
        #expect(try delivery.recordSuccess(t.id, batch: newer, status: 200))
        #expect(try cursor() == "\(xid + 10)/50")
        #expect(try !delivery.recordSuccess(t.id, batch: older, status: 200))
        #expect(try cursor() == "\(xid + 10)/50")
    }

    @Test func httpsDeliveryVerifiesTheReceiversCertificate() throws {
        let certs = try TestCertificates.get()
        let h = try WebhookHarness(tls: TLSConfiguration(certificateChainPath: certs.serverCertificateFile,
                                                          privateKeyPath: certs.serverKeyFile))
        defer { h.stop() }
        let trusted = h.region.tenant(), untrusted = h.region.tenant()
        _ = h.configure(trusted, url: "https://localhost:\(h.receiver.port)/hooks/scim")
        try h.start { $0.trustedCAFile = certs.caFile }
        let id = trusted.user("over-tls")
        #expect(h.waitForDelivered(count: 1))
        #expect(h.deliveredEvents().compactMap { $0["data"]?["user"]?["id"]?.string } == [id])
        // The same receiver through a delivery service that does not trust the test CA: refused, retried.
        h.services[0].shutdown(gracePeriod: .seconds(1))
        _ = h.configure(untrusted, url: "https://127.0.0.1:\(h.receiver.port)/hooks/scim")
        try h.start { $0.maxAttempts = 1000 }
        untrusted.user("never-over-untrusted-tls")
        #expect(eventually { untrusted.internalCall(.get, "webhook").json["state"]?.string == "retrying" })
        let error = untrusted.internalCall(.get, "webhook").json["lastError"]?.string ?? ""
        #expect(error.contains("TLS failed") && error.contains("certificate"), "\(error)")
        #expect(h.receiver.deliveries.count == 1)
    }

    @Test func aRotatedWebhookKeyResealsSecretsAsEndpointsDeliver() throws {
        let h = try WebhookHarness()
        defer { h.stop() }
        let t = h.region.tenant()
        let secret = h.configure(t)
        let next = Key(purpose: .webhook, id: "wh-test-2", secret: Array(repeating: 11, count: 32), state: .current)
        var previous = testWebhookKey
        previous.state = .previous
        h.keys.update(Keyring(keys: [previous, next]))
        try h.start()
        t.user("after-rotation")
        #expect(h.waitForDelivered(count: 1))
        #expect(eventually { t.internalCall(.get, "webhook").json["secretKeyId"]?.string == "wh-test-2" })
        // Same secret, now under the new key: the old key can be retired.
        let header = h.receiver.deliveries[0].headers[WebhookSignature.header] ?? ""
        guard case .success = WebhookSignature.verify(header: header, secrets: [secret], body: h.receiver.deliveries[0].body,
                                                      nowSeconds: Timestamp.nowEpochMillis() / 1000) else {
            Issue.record("signature does not verify after the key rotation")
            return
        }
        h.keys.update(Keyring(keys: [next]))
        t.user("after-retirement")
        #expect(h.waitForDelivered(count: 2))
        #expect(t.internalCall(.get, "webhook").json["lastError"] == .null)
    }

    @Test func configurationIsValidatedAndTheSecretIsSealedAtRest() throws {
        let h = try WebhookHarness()
        defer { h.stop() }
        let t = h.region.tenant()
        for (body, fragment) in [
            (#"{}"#, "'url' is required"),
            (#"{"url":"http://hooks.example.com/x"}"#, "must use https"),
            (#"{"url":"ftp://hooks.example.com/x"}"#, "absolute http(s) URL"),
            (#"{"url":"https://user:pw@hooks.example.com/x"}"#, "absolute http(s) URL"),
            (#"{"url":"https://hooks.example.com/x","secret":"short"}"#, "'secret' must be"),
            (#"{"url":"https://hooks.example.com/x","from":"yesterday"}"#, "'from' must be"),
        ] {
            let response = t.internalCall(.put, "webhook", body)
            #expect(response.status.code == 400, "\(body)")
            #expect(response.detail?.contains(fragment) == true, "\(body): \(response.detail ?? "")")
        }
        let missing = t.internalCall(.get, "webhook")
        #expect(missing.status.code == 404, "\(missing.bodyText)")

        let created = t.internalCall(.put, "webhook", #"{"url":"https://Hooks.Example.com:8443/scim?app=1"}"#)
        #expect(created.status.code == 201)
        let secret = try #require(created.json["secret"]?.string)
        #expect(created.json["url"]?.string == "https://hooks.example.com:8443/scim?app=1")
        #expect(created.json["secretKeyId"]?.string == "wh-test-1")
        let shown = t.internalCall(.get, "webhook").json
        #expect(shown["secret"] == nil && shown["state"]?.string == "active")

        // At rest: sealed, not the secret; opens only with the key and for this tenant.
        let admin = try PostgresConnection(configuration: h.database.adminConfiguration)
        let sealed = try #require(try admin.query("SELECT secret_sealed FROM webhook_endpoints WHERE tenant_id = $1", [.uuid(t.id)])
            .bytes(row: 0, column: 0))
        #expect(sealed.count == 1 + 12 + secret.utf8.count + 16)
        #expect(!String(decoding: sealed, as: UTF8.self).contains(secret))
        #expect(h.keys.open(sealed, keyID: "wh-test-1", tenant: t.id) == secret)
        #expect(h.keys.open(sealed, keyID: "wh-test-1", tenant: SecureRandom.uuid()) == nil)
        #expect(WebhookKeys().open(sealed, keyID: "wh-test-1", tenant: t.id) == nil)

        let rotated = t.internalCall(.put, "webhook", #"{"rotateSecret":true}"#)
        #expect(rotated.status.code == 200)
        #expect(rotated.json["secret"]?.string != secret && rotated.json["secret"]?.string?.hasPrefix("whsec_") == true)
        let own = String(repeating: "k", count: 32)
        #expect(t.internalCall(.put, "webhook", #"{"secret":"\#(own)"}"#).json["secret"]?.string == own)
        #expect(t.internalCall(.put, "webhook", #"{"url":"https://hooks.example.com/y"}"#).json["secret"] == nil)
        #expect(t.internalCall(.put, "webhook", #"{"from":"now"}"#).status.code == 400)
        // Plain http to loopback is allowed (a receiver on the same host).
        #expect(t.internalCall(.put, "webhook", #"{"url":"http://127.0.0.1:9/x"}"#).status.code == 200)

        #expect(t.internalCall(.delete, "webhook").status.code == 204)
        #expect(t.internalCall(.get, "webhook").status.code == 404)
        #expect(t.internalCall(.post, "webhook/redeliver", "{}").status.code == 404)

        // A region whose keyring has no webhook key cannot configure endpoints.
        let keyless = try Region(configuration: h.database.appConfiguration)
        let other = keyless.tenant()
        #expect(other.internalCall(.put, "webhook", #"{"url":"https://hooks.example.com/x"}"#).status.code == 503)
    }
}

/// The pure parts: signatures, back-off, the delivery state machine, URL policy.
@Suite struct WebhookProtocolTests {
    @Test func signatureIsHMACOverTimestampDotBody() {
        let body = Array(#"{"events":[]}"#.utf8)
        let header = WebhookSignature.sign(secret: "whsec_test", timestamp: 1_767_225_600, body: body)
        let expected = Hex.encode(HMAC.sha256(key: Array("whsec_test".utf8), message: Array("1767225600.".utf8) + body))
        #expect(header == "t=1767225600,v1=" + expected)
    }

    @Test(arguments: [
        ("t=100,v1=GOOD", 100, WebhookSignature.Rejection?.none),
        ("t=100,v1=GOOD", 399, nil),
        ("t=100,v1=GOOD", 401, .staleTimestamp),
        ("t=100,v1=GOOD", -201, .staleTimestamp),
        ("t=100,v1=BAD,v1=GOOD", 100, nil),
        ("t=100, v1=GOOD, v0=ignored", 100, nil),
        ("t=100,v1=BAD", 100, .mismatch),
        ("v1=GOOD", 100, .malformed),
        ("t=100", 100, .malformed),
        ("t=abc,v1=GOOD", 100, .malformed),
        ("garbage", 100, .malformed),
    ])
    func verification(header: String, now: Int64, rejection: WebhookSignature.Rejection?) {
        let body = Array("payload".utf8)
        let good = String(WebhookSignature.sign(secret: "s3cret", timestamp: 100, body: body).split(separator: "=").last!)
        let bad = String(repeating: "0", count: 64)
        let text = header.replacingAll("GOOD", with: good).replacingAll("BAD", with: bad)
        let result = WebhookSignature.verify(header: text, secrets: ["other", "s3cret"], body: body, nowSeconds: now)
        if let rejection { #expect(result == .failure(rejection)) } else { #expect(result == .success(100)) }
    }

    @Test func backOffDoublesUpToTheCapWithJitterInTheUpperHalf() {
        let schedule = RetrySchedule(baseMillis: 5_000, capMillis: 3_600_000)
        #expect((1...12).map { schedule.nominalDelayMillis(afterAttempt: $0) } ==
                [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 1_280_000, 2_560_000, 3_600_000, 3_600_000])
        #expect(schedule.nominalDelayMillis(afterAttempt: 500) == 3_600_000)
        #expect(schedule.delayMillis(afterAttempt: 3, unit: 0) == 10_000)
        #expect(schedule.delayMillis(afterAttempt: 3, unit: 0.5) == 15_000)
        #expect(schedule.delayMillis(afterAttempt: 3, unit: 1) < 20_000)
        #expect(schedule.delayMillis(afterAttempt: 3, unit: 1) >= 19_999)
    }

    @Test func deliveryStateMachine() {
        var state = DeliveryState(attempts: 0, deadLettered: false)
        #expect(state == .healthy && state.name == "active")
        #expect(state.failed(maxAttempts: 3) == .retry(attempts: 1))
        #expect(state.failed(maxAttempts: 3) == .retry(attempts: 2))
        #expect(state.name == "retrying")
        state.delivered()
        #expect(state == .healthy)
        #expect(state.failed(maxAttempts: 3) == .retry(attempts: 1))
        #expect(state.failed(maxAttempts: 3) == .retry(attempts: 2))
        #expect(state.failed(maxAttempts: 3) == .deadLetter(attempts: 3))
        #expect(state == .deadLettered(attempts: 3) && state.name == "dead_lettered")
        state.redeliver()
        #expect(state == .healthy)
        #expect(DeliveryState(attempts: 4, deadLettered: true) == .deadLettered(attempts: 4))
        var once = DeliveryState.healthy
        #expect(once.failed(maxAttempts: 1) == .deadLetter(attempts: 1))
    }

    @Test(arguments: [
        ("https://hooks.example.com", false, "https://hooks.example.com/"),
        ("https://hooks.example.com:443/a/b?x=1", false, "https://hooks.example.com/a/b?x=1"),
        ("HTTPS://Hooks.Example.COM:8443?x", false, "https://hooks.example.com:8443/?x"),
        ("https://[::1]:9443/h", false, "https://[::1]:9443/h"),
        ("http://127.0.0.1:8080/h", false, "http://127.0.0.1:8080/h"),
        ("http://localhost/h", false, "http://localhost/h"),
        ("http://[::1]/h", false, "http://[::1]/h"),
        ("http://hooks.example.com/h", true, "http://hooks.example.com/h"),
    ])
    func acceptedURLs(text: String, allowInsecure: Bool, normalised: String) throws {
        let url = try WebhookURL.parse(text, allowInsecure: allowInsecure).get()
        #expect(url.description == normalised)
    }

    @Test(arguments: [
        ("http://hooks.example.com/h", WebhookURL.Problem.insecure),
        ("http://127.0.0.1.example.com/h", .insecure),
        ("http://10.0.0.1/h", .insecure),
        ("ftp://hooks.example.com", .malformed),
        ("https://", .malformed),
        ("https://user@hooks.example.com", .malformed),
        ("https://hooks.example.com/#frag", .malformed),
        ("https://hooks.example.com:0/", .malformed),
        ("https://hooks.example.com:99999/", .malformed),
        ("https://hooks example.com/", .malformed),
        ("https://hooks.exämple.com/", .malformed),
        ("hooks.example.com", .malformed),
    ])
    func refusedURLs(text: String, problem: WebhookURL.Problem) {
        #expect(WebhookURL.parse(text, allowInsecure: false) == .failure(problem))
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
