import NetIO
package import Postgres

import Synchronization
package import Telemetry
package import Lifecycle
import RegionSCIM

/// Deletes events older than the retention period, in bounded batches (short transactions, no long lock on the
/// table), periodically. Retention applies to webhook backlogs too: an endpoint stopped for longer than the
/// retention period loses the oldest of its undelivered events (the operator is told by `backlog` and dead letters
/// long before; choose the period accordingly).
package final class EventRetention: Sendable {
    let pool: PostgresPool
    /// Events older than this many seconds are deleted.
    let retentionSeconds: Int64
    let interval: Duration
    let logger: Logger
    let batchSize: Int
    /// Whether the schema is in place (nothing is tried before).
    let ready: @Sendable () -> Bool

    /// Purges every `interval`; `retentionSeconds` is the age limit.
    package init(pool: PostgresPool, retentionSeconds: Int64, interval: Duration, logger: Logger, batchSize: Int = 10_000,
                ready: @escaping @Sendable () -> Bool = { true }) {
        self.pool = pool
        self.ready = ready
        self.retentionSeconds = retentionSeconds
        self.interval = interval
        self.logger = logger
        self.batchSize = batchSize
    }

    /// Purges every `interval` (once the schema is in place).
    package var service: PeriodicService {
        PeriodicService("event-retention", every: interval) { [self] in
            guard ready() else { return true }
            do {
                let deleted = try purge()
                if deleted > 0 { logger.info("expired events purged", [("events", .int(Int64(deleted)))]) }
            } catch {
                logger.warning("event purge failed; retrying next period", [("error", .string("\(error)"))])
            }
            return true
        }
    }

    /// One batch: the oldest rows past the limit, found through the BRIN index on `occurred_at`.
    static let purgeBatch = PreparedStatement(
        """
        DELETE FROM events WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM events WHERE occurred_at < now() - $1 * interval '1 second' LIMIT $2))
        """)

    /// Deletes expired events (region-wide, in the region-worker scope); returns how many.
    @discardableResult
    package func purge() throws -> Int {
        var total = 0
        while true {
            let deleted = try pool.withConnection { connection in
                try connection.pipeline([.prepared(RegionDatabase.setWorker),
                                         .prepared(Self.purgeBatch, [.int(retentionSeconds), .int(Int64(batchSize))])])[1].affectedRows
            }
            total += deleted
            if deleted < batchSize { return total }
        }
    }
}
