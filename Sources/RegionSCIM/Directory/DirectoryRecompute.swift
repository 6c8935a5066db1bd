import Crypto
import JSON
import Locking
import Lifecycle
import Postgres
import SCIMCore
package import Telemetry

/// The background worker that recomputes every live user of a tenant after a rule or mapping change (or a group
/// change too large for one SCIM transaction), in id order, one batch per transaction.
///
/// - **Guaranteed catch-up**: the job row is written in the transaction of the change that needs it, and each batch
///   records its progress in its own transaction; a crash or restart resumes after the last committed batch (a
///   lease of `leaseMillis` lets another replica take over).
/// - **Never stale**: a batch first reads its users' state without locks, then locks (and reads again) only the
///   users whose value differs, and stores those (`RoleStore`, `ProfileStore`); SCIM writes take the directory lock
///   before reading the configuration (`DirectoryLock`) and lock the users they recompute, so neither can store a
///   value computed from inputs the other is changing. A user skipped as unchanged while a SCIM write changes its
///   inputs is recomputed by that write, under the same rules.
/// - **Cheap when little changes**: after a rule change most users of a large tenant keep their roles; the unlocked
///   first read means those cost no row write at all (locking a row writes it).
/// - **Does not crowd out SCIM traffic**: short batches (`batchSize` users), then a pause of `pauseRatio` times the
///   batch's duration, so the job takes at most 1/(1+ratio) of one database connection's time; SCIM writes wait
///   for a batch only when they touch the same users.
package final class DirectoryRecompute: Service {
    package let name = "directory-recompute"
    let database: RegionDatabase
    let logger: Logger
    let batchSize: Int
    let pauseRatio: Double
    let pollInterval: Duration
    let leaseMillis: Int64 = 60_000
    /// This worker's name in leases (random per process).
    let owner = "recompute-" + Base62.random(10)
    let ready: @Sendable () -> Bool
    private let thread = PeriodicThread(name: "directory-recompute")
    private let stopping = ConditionLock<Bool>(false)

    /// A worker; `ready` says whether the schema is in place.
    package init(database: RegionDatabase, logger: Logger, batchSize: Int = 500, pauseRatio: Double = 2.0,
                 pollInterval: Duration = .milliseconds(500), ready: @escaping @Sendable () -> Bool = { true }) {
        self.database = database
        self.logger = logger
        self.batchSize = batchSize
        self.pauseRatio = pauseRatio
        self.pollInterval = pollInterval
        self.ready = ready
    }

    package func start() throws {
        thread.start(interval: pollInterval) { [self] in
            guard ready() else { return true }
            runPending()
            return true
        }
    }

    package func shutdown(gracePeriod: Duration) {
        stopping.withLock { $0 = true }
        stopping.broadcast()
        thread.stop(wait: true)
    }

    var isStopping: Bool { stopping.withLock { $0 } }

    /// Claims the jobs waiting (across tenants) and runs each to its end.
    package func runPending() {
        let tenants: [String]
        do {
            tenants = try database.pool.withConnection { connection in
                let results = try connection.pipeline([.sql("BEGIN"), .prepared(RegionDatabase.setWorker),
                                                       .prepared(DirectoryJobs.claimable, [.text(owner), .int(leaseMillis)]),
                                                       .sql("COMMIT")])
                return (0..<results[2].rowCount).compactMap { results[2].string(row: $0, column: 0) }
            }
        } catch {
            logger.warning("directory recompute: cannot look for jobs", [("error", .string("\(error)"))])
            return
        }
        for tenant in tenants where !isStopping {
            run(tenant: tenant)
        }
    }

    static let takeOver = PreparedStatement(
        "UPDATE directory_jobs SET lease_owner = $2, lease_until = now() + $3 * interval '1 millisecond' WHERE tenant_id = $1 AND state <> 'done'")

    /// Takes over `tenant`'s job, whoever held it, and runs it to its end here (tests; a batch of a previous holder
    /// still in flight then fails to record its progress and that holder stops).
    package func runNow(tenant: String) throws {
        let taken = try database.pool.withTransaction(setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)])]) { connection in
            try connection.execute(Self.takeOver, [.uuid(tenant), .text(owner), .int(leaseMillis)])
        }
        if taken == 1 { run(tenant: tenant) }
    }

    /// Runs one tenant's job batch by batch until it is done, no longer ours, or the process stops.
    package func run(tenant: String) {
        let started = Timestamp.monotonicNanos()
        var batches = 0
        while !isStopping {
            let t0 = Timestamp.monotonicNanos()
            let outcome: BatchOutcome
            do {
                outcome = try batch(tenant)
            } catch let error as SCIMError where error.headers[TenantFence.pauseHeader] != nil {
                // The tenant is moving between regions and its writes are fenced here: leave the job as it is (no
                // write may change the source now); it resumes here if the move is undone, or in the target region.
                logger.info("directory recompute paused: the tenant's writes are fenced by a move", [("tenant.id", .string(tenant))])
                return
            } catch {
                logger.warning("directory recompute batch failed; the job resumes on the next pass",
                               [("tenant.id", .string(tenant)), ("error", .string("\(error)"))])
                _ = try? database.pool.withTransaction(setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)])]) { connection in
                    try connection.query(DirectoryJobs.failed, [.uuid(tenant), .text(String(describing: error).prefix(300).description)])
                }
                return
            }
            batches += 1
            switch outcome {
            case .finished(let processed, let changed):
                logger.info("directory recompute finished", [
                    ("tenant.id", .string(tenant)), ("users", .int(Int64(processed))), ("changed", .int(Int64(changed))),
                    ("batches", .int(Int64(batches))), ("duration_ms", .int(Int64((Timestamp.monotonicNanos() - started) / 1_000_000))),
                ])
                return
            case .notOurs:
                return
            case .more:
                let elapsed = Double(Timestamp.monotonicNanos() - t0)
                let pause = UInt64(elapsed * pauseRatio)
                if pause > 0 { _ = stopping.wait(deadlineNanos: Timestamp.monotonicNanos() + pause) { $0 ? true : nil } }
            }
        }
    }

    enum BatchOutcome {
        case more
        case finished(processed: Int64, changed: Int64)
        case notOurs
    }

    /// One batch in one tenant-scoped transaction: the next users after the job's position, recomputed, and the
    /// position moved past them.
    func batch(_ tenant: String) throws -> BatchOutcome {
        try database.write(tenant: tenant) { connection, context -> BatchOutcome in
            let job = try connection.query(DirectoryJobs.current, [.uuid(tenant)])
            guard job.rowCount == 1, let generation = job.int(row: 0, column: 0), job.string(row: 0, column: 3) != "done",
                  job.string(row: 0, column: 6) == owner else { return .notOurs }
            let roles = job.bool(row: 0, column: 1) ?? false, profiles = job.bool(row: 0, column: 2) ?? false
            let after = job.string(row: 0, column: 4)
            var total = job.int(row: 0, column: 5)
            if total == nil { total = try connection.query(DirectoryJobs.countUsers, [.uuid(tenant)]).int(row: 0, column: 0) }
            let next = try connection.query(DirectoryJobs.nextUsers, [.uuid(tenant), PostgresValue(after), .int(Int64(batchSize))])
            let ids = (0..<next.rowCount).compactMap { next.string(row: $0, column: 0) }
            let config = try database.directory.config(context, connection)
            var changed = 0
            // Users' rows before their role rows: the order SCIM writes lock them in (no deadlock between the two).
            if profiles { changed += try ProfileStore.refresh(ids, mapping: config.mapping, tenant: tenant, connection) }
            if roles { changed += try RoleStore.refresh(ids, mapping: config.roles, tenant: tenant, connection, lockingAll: false) }
            let done = ids.count < batchSize
            let recorded = try connection.execute(DirectoryJobs.progress, [
                .uuid(tenant), .int(generation), PostgresValue(ids.last ?? after), .int(Int64(ids.count)), .int(Int64(changed)),
                PostgresValue(total), .bool(done), .text(owner), .int(leaseMillis),
            ])
            guard recorded == 1 else { return .notOurs }
            if done {
                let row = try connection.query(DirectoryJobs.statusRow, [.uuid(tenant)])
                return .finished(processed: row.int(row: 0, column: 2) ?? 0, changed: row.int(row: 0, column: 4) ?? 0)
            }
            return .more
        }
    }
}
