#if canImport(Glibc)
import Glibc
#endif
import Crypto
import HTTPCore
import JSON
import NetIO
import Postgres
import SCIMCore
import Synchronization
package import Telemetry
import Locking
package import Lifecycle
package import RegionSCIM

/// Delivers each tenant's events to its webhook endpoint, in order, from the outbox.
///
/// - **One POST per batch**: `{"events": [...]}` with up to `batchSize` events (and `maxBatchBytes`), in stream order,
///   signed (`WebhookSignature`). Batches keep up with a busy tenant (one request per event could not: delivery per
///   tenant is sequential) and a receiver processes the array in order. A 2xx answer acknowledges the whole batch.
/// - **Exactly one deliverer per endpoint**, across threads and replicas: a worker claims an endpoint by setting a
///   lease in its row (`FOR UPDATE SKIP LOCKED` picks a due, unleased endpoint with visible events), and every later
///   update is fenced on that lease. No transaction stays open across an HTTP call.
/// - **At least once**: the cursor moves only after a 2xx. A process killed mid-POST leaves its lease to expire;
///   whoever claims next sends the same batch again (same event ids — receivers dedupe by `id`).
/// - **Retries** with exponential back-off and jitter; after `maxAttempts` failures the batch becomes a dead letter
///   and the endpoint stops, keeping order (a receiver never sees later events before the failed ones). The
///   operator resumes, skips or replays through the admin API; events keep accumulating meanwhile.
package final class WebhookDelivery: Sendable {
    let database: RegionDatabase
    let keys: WebhookKeys
    let settings: WebhookDeliverySettings
    let logger: Logger
    /// This process's lease identity.
    let owner: String
    private let stopped = Atomic<Bool>(false)
    private let clients = Lock<[String: HTTPClient]>([:])
    /// Seconds since the epoch, for signatures (replaceable in tests).
    let clock: @Sendable () -> Int64
    /// Whether the schema is in place (nothing is tried before).
    let ready: @Sendable () -> Bool

    /// A delivery service; `owner` names this process in leases (default: region, pid and a random suffix).
    package init(database: RegionDatabase, keys: WebhookKeys, settings: WebhookDeliverySettings, logger: Logger,
                owner: String? = nil, ready: @escaping @Sendable () -> Bool = { true }, clock: (@Sendable () -> Int64)? = nil) {
        self.database = database
        self.ready = ready
        self.keys = keys
        self.settings = settings
        self.logger = logger
        self.owner = owner ?? "\(database.region)-\(getpid())-\(Base62.random(6))"
        self.clock = clock ?? { Timestamp.nowEpochMillis() / 1000 }
    }

    /// `settings.workers` threads, each draining due endpoints every `pollInterval`. Shutdown does not wait for a
    /// POST in progress (its lease expires and the batch is delivered again, at least once).
    package var service: PeriodicService {
        PeriodicService("webhook", every: settings.pollInterval, threads: settings.workers, waitOnStop: false,
                        last: { [self] in stopped.store(true, ordering: .releasing) }) { [self] in
            drain()
            return !isStopped
        }
    }

    /// Stops a drain in progress at its next check (tests; shutdown does it through `service`).
    package func stop() { stopped.store(true, ordering: .releasing) }

    var isStopped: Bool { stopped.load(ordering: .acquiring) }

    // MARK: Claiming

    struct Claim: Sendable {
        var tenant: String
        var url: String
        var keyID: String
        var sealed: [UInt8]
        var position: EventPosition
        var attempts: Int
    }

    /// The due endpoint waiting longest that has visible events and no live lease, leased to this process.
    static let claim = PreparedStatement(
        """
        UPDATE webhook_endpoints w SET lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond'
        FROM (SELECT c.tenant_id FROM webhook_endpoints c
              WHERE c.dead_lettered_at IS NULL AND c.next_attempt_at <= now()
                AND (c.lease_until IS NULL OR c.lease_until < now())
                -- A tenant moving between regions: the source stops at the freeze, the target starts at activation.
                AND NOT EXISTS (SELECT 1 FROM tenant_moves m WHERE m.tenant_id = c.tenant_id
                                AND m.state IN \(TenantFence.pausedStatesSQL))
                AND EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = c.tenant_id
                            AND (e.xid, e.seq) > (c.cursor_xid, c.cursor_seq)
                            AND e.xid < pg_snapshot_xmin(pg_current_snapshot()))
              ORDER BY c.next_attempt_at LIMIT 1
              FOR UPDATE SKIP LOCKED) picked
        WHERE w.tenant_id = picked.tenant_id
        RETURNING w.tenant_id::text, w.url, w.secret_key_id, w.secret_sealed, w.cursor_xid::text, w.cursor_seq, w.attempts
        """)

    /// Leases one due endpoint (the region-worker scope: this query looks across tenants).
    func claimOne() throws -> Claim? {
        let result = try database.pool.withConnection { connection in
            try connection.pipeline([.prepared(RegionDatabase.setWorker), .prepared(Self.claim, [.text(owner), .int(settings.lease.milliseconds)])])[1]
        }
        guard result.rowCount == 1, let tenant = result.string(row: 0, column: 0), let url = result.string(row: 0, column: 1),
              let keyID = result.string(row: 0, column: 2), let sealed = result.bytes(row: 0, column: 3),
              let xid = result.string(row: 0, column: 4).flatMap({ UInt64($0) }), let seq = result.int(row: 0, column: 5),
              let attempts = result.int(row: 0, column: 6) else { return nil }
        return Claim(tenant: tenant, url: url, keyID: keyID, sealed: sealed, position: EventPosition(xid: xid, seq: seq),
                     attempts: Int(attempts))
    }

    /// Claims and delivers until nothing is due (one call per poll tick and worker thread).
    func drain() {
        guard ready() else { return }
        while !isStopped {
            let claim: Claim?
            do {
                claim = try claimOne()
            } catch {
                logger.warning("webhook claim failed", [("error", .string("\(error)"))])
                return
            }
            guard let claim else { return }
            deliver(claim)
        }
    }

    // MARK: Delivering

    /// What one POST came to.
    enum Attempt: Sendable, Equatable {
        case delivered(status: Int)
        case failed(status: Int?, error: String)
    }

    /// A batch ready to send.
    struct Batch {
        var body: [UInt8]
        var count: Int
        var last: EventPosition
    }

    /// Delivers batches to one claimed endpoint until it is caught up, fails, or has had its share.
    func deliver(_ claim: Claim) {
        var state = DeliveryState(attempts: claim.attempts, deadLettered: false)
        var position = claim.position
        let logContext: Logger.Metadata = [("tenant.id", .string(claim.tenant))]
        guard let secret = keys.open(claim.sealed, keyID: claim.keyID, tenant: claim.tenant) else {
            fail(claim, &state, position: position, batch: nil,
                 .failed(status: nil, error: "the endpoint secret cannot be opened: webhook key \(claim.keyID) is not in this region's keyring"))
            return
        }
        resealIfTheKeyRotated(claim, secret: secret)
        let url: WebhookURL
        switch WebhookURL.parse(claim.url, allowInsecure: settings.allowInsecureHTTP) {
        case .success(let u): url = u
        case .failure(let problem):
            fail(claim, &state, position: position, batch: nil, .failed(status: nil, error: problem.description))
            return
        }
        for _ in 0..<max(1, settings.batchesPerClaim) {
            if isStopped { break }
            let batch: Batch?
            do {
                batch = try loadBatch(tenant: claim.tenant, after: position)
            } catch {
                logger.warning("webhook batch could not be read", logContext + [("error", .string("\(error)"))])
                fail(claim, &state, position: position, batch: nil, .failed(status: nil, error: "events could not be read"))
                return
            }
            guard let batch else { break }
            let attempt = post(batch, to: url, secret: secret, attemptNumber: attemptNumber(state))
            switch attempt {
            case .delivered(let status):
                do {
                    guard try recordSuccess(claim.tenant, batch: batch, status: status) else {
                        logger.notice("webhook lease lost; another worker took over", logContext)
                        return
                    }
                } catch {
                    logger.warning("webhook delivery could not be recorded", logContext + [("error", .string("\(error)"))])
                    return
                }
                state.delivered()
                position = batch.last
                logger.debug("webhook batch delivered", logContext + [("events", .int(Int64(batch.count))), ("status", .int(Int64(status)))])
            case .failed:
                fail(claim, &state, position: position, batch: batch, attempt)
                return
            }
        }
        do {
            try release(claim.tenant)
        } catch {
            logger.warning("webhook lease could not be released (it expires by itself)", logContext + [("error", .string("\(error)"))])
        }
    }

    func attemptNumber(_ state: DeliveryState) -> Int {
        switch state {
        case .healthy: 1
        case .retrying(let n): n + 1
        case .deadLettered(let n): n + 1
        }
    }

    /// Records a failed attempt: a retry later, or — the last allowed attempt — a dead letter.
    func fail(_ claim: Claim, _ state: inout DeliveryState, position: EventPosition, batch: Batch?, _ attempt: Attempt) {
        guard case .failed(let status, let error) = attempt else { return }
        let logContext: Logger.Metadata = [("tenant.id", .string(claim.tenant)), ("error", .string(error)),
                                                ("status", status.map { .int(Int64($0)) } ?? .string("-"))]
        do {
            switch state.failed(maxAttempts: settings.maxAttempts) {
            case .retry(let attempts):
                let delay = settings.retry.delayMillis(afterAttempt: attempts, unit: Double(UInt32.random(in: 0...UInt32.max)) / 4_294_967_296)
                try recordRetry(claim.tenant, attempts: attempts, delayMillis: delay, status: status, error: error)
                logger.warning("webhook delivery failed; will retry",
                               logContext + [("attempts", .int(Int64(attempts))), ("retry_in_ms", .int(delay))])
            case .deadLetter(let attempts):
                try recordDeadLetter(claim.tenant, after: position, batch: batch, attempts: attempts, status: status, error: error)
                logger.error("webhook batch dead-lettered; delivery to this endpoint is stopped until redelivery",
                             logContext + [("attempts", .int(Int64(attempts)))])
            }
        } catch {
            logger.warning("webhook failure could not be recorded (the lease expires by itself)",
                           [("tenant.id", .string(claim.tenant)), ("error", .string("\(error)"))])
        }
    }

    /// The next batch after `after`, rendered, or nil when there is nothing visible yet.
    func loadBatch(tenant: String, after: EventPosition) throws -> Batch? {
        let limit = max(1, settings.batchSize)
        return try database.read(tenant: tenant, { _ in
            [EventFeed.pageStatement(tenant: tenant, after: after, limit: limit)]
        }, decode: { context, results -> Batch? in
            let page = try EventFeed.decodePage(results[0], after: after, limit: limit)
            guard !page.events.isEmpty else { return nil }
            var body = Array(#"{"events":["#.utf8)
            var count = 0
            var last = after
            for event in page.events {
                let encoded = JSONEncoder.encode(try EventFeed.render(event, tenant: tenant, context: context, baseURL: settings.baseURL))
                // Always at least one event, however large; then only while the body stays under the limit.
                if count > 0 && body.count + encoded.count + 3 > settings.maxBatchBytes { break }
                if count > 0 { body.append(UInt8(ascii: ",")) }
                body += encoded
                count += 1
                last = event.position
            }
            body += Array("]}".utf8)
            return Batch(body: body, count: count, last: last)
        })
    }

    /// Sends one signed batch.
    func post(_ batch: Batch, to url: WebhookURL, secret: String, attemptNumber: Int) -> Attempt {
        let client = client(for: url)
        let hostHeader = (url.host.contains(":") ? "[\(url.host)]" : url.host)
            + ((url.isHTTPS && url.port == 443) || (!url.isHTTPS && url.port == 80) ? "" : ":\(url.port)")
        let request = HTTPRequest(method: .post, target: url.target, headers: HTTPHeaders([
            ("Host", hostHeader), ("Content-Type", "application/json"), ("User-Agent", "scim-gateway-webhooks/1"),
            (WebhookSignature.header, WebhookSignature.sign(secret: secret, timestamp: clock(), body: batch.body)),
            ("Scim-Gateway-Attempt", String(attemptNumber)),
        ]), body: batch.body)
        do throws(HTTPClientError) {
            let response = try client.send(request, timeout: settings.requestTimeout)
            let status = response.status.code
            return (200...299).contains(status) ? .delivered(status: status) : .failed(status: status, error: "HTTP \(status)")
        } catch {
            return .failed(status: nil, error: error.description)
        }
    }

    /// One pooled client per origin (keep-alive to busy receivers).
    func client(for url: WebhookURL) -> HTTPClient {
        clients.withLock { clients in
            if let client = clients[url.origin] { return client }
            if clients.count >= 256 { clients.removeAll() }
            var configuration = HTTPClientConfiguration()
            configuration.connectTimeout = .seconds(5)
            configuration.requestTimeout = settings.requestTimeout
            configuration.maxIdleConnections = 4
            configuration.maxResponseBytes = 1 << 20
            // Receivers often close idle connections after a few seconds; a POST on a connection closed meanwhile
            // would count as a failed attempt.
            configuration.idleTimeout = .seconds(4)
            if url.isHTTPS { configuration.tls = TLSClientConfiguration(trustedCAFile: settings.trustedCAFile) }
            let client = HTTPClient(host: url.host, port: url.port, configuration: configuration)
            clients[url.origin] = client
            return client
        }
    }

    // MARK: Recording (fenced on the lease)

    static let success = PreparedStatement(
        """
        UPDATE webhook_endpoints SET cursor_xid = $3::xid8, cursor_seq = $4, attempts = 0, next_attempt_at = now(),
            last_attempt_at = now(), last_status = $5, last_error = NULL, last_delivered_at = now(),
            delivered_events = delivered_events + $6, lease_until = now() + $7 * interval '1 millisecond', updated_at = now()
        -- The lease names the process, not the thread: a thread of this process that stalled past its lease must not
        -- move the cursor back behind a sibling that claimed the endpoint meanwhile.
        WHERE tenant_id = $1 AND lease_owner = $2 AND (cursor_xid, cursor_seq) < ($3::xid8, $4)
        """)
    static let retry = PreparedStatement(
        """
        UPDATE webhook_endpoints SET attempts = $3, next_attempt_at = now() + $4 * interval '1 millisecond',
            last_attempt_at = now(), last_status = $5, last_error = $6, lease_owner = NULL, lease_until = NULL, updated_at = now()
        WHERE tenant_id = $1 AND lease_owner = $2
        """)
    static let deadLetter = PreparedStatement(
        """
        WITH stopped AS (
            UPDATE webhook_endpoints SET attempts = $3, dead_lettered_at = now(), last_attempt_at = now(), last_status = $4,
                last_error = $5, lease_owner = NULL, lease_until = NULL, updated_at = now()
            WHERE tenant_id = $1 AND lease_owner = $2
            RETURNING tenant_id)
        INSERT INTO webhook_dead_letters (tenant_id, after_xid, after_seq, last_xid, last_seq, event_count, attempts,
                                          last_status, last_error)
        SELECT tenant_id, $6::xid8, $7, $8::xid8, $9, $10, $3, $4, $5 FROM stopped
        """)
    static let release = PreparedStatement(
        "UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL WHERE tenant_id = $1 AND lease_owner = $2")

    /// Runs one tenant-scoped statement in its own (implicit) transaction: set_config(…, true) and the statement
    /// travel in one round trip.
    func scoped(_ tenant: String, _ statement: PreparedStatement, _ values: [PostgresValue]) throws -> Int {
        try database.pool.withConnection { connection in
            try connection.pipeline([.prepared(RegionDatabase.setTenant, [.text(tenant)]), .prepared(statement, values)])[1].affectedRows
        }
    }

    /// Moves the cursor past a delivered batch and renews the lease; false when the lease was lost meanwhile.
    func recordSuccess(_ tenant: String, batch: Batch, status: Int) throws -> Bool {
        try scoped(tenant, Self.success, [.uuid(tenant), .text(owner), .text(batch.last.xidText), .int(batch.last.seq),
                                          .int(Int64(status)), .int(Int64(batch.count)), .int(settings.lease.milliseconds)]) == 1
    }

    func recordRetry(_ tenant: String, attempts: Int, delayMillis: Int64, status: Int?, error: String) throws {
        _ = try scoped(tenant, Self.retry, [.uuid(tenant), .text(owner), .int(Int64(attempts)), .int(delayMillis),
                                            PostgresValue(status), .text(String(error.prefix(500)))])
    }

    func recordDeadLetter(_ tenant: String, after: EventPosition, batch: Batch?, attempts: Int, status: Int?, error: String) throws {
        let last = batch?.last ?? after
        _ = try scoped(tenant, Self.deadLetter, [.uuid(tenant), .text(owner), .int(Int64(attempts)), PostgresValue(status),
                                                 .text(String(error.prefix(500))), .text(after.xidText), .int(after.seq),
                                                 .text(last.xidText), .int(last.seq), .int(Int64(batch?.count ?? 0))])
    }

    static let reseal = PreparedStatement(
        "UPDATE webhook_endpoints SET secret_key_id = $3, secret_sealed = $4 WHERE tenant_id = $1 AND lease_owner = $2")

    /// Seals the secret again under the keyring's current webhook key when it was sealed under an older one, so a
    /// key rotation completes as endpoints deliver (retire the old key once `secretKeyId` shows the new one).
    func resealIfTheKeyRotated(_ claim: Claim, secret: String) {
        guard let current = keys.current, current.id != claim.keyID,
              let sealed = keys.seal(secret, tenant: claim.tenant) else { return }
        do {
            _ = try scoped(claim.tenant, Self.reseal, [.uuid(claim.tenant), .text(owner), .text(sealed.keyID), .bytes(sealed.sealed)])
        } catch {
            logger.warning("webhook secret could not be resealed; will retry", [("tenant.id", .string(claim.tenant))])
        }
    }

    func release(_ tenant: String) throws {
        _ = try scoped(tenant, Self.release, [.uuid(tenant), .text(owner)])
    }
}
