import Locking
import Synchronization
package import Postgres
package import SCIMCore
package import Telemetry

/// Concurrent PATCHes of one group in this process share one transaction and one commit (flat combining).
///
/// Why: a PATCH of a group locks the group's row (its version and trigger-kept member count change) until it
/// commits, and a commit waits for its WAL flush. IdPs push memberships of a big group as many small PATCHes at once
/// (Okta "Push Groups", Entra's provisioning cycles), so those writers queue on that one row and the group takes one
/// fsync per member change: `make bench`'s member-add scenario measured ~1,000 requests/s at 16 connections with a
/// p99 of 50–100 ms, the same rate as one connection, however idle the machine was.
///
/// How: the first writer of a group becomes its leader and runs its PATCH; writers arriving meanwhile queue here
/// (a thread waiting on a condition, not a database connection waiting on a row lock). When the leader has
/// committed, the queue (up to `maxBatch`) is handed, as one batch, to the first queued writer, which runs all of
/// them one after another in one transaction: each sees the ones before it (the same order a row lock would have
/// given), each gets its own version, events and answer, and the batch pays one commit. A batch whose members all
/// succeed commits; if one of them fails, the transaction is rolled back and each runs alone in order, so one
/// request's error (a 400, a 412 on `If-Match`) is never another's. A commit that fails fails every member the way
/// it would have failed each alone (never re-run: its outcome may be unknown).
///
/// Only this process's writers combine; other replicas of the region still meet on the row lock (each with batches).
package final class GroupWriteCombiner: Sendable {
    /// One PATCH, re-runnable (a deadlock retry or a failed batch runs it again from the start).
    package typealias Body = @Sendable (PostgresConnection, TenantContext, Carry) throws -> Output

    /// What one PATCH of a shared transaction leaves the next (the group row stays locked by the first): the group's
    /// document and version as read back by the database after its write, so the next can skip re-reading them.
    /// Made afresh for every transaction attempt (a retried or fallen-back batch starts empty); a PATCH that leaves
    /// nothing (it changed the document) makes the next read the row again.
    package final class Carry {
        /// The locked group as the database has it now (only `document` and `version` are meant to be read).
        package var group: StoredResource?
        package init() {}
        /// Takes what the previous PATCH left (each carry is read at most once).
        package func take() -> StoredResource? {
            defer { group = nil }
            return group
        }
    }
    package typealias Output = (outcome: SCIMOutcome, quirks: QuirkSet)

    private final class Job: Sendable {
        enum Phase: Sendable {
            case waiting
            /// The batch this writer is to run (itself first). Taken out by the writer at once (`leading`): a job
            /// holding an array that holds itself would be a reference cycle, never freed.
            case lead([Job])
            case leading
            case done(Result<Output, any Error>)
        }
        let body: Body
        let phase = ConditionLock<Phase>(.waiting)
        let live: LiveCount
        init(_ body: @escaping Body, live: LiveCount) {
            self.body = body
            self.live = live
            live.value.add(1, ordering: .relaxed)
        }
        deinit { live.value.subtract(1, ordering: .relaxed) }

        func finish(_ result: Result<Output, any Error>) {
            phase.withLock { $0 = .done(result) }
            phase.signal()
        }
    }

    /// Jobs in memory (queued, running, or answered and not yet freed): back to zero once every PATCH returned.
    final class LiveCount: Sendable { let value = Atomic<Int>(0) }
    private let live = LiveCount()
    /// How many PATCHes of this process are held in memory now (0 when none is in flight: nothing leaks).
    package var jobsInMemory: Int { live.value.load(ordering: .relaxed) }

    private struct Key: Hashable, Sendable {
        let tenant: String
        let group: String
    }

    let database: RegionDatabase
    /// The most writers one transaction takes (1: no combining).
    package let maxBatch: Int
    /// Writers queued behind a running leader, per group; a key is present while its group has a leader.
    private let queues = Lock<[Key: [Job]]>([:])
    private let batches: Counter
    private let combined: Counter
    private let fallbacks: Counter
    private let timeouts: Counter

    /// How long a PATCH may wait in the queue before it is answered 503 + Retry-After (it has then not run).
    package let queueTimeout: Duration

    package init(database: RegionDatabase, maxBatch: Int = 64, queueTimeout: Duration = .seconds(5), registry: MetricsRegistry? = nil) {
        self.database = database
        self.maxBatch = max(1, maxBatch)
        self.queueTimeout = queueTimeout
        let registry = registry ?? MetricsRegistry()
        batches = registry.counter("scim_region_group_write_batches_total",
                                    "Transactions that ran two or more concurrent PATCHes of one group together.")
        combined = registry.counter("scim_region_group_writes_combined_total",
                                     "PATCHes of a group that ran in a transaction shared with other PATCHes of it.")
        fallbacks = registry.counter("scim_region_group_write_batch_fallbacks_total",
                                      "Shared transactions rolled back because one PATCH failed; each then ran alone.")
        timeouts = registry.counter("scim_region_group_write_queue_timeouts_total",
                                    "PATCHes of a group answered 503 after waiting in its queue too long (they never ran).")
    }

    /// Shared transactions so far, the PATCHes that ran in them, and those rolled back for one member's failure.
    package var counts: (batches: Int, combined: Int, fallbacks: Int, timeouts: Int) {
        (batches.value(), combined.value(), fallbacks.value(), timeouts.value())
    }

    /// How many writers of `group` wait behind its running leader.
    package func queued(tenant: String, group: String) -> Int {
        queues.withLock { $0[Key(tenant: tenant, group: group)]?.count ?? 0 }
    }

    /// Whether a leader runs PATCHes of `group` now (the next PATCH of it queues behind).
    package func isLeading(tenant: String, group: String) -> Bool {
        queues.withLock { $0[Key(tenant: tenant, group: group)] != nil }
    }

    /// Runs `body` in a write transaction of `tenant`, possibly together with other PATCHes of `group`.
    package func run(tenant: String, group: String, _ body: @escaping Body) throws -> Output {
        let job = Job(body, live: live)
        let key = Key(tenant: tenant, group: group)
        let leads = maxBatch > 1 ? queues.withLock { q -> Bool in
            if q[key] != nil {
                q[key]!.append(job)
                return false
            }
            q[key] = []
            return true
        } : true
        if maxBatch == 1 { return try database.write(tenant: tenant) { try body($0, $1, Carry()) } }
        var batch = [job]
        if !leads {
            // Bounded like a wait for a pooled connection: a PATCH still queued when the time is up leaves the queue
            // and gets a 503 (it never ran); one already handed to a leader waits for its answer.
            let deadline = Timestamp.monotonicNanos() + queueTimeout.nanoseconds
            if job.phase.wait(deadlineNanos: deadline, { phase -> Bool? in
                if case .waiting = phase { return nil }
                return true
            }) == nil {
                let withdrawn = queues.withLock { q -> Bool in
                    guard let index = q[key]?.firstIndex(where: { $0 === job }) else { return false }
                    q[key]!.remove(at: index)
                    return true
                }
                if withdrawn {
                    timeouts.increment()
                    throw SCIMError(status: 503, detail: "too many concurrent changes of this group; retry shortly", retryAfterSeconds: 1)
                }
            }
            let phase = job.phase.wait(deadlineNanos: nil) { phase -> Job.Phase? in
                switch phase {
                case .waiting, .leading: return nil
                case .lead:
                    let taken = phase
                    phase = .leading
                    return taken
                case .done: return phase
                }
            }
            switch phase {
            case .done(let result)?: return try result.get()
            case .lead(let jobs)?: batch = jobs
            case .waiting?, .leading?, nil: preconditionFailure("a writer wakes with a batch or an answer")
            }
        }
        let results = execute(batch, tenant: tenant)
        // Lead on: the next batch starts while this one's answers are handed out.
        let next = queues.withLock { q -> [Job]? in
            let pending = q[key] ?? []
            if pending.isEmpty {
                q[key] = nil
                return nil
            }
            let taken = Array(pending.prefix(maxBatch))
            q[key] = Array(pending.dropFirst(taken.count))
            return taken
        }
        if let next {
            next[0].phase.withLock { $0 = .lead(next) }
            next[0].phase.signal()
        }
        for (other, result) in zip(batch.dropFirst(), results.dropFirst()) { other.finish(result) }
        return try results[0].get()
    }

    /// A job's error inside a shared transaction (the transaction is then rolled back, never committed).
    private struct MemberFailed: Error {}
    /// Errors of the transaction rather than of one PATCH: `write` retries the whole batch for them.
    private static let wholeBatchRetries: Set<PostgresError.Kind> = [.preludeRejected, .deadlock, .serializationFailure]

    private func execute(_ batch: [Job], tenant: String) -> [Result<Output, any Error>] {
        func alone(_ job: Job) -> Result<Output, any Error> {
            Result { try database.write(tenant: tenant) { try job.body($0, $1, Carry()) } }
        }
        if batch.count == 1 { return [alone(batch[0])] }
        do {
            let outputs = try database.write(tenant: tenant) { connection, context in
                let carry = Carry()
                return try batch.map { job in
                    do {
                        return try job.body(connection, context, carry)
                    } catch let error as PostgresError where Self.wholeBatchRetries.contains(error.kind) {
                        throw error  // `write` runs the whole batch again (a deadlock, a prelude that did not hold)
                    } catch {
                        throw MemberFailed()
                    }
                }
            }
            batches.increment()
            combined.increment(by: batch.count)
            return outputs.map { .success($0) }
        } catch is MemberFailed {
            fallbacks.increment()
            return batch.map(alone)
        } catch {
            return batch.map { _ in .failure(error) }
        }
    }
}
