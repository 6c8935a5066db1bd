import JSON
import Locking
package import Postgres
import RegionSCIM
package import Lifecycle
package import Telemetry

/// Keeps each tenant's request log within its retention (`RequestLogSettings.retentionSeconds` and `maxRecords`):
/// every `interval`, per tenant, records older than the retention time are deleted, and tenants this process wrote
/// to since the last run (every tenant, every `fullCheckEvery` runs) are cut to their newest `maxRecords`. Deletes
/// go in small batches (`batchSize` rows, each its own short transaction under the tenant's `app.tenant_id`), so
/// the purge never holds many locks or competes with the writer for long.
package final class RequestLogRetention: Sendable {
    let pool: PostgresPool
    let writer: RequestLogWriter
    let interval: Duration
    let batchSize: Int
    let fullCheckEvery: Int
    let logger: Logger
    let ready: @Sendable () -> Bool
    private let runs = Lock(0)

    package init(pool: PostgresPool, writer: RequestLogWriter, interval: Duration, logger: Logger, batchSize: Int = 1000,
                 fullCheckEvery: Int = 30, ready: @escaping @Sendable () -> Bool = { true }) {
        self.pool = pool
        self.writer = writer
        self.interval = interval
        self.batchSize = batchSize
        self.fullCheckEvery = max(1, fullCheckEvery)
        self.logger = logger
        self.ready = ready
    }

    /// The purge, every `interval` once the schema is in place.
    package var service: PeriodicService {
        PeriodicService("request-log-retention", every: interval) { [self] in
            guard ready() else { return true }
            do {
                let (age, count) = try purge()
                if age + count > 0 {
                    logger.info("request log purged", [("records.age", .int(Int64(age))), ("records.count", .int(Int64(count)))])
                }
            } catch {
                logger.warning("request log purge failed; retrying next period", [("error", .string("\(error)"))])
            }
            return true
        }
    }

    static let tenants = PreparedStatement("SELECT id::text, request_log::text FROM tenants")
    static let purgeOld = PreparedStatement(
        """
        DELETE FROM request_log WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM request_log WHERE tenant_id = $1 AND at < now() - $2 * interval '1 second' LIMIT $3))
        """)
    /// The newest row past the count limit (the `maxRecords`+1-th newest), if there is one.
    static let countBoundary = PreparedStatement(
        "SELECT xid::text, seq FROM request_log WHERE tenant_id = $1 ORDER BY xid DESC, seq DESC OFFSET $2 LIMIT 1")
    static let purgeUpTo = PreparedStatement(
        """
        DELETE FROM request_log WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM request_log WHERE tenant_id = $1 AND (xid, seq) <= ($2::xid8, $3) ORDER BY xid, seq LIMIT $4))
        """)

    /// One run; returns how many records were deleted for age and for count.
    @discardableResult
    package func purge() throws -> (age: Int, count: Int) {
        let run = runs.withLock { n -> Int in n += 1; return n }
        let listed = try pool.withConnection { connection in
            try connection.pipeline([.prepared(RegionDatabase.setWorker), .prepared(Self.tenants)])[1]
        }
        let recent = writer.takeWrittenTenants()
        var age = 0, count = 0
        for row in 0..<listed.rowCount {
            guard let tenant = listed.string(row: row, column: 0) else { continue }
            let settings = (try? RequestLogSettings.parse(listed.string(row: row, column: 1).flatMap { try? JSONDecoder.decode($0) }))
                ?? RequestLogSettings()
            age += try repeatedly { [pool, batchSize] in
                try pool.withConnection { connection in
                    try connection.pipeline([.prepared(RegionDatabase.setTenant, [.text(tenant)]),
                                             .prepared(Self.purgeOld, [.uuid(tenant), .int(settings.retentionSeconds),
                                                                       .int(Int64(batchSize))])])[1].affectedRows
                }
            }
            if recent.contains(tenant) || run % fullCheckEvery == 0 {
                count += try trim(tenant, to: settings.maxRecords)
            }
        }
        writer.metrics.purged.increment(["age"], by: age)
        writer.metrics.purged.increment(["count"], by: count)
        return (age, count)
    }

    /// Deletes the tenant's records beyond its newest `maxRecords`.
    func trim(_ tenant: String, to maxRecords: Int) throws -> Int {
        let boundary = try pool.withConnection { connection in
            try connection.pipeline([.prepared(RegionDatabase.setTenant, [.text(tenant)]),
                                     .prepared(Self.countBoundary, [.uuid(tenant), .int(Int64(maxRecords))])])[1]
        }
        guard boundary.rowCount == 1, let xid = boundary.string(row: 0, column: 0), let seq = boundary.int(row: 0, column: 1) else {
            return 0
        }
        return try repeatedly { [pool, batchSize] in
            try pool.withConnection { connection in
                try connection.pipeline([.prepared(RegionDatabase.setTenant, [.text(tenant)]),
                                         .prepared(Self.purgeUpTo, [.uuid(tenant), .text(xid), .int(seq), .int(Int64(batchSize))])])[1]
                    .affectedRows
            }
        }
    }

    /// Runs a batch delete until it deletes less than a batch (at most 1,000 batches a run: the rest waits).
    func repeatedly(_ batch: () throws -> Int) throws -> Int {
        var total = 0
        for _ in 0..<1000 {
            let deleted = try batch()
            total += deleted
            if deleted < batchSize { break }
        }
        return total
    }
}
