#if canImport(Glibc)
import Glibc
#endif
import JSON
package import Postgres
package import RegionSCIM
import Locking
import Lifecycle
package import Telemetry

/// The request log's background writer: takes what the request path queued (`record`), redacts and encodes it
/// (`RequestLogRow`) and inserts it in batches, one transaction per batch with one multi-row INSERT per tenant
/// (`json_to_recordset`: the text form is parsed once, row by row, cheaper than building a `jsonb` first), on a
/// connection of its own. The request path only ever appends to a bounded buffer: a slow, locked or stopped database
/// makes the buffer fill and further records be dropped (counted in `/metrics`), never a SCIM request wait or fail.
///
/// The writer's session has `synchronous_commit = off` (a crash of PostgreSQL may lose the last fraction of a
/// second of log records, never SCIM data, which other sessions commit) and short lock and statement timeouts, so a
/// locked table costs a failed batch attempt rather than a thread stuck for good.
package final class RequestLogWriter: Service {
    package let name = "request-log-writer"
    package let buffer: RequestLogBuffer
    let pool: PostgresPool
    let database: RegionDatabase
    let metrics: RequestLogMetrics
    let logger: Logger
    let batchSize: Int
    let flushInterval: Duration
    let ready: @Sendable () -> Bool
    /// This process in the records it writes (`written_by`, migration 10): `<region>/<host>/<pid>`.
    package let writtenBy: String?
    /// Tenants written since the retention job last asked (it checks their record counts).
    private let written = Lock<Set<String>>([])
    private let thread = Lock<ThreadHandle?>(nil)
    private let finished = ConditionLock(false)

    /// A writer on its own connection (`configuration`, normally with an application name of its own).
    package init(configuration: PostgresConfiguration, database: RegionDatabase, registry: MetricsRegistry, logger: Logger,
                 bufferCapacity: Int = 20_000, bufferBytes: Int = 64 << 20, batchSize: Int = 500,
                 flushInterval: Duration = .milliseconds(200), writtenBy: String? = nil, ready: @escaping @Sendable () -> Bool = { true }) {
        self.writtenBy = writtenBy
        self.pool = PostgresPool(configuration: configuration, maxConnections: 1, checkoutTimeout: .seconds(5),
                                 sessionSetup: Self.sessionSetup)
        self.database = database
        self.metrics = RequestLogMetrics(registry: registry)
        self.logger = logger
        self.batchSize = max(1, batchSize)
        self.flushInterval = flushInterval
        self.ready = ready
        buffer = RequestLogBuffer(capacity: bufferCapacity, byteCapacity: bufferBytes, wakeAt: self.batchSize)
        let buffer = buffer
        registry.gaugeFunction("scim_region_request_log_buffered", "Request log records waiting for the writer.") {
            [([], Double(buffer.count))]
        }
    }

    static let sessionSetup: PostgresPool.SessionSetup = { connection in
        try connection.executeScript(
            "SET TIME ZONE 'UTC'; SET statement_timeout = '10s'; SET lock_timeout = '2s'; SET synchronous_commit = off")
    }

    // MARK: The request path

    /// Queues a request's record: never waits, never fails. Nothing is queued for a tenant whose log is off (when its
    /// settings are cached, as they are for any tenant the region is serving).
    package func record(_ entry: RequestLogEntry) {
        if database.cachedSettings(tenant: entry.tenant)?.requestLog.mode == .off { return }
        count(buffer.offer(entry))
    }

    /// Counts an entry the buffer did not take.
    func count(_ offer: RequestLogBuffer.Offer) {
        switch offer {
        case .queued: break
        case .full: metrics.dropped.increment(["buffer_full"])
        case .shed: metrics.dropped.increment(["shed_read"])
        }
    }

    // MARK: The writer thread

    package func start() throws {
        let handle = ThreadHandle.start(name: "request-log") { [self] in
            run()
            finished.withLock { $0 = true }
            finished.broadcast()
        }
        thread.withLock { $0 = handle }
    }

    /// Writes what is queued, then stops; waits for the last batch until the grace period ends (a writer stuck on
    /// an unresponsive database is abandoned: the process is ending).
    package func shutdown(gracePeriod: Duration) {
        buffer.close()
        let deadline = Timestamp.monotonicNanos() + gracePeriod.nanoseconds
        if finished.wait(deadlineNanos: deadline, { $0 ? true : nil }) == true {
            thread.withLock { $0 }?.join()
        }
    }

    func run() {
        while true {
            let entries = buffer.drain(deadlineNanos: Timestamp.monotonicNanos() + flushInterval.nanoseconds)
            let closing = buffer.isClosed
            if !entries.isEmpty {
                if ready() {
                    write(entries, retry: !closing)
                } else {
                    metrics.dropped.increment(["write_failed"], by: entries.count)
                }
            }
            if closing && buffer.count == 0 { return }
        }
    }

    /// Redacts, encodes and inserts `entries` in batches.
    func write(_ entries: [RequestLogEntry], retry: Bool) {
        let started = Timestamp.monotonicNanos()
        var tenants: [String: (RequestLogSettings, Redactor)?] = [:]
        var rows: [RequestLogRow] = []
        rows.reserveCapacity(entries.count)
        for entry in entries {
            let known: (RequestLogSettings, Redactor)?
            if let cached = tenants[entry.tenant] {
                known = cached
            } else {
                known = lookup(entry.tenant).map { ($0, Redactor($0)) }
                tenants[entry.tenant] = known
            }
            guard let (settings, redactor) = known else { continue }
            if let row = RequestLogRow(entry, settings: settings, redactor: redactor) { rows.append(row) }
        }
        metrics.encodeSeconds.observe([], Double(Timestamp.monotonicNanos() - started) / 1e9)
        var start = 0
        while start < rows.count {
            let batch = Array(rows[start..<min(start + batchSize, rows.count)])
            insert(batch, attempts: retry ? 3 : 1)
            start += batchSize
        }
    }

    /// The tenant's request-log settings: from the region's cache, else read; nil (records dropped and counted) for a
    /// tenant that no longer exists or when they cannot be read.
    func lookup(_ tenant: String) -> RequestLogSettings? {
        if let cached = database.cachedSettings(tenant: tenant) { return cached.requestLog }
        do {
            guard let settings = try database.tenantSettings(id: tenant) else {
                metrics.dropped.increment(["tenant_gone"])
                return nil
            }
            return settings.requestLog
        } catch {
            metrics.dropped.increment(["settings_unavailable"])
            return nil
        }
    }

    /// One batch, retried (after a pause) when the database fails; rows of a tenant deleted meanwhile are dropped.
    func insert(_ rows: [RequestLogRow], attempts: Int) {
        for attempt in 1...attempts {
            let started = Timestamp.monotonicNanos()
            do {
                let inserted = try Self.insert(rows, pool: pool, writtenBy: writtenBy)
                metrics.batchSeconds.observe([], Double(Timestamp.monotonicNanos() - started) / 1e9)
                metrics.written.increment([], by: inserted)
                // A deleted tenant's, or one whose move fences its writes here (the pause of a move between regions).
                if inserted < rows.count { metrics.dropped.increment(["tenant_gone"], by: rows.count - inserted) }
                note(rows)
                return
            } catch {
                metrics.writeFailures.increment()
                if attempt == attempts {
                    metrics.dropped.increment(["write_failed"], by: rows.count)
                    logger.warning("request log batch dropped after failed writes",
                                   [("records", .int(Int64(rows.count))), ("error", .string("\(error)"))])
                    return
                }
                usleep(UInt32(250_000 * attempt))
            }
        }
    }

    private func note(_ rows: [RequestLogRow]) {
        written.withLock { set in for row in rows { set.insert(row.tenant) } }
    }

    /// The tenants written since the last call (the retention job enforces their record counts).
    package func takeWrittenTenants() -> Set<String> {
        written.withLock { set in
            defer { set.removeAll() }
            return set
        }
    }

    /// One transaction: per tenant, its `app.tenant_id` and one INSERT of all its rows, in one round trip; returns
    /// how many rows were inserted (a deleted tenant's are not).
    static func insert(_ rows: [RequestLogRow], pool: PostgresPool, writtenBy: String? = nil) throws -> Int {
        // Per tenant, in order of first appearance: its rows as one JSON array.
        var groups: [(String, [UInt8])] = []
        var index: [String: Int] = [:]
        for row in rows {
            if let i = index[row.tenant] {
                groups[i].1.append(UInt8(ascii: ","))
                groups[i].1.append(contentsOf: row.json)
            } else {
                index[row.tenant] = groups.count
                groups.append((row.tenant, [UInt8(ascii: "[")] + row.json))
            }
        }
        var statements: [PostgresStatement] = [.sql("BEGIN")]
        for (tenant, items) in groups {
            statements.append(.prepared(RegionDatabase.setTenant, [.text(tenant)]))
            statements.append(.prepared(insertRows, [.uuid(tenant), .text(String(decoding: items + [UInt8(ascii: "]")], as: UTF8.self)),
                                                     PostgresValue(writtenBy)]))
        }
        statements.append(.sql("COMMIT"))
        return try pool.withConnection { connection in
            let results = try connection.pipeline(statements)
            guard results.last?.commandTag == "COMMIT" else { throw RolledBack() }
            return stride(from: 2, to: results.count - 1, by: 2).reduce(0) { $0 + results[$1].affectedRows }
        }
    }

    /// COMMIT answered ROLLBACK (a statement's error was not reported): the batch was not written.
    struct RolledBack: Error {}

    static let insertRows = PreparedStatement(
        """
        INSERT INTO request_log (tenant_id, at, request_id, source, idp, user_agent, method, route, resource_type,
            resource_id, user_name, external_id, display_name, query, status, scim_type, detail, outcome, quirks,
            duration_ms, results, request_body, request_bytes, request_truncated, request_omitted, response_body,
            response_bytes, response_truncated, response_omitted, written_by)
        SELECT $1::uuid, to_timestamp(r.at_ms::float8 / 1000), r.request_id, r.source, r.idp, r.user_agent, r.method, r.route,
            r.resource_type, r.resource_id, r.user_name, r.external_id, r.display_name, r.query, r.status, r.scim_type,
            r.detail, r.outcome, coalesce(r.quirks, '{}'), coalesce(r.duration_ms, 0), r.results, r.request_body,
            coalesce(r.request_bytes, 0), coalesce(r.request_truncated, false), r.request_omitted, r.response_body,
            coalesce(r.response_bytes, 0), coalesce(r.response_truncated, false), r.response_omitted, $3::text
        FROM json_to_recordset($2::json) AS r(at_ms bigint, request_id text, source text, idp text, user_agent text,
            method text, route text, resource_type text, resource_id text, user_name text, external_id text,
            display_name text, query text, status smallint, scim_type text, detail text, outcome text, quirks text[],
            duration_ms double precision, results integer, request_body text, request_bytes integer,
            request_truncated boolean, request_omitted text, response_body text, response_bytes integer,
            response_truncated boolean, response_omitted text)
        -- Once per statement, not per row (there is no foreign key): a deleted tenant's batch inserts nothing, and
        -- deleting a tenant waits for a batch that holds its row. Nor does the batch of a tenant whose move between
        -- regions fences its writes here (docs/residency.md): a frozen or moved source must not change under the
        -- mover's final comparison (the freeze waits for a batch that holds the row, like for any write), and an
        -- incoming target holds only what the mover copies.
        WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $1::uuid FOR KEY SHARE)
          AND NOT EXISTS (SELECT 1 FROM tenant_moves m WHERE m.tenant_id = $1::uuid AND m.state IN \(TenantFence.pausedStatesSQL))
        """)
}
