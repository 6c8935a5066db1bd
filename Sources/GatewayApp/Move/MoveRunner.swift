#if canImport(Glibc)
import Glibc
#endif
import JSON
import Lifecycle
import Locking
import Telemetry

/// Runs one claimed move until it is finished, taken over, or the process stops: each state's step, then the
/// transition to the next (`MoveState`). Every step can run again from its start after a crash anywhere in it —
/// the regions' calls are idempotent and fenced by the epoch — so resuming is simply running the current state's
/// step again. Errors: transient ones are retried with back-off; permanent ones undo the move if it is still before
/// its cut-over (after it, the only way is forward, so they are retried and shown in `lastError`).
final class MoveRunner {
    let store: ControlStore
    let directory: RegionDirectory
    let regions: RegionInternalClient
    let settings: MoverSettings
    let logger: Logger
    /// The audit actor of the mover's own steps.
    let actor: String
    /// Throws when this runner must stop (shutdown, the lease lost, an abort requested).
    let checkpoint: @Sendable () throws(MoveFailure) -> Void
    private(set) var move: TenantMove
    /// When this process froze the source (the pause's start), if it did.
    private var frozeAt: UInt64?
    private var copyStartedAt: UInt64?
    /// What this runner's previous round leaves the next one to build on (nil: the next round compares everything).
    private var baseline: Baseline?
    /// Tables whose row counts differed under a freeze that was given up: the next round compares them whole.
    private var compareWhole: Set<String> = []

    /// After a round: the source's horizon read before it (every change committed after the round read a table
    /// has a transaction id at or above it), each table's bucket count, and the buckets the round copied (compared
    /// again by the next round, which so checks every copy). With it, a catch-up round compares only the buckets
    /// the source changed since, plus those: it finds them with a scan of transaction ids instead of hashing every
    /// row of both sides. A deleted row leaves nothing to find; under the freeze, when the source cannot change,
    /// equal row counts per table show that no deletion was missed (a table whose counts differ is compared whole).
    struct Baseline {
        var horizon: String
        var buckets: [String: Int]
        var copied: [String: [Int]]
    }

    /// Which buckets a round compares.
    enum RoundScope {
        /// Every bucket of every table (or of the tables named).
        case whole(Set<String>?)
        /// The buckets changed since the baseline and those it copied; `whole` tables entirely.
        case changedSince(Baseline, whole: Set<String>)
        /// The given buckets of the given tables (the final rounds under the freeze, after the first).
        case narrowed([String: (buckets: Int, only: [Int])])
    }

    init(move: TenantMove, store: ControlStore, directory: RegionDirectory, regions: RegionInternalClient, settings: MoverSettings,
         logger: Logger, actor: String, checkpoint: @escaping @Sendable () throws(MoveFailure) -> Void) {
        self.move = move
        self.store = store
        self.directory = directory
        self.regions = regions
        self.settings = settings
        self.logger = logger.with("tenant.id", .string(move.tenantID)).with("move", .string(move.id))
        self.actor = actor
        self.checkpoint = checkpoint
    }

    /// Runs until the move is terminal (true), or until this runner must let it go (false).
    func run() -> Bool {
        var failures = 0
        /// Waits before the next attempt: 1 s, doubling to 30 s; every second while the tenant's writes are paused
        /// (the freeze's deadline must be seen, and the freeze given up, in time).
        func retryLater(pausing: Bool = false) {
            failures += 1
            sleepChecked(millis: Self.retry.nominalDelayMillis(afterAttempt: pausing ? 1 : failures))
        }
        while true {
            do {
                guard let current = try store.reloadMove(move) else {
                    logger.notice("tenant move taken over by another mover; stopping")
                    return false
                }
                move = current
                if move.state.isTerminal { return true }
                if move.abortRequested && move.state.isBeforeCutOver {
                    move = try store.transitionMove(move, to: .aborting, actor: actor, detail: ["reason": "requested by the operator"])
                    logger.notice("tenant move aborting (requested)")
                    continue
                }
                try check()
                try step()
                failures = 0
            } catch let failure as MoveFailure {
                switch failure {
                case .stopping, .superseded:
                    logger.notice("tenant move released: \(failure.description)")
                    return false
                case .abortRequested:
                    continue
                case .pauseExceeded:
                    continue
                case .transient(let message):
                    logger.warning("tenant move step failed; retrying", [("state", .string(move.state.rawValue)), ("error", .string(message))])
                    try? store.recordMoveError(move, message)
                    // A round cut short may have cleared buckets in the target without copying them back, and rows
                    // deleted in the source since leave nothing a catch-up scan finds: compare everything next.
                    baseline = nil
                    retryLater(pausing: move.state.pausesWrites)
                case .permanent(let message):
                    logger.error("tenant move cannot go on", [("state", .string(move.state.rawValue)), ("error", .string(message))])
                    if move.state.isBeforeCutOver {
                        if let next = try? store.transitionMove(move, to: .aborting, actor: actor, progress: ["failure": .string(message)],
                                                                detail: ["reason": .string(message)], error: message) {
                            move = next
                        }
                    } else {
                        try? store.recordMoveError(move, message)
                        retryLater()
                    }
                }
            } catch let error as ControlPlaneError {
                if case .conflict(let message) = error {
                    logger.notice("tenant move changed under this mover; re-reading", [("detail", .string(message))])
                    continue
                }
                logger.warning("control plane unavailable during a tenant move; retrying", [("error", .string(error.description))])
                retryLater()
            } catch {
                logger.error("unexpected error in a tenant move; retrying", [("error", .string(String(describing: type(of: error))))])
                retryLater()
            }
        }
    }

    /// The checkpoint, except that an abort request no longer interrupts anything once the move is past its
    /// cut-over or already being undone (the request stays recorded; only the steps before the cut-over honour it).
    private func check() throws(MoveFailure) {
        do {
            try checkpoint()
        } catch {
            if case .abortRequested = error, !move.state.isBeforeCutOver { return }
            throw error
        }
    }

    /// Sleeps up to `seconds`, waking early when the runner must stop.
    /// Between attempts: 1 s doubling to 30 s.
    static let retry = RetrySchedule(baseMillis: 1000, capMillis: 30_000)

    private func sleepChecked(millis: Int64) {
        for _ in 0..<max(1, millis / 100) {
            if (try? check()) == nil { return }
            usleep(100_000)
        }
    }

    // MARK: Steps

    private func step() throws {
        switch move.state {
        case .preparing: try prepare()
        case .copying: try copyUntilConverged()
        case .frozen: try finishUnderFreeze()
        case .activating: try activateAndCutOver()
        case .cutOver: try markSourceMoved()
        case .purging: try purgeSource()
        case .aborting: try undo()
        case .done, .aborted, .failed: return
        }
    }

    private func clients() throws(MoveFailure) -> (source: RegionMoveClient, target: RegionMoveClient) {
        guard let s = directory.routes[move.sourceRegion], let t = directory.routes[move.targetRegion] else {
            throw .permanent("region \(directory.routes[move.sourceRegion] == nil ? move.sourceRegion : move.targetRegion) is not configured on this gateway")
        }
        let requestID = "move-" + move.id.prefix(8) + "-" + String(move.epoch)
        return (RegionMoveClient(regions: regions, route: s, tenant: move.tenantID, moveID: move.id, epoch: move.epoch, requestID: requestID),
                RegionMoveClient(regions: regions, route: t, tenant: move.tenantID, moveID: move.id, epoch: move.epoch, requestID: requestID))
    }

    /// Both regions run the same schema and let the copy switch triggers off; the target's transaction ids run
    /// ahead of the source's; then the fences: `copying` in the source, `incoming` in the target.
    private func prepare() throws {
        let (source, target) = try clients()
        let theirs = try source.schema(), ours = try target.schema()
        for (side, schema) in [(source.region, theirs), (target.region, ours)] {
            if let problems = schema["problems"]?.array, !problems.isEmpty {
                throw MoveFailure.permanent("region \(side) has tenant tables a move cannot copy: \(problems.compactMap(\.string).joined(separator: "; "))")
            }
            guard schema["replicationRole"]?.bool == true else {
                throw MoveFailure.permanent("region \(side)'s database role may not set session_replication_role; run GRANT SET ON PARAMETER session_replication_role TO <role> (docs/residency.md)")
            }
        }
        guard let a = theirs["fingerprint"]?.string, a == ours["fingerprint"]?.string else {
            throw MoveFailure.permanent("regions \(source.region) and \(target.region) run different schemas (migration \(theirs["schemaVersion"]?.int ?? 0) and \(ours["schemaVersion"]?.int ?? 0)): upgrade both first")
        }
        try source.putFence("copying", peer: target.region)
        try target.putFence("incoming", peer: source.region)
        let sourceXID = UInt64(theirs["xid"]?.string ?? "") ?? 0
        try raiseTargetTransactionIDs(target, above: sourceXID + 100_000)
        var progress: JSONObject = ["schema": .string(a), "tables": .number(JSONNumber(theirs["tables"]?.array?.count ?? 0))]
        progress.set("sourceDatabase", theirs["database"] ?? .null)
        progress.set("targetDatabase", ours["database"] ?? .null)
        move = try store.transitionMove(move, to: .copying, actor: actor, progress: progress,
                                        detail: ["tables": .number(JSONNumber(theirs["tables"]?.array?.count ?? 0))])
        logger.notice("tenant move prepared: fences set, copying")
    }

    /// The copy's rows keep the source's transaction-id positions (events, request log); the target must already
    /// be past them, or its own new rows would sort before copied ones.
    private func raiseTargetTransactionIDs(_ target: RegionMoveClient, above: UInt64) throws(MoveFailure) {
        var spent = 0
        while true {
            try check()
            let (_, reached) = try target.raiseTransactionIDs(above: String(above), maxBurn: settings.transactionIDsPerCall)
            if reached { return }
            spent += settings.transactionIDsPerCall
            if spent >= settings.maxTransactionIDs {
                throw .permanent("region \(target.region)'s transaction ids are far behind the source's (more than \(settings.maxTransactionIDs)); advance its cluster's xid epoch first (docs/residency.md)")
            }
        }
    }

    /// One round of digests, differences and copies over the tables and buckets of `scope`, two tables at a time.
    /// Checks that both regions still describe the tables the same way (a region restarted on a newer build mid-move
    /// stops the move). Returns the outcomes and the baseline the next round can build on.
    private func round(_ source: RegionMoveClient, _ target: RegionMoveClient, _ scope: RoundScope,
                       checkpoint: (@Sendable () throws(MoveFailure) -> Void)? = nil) throws -> (outcomes: [TableSync.Outcome], next: Baseline) {
        let theirs = try source.schema(), ours = try target.schema()
        guard let fingerprint = theirs["fingerprint"]?.string, fingerprint == ours["fingerprint"]?.string,
              fingerprint == move.progress["schema"]?.string else {
            throw MoveFailure.permanent("a region's schema changed during the move; start it again once both run the same build")
        }
        let horizon = theirs["horizon"]?.string ?? "0"
        let tables = (theirs["tables"]?.array ?? []).compactMap { $0["name"]?.string }
        /// One table's work: its buckets, its size (for ordering), the buckets to compare (nil: all), and the horizon
        /// whose changes are to be added to them.
        struct Work: Sendable { var table: String; var buckets: Int; var rows: Int; var only: [Int]?; var since: String? }
        var work: [Work] = []
        switch scope {
        case .narrowed(let narrowed):
            for table in tables { if let n = narrowed[table] { work.append(Work(table: table, buckets: n.buckets, rows: n.only.count, only: n.only)) } }
        case .whole(let named):
            let counts = try source.residue().tables
            for table in tables where named?.contains(table) ?? true {
                let rows = counts[table] ?? 0
                work.append(Work(table: table, buckets: TableSync.bucketCount(rows: rows), rows: rows))
            }
        case .changedSince(let baseline, let whole):
            var counts: [String: Int]? = nil
            for table in tables {
                if let buckets = baseline.buckets[table], !whole.contains(table) {
                    let copied = baseline.copied[table] ?? []
                    work.append(Work(table: table, buckets: buckets, rows: copied.count, only: copied, since: baseline.horizon))
                } else {
                    // A table the baseline does not know (or one to compare whole): all of it.
                    if counts == nil { counts = try source.residue().tables }
                    let rows = counts?[table] ?? 0
                    work.append(Work(table: table, buckets: baseline.buckets[table] ?? TableSync.bucketCount(rows: rows), rows: rows))
                }
            }
        }
        // Biggest first, so the two threads finish together.
        let items = work
        let queue = Lock<[Int]>(items.indices.sorted { items[$0].rows > items[$1].rows })
        let results = Lock<[Int: Result<TableSync.Outcome, MoveFailure>]>([:])
        let checkpoint = checkpoint ?? self.checkpoint
        let threads = (0..<min(2, work.count)).map { _ in
            ThreadHandle.start(name: "move-round") {
                while let i = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                    let w = items[i]
                    let sync = TableSync(source: source, target: target, table: w.table, checkpoint: checkpoint)
                    let r = Result { () throws(MoveFailure) -> TableSync.Outcome in
                        var only = w.only
                        if let since = w.since {
                            let changed = try source.changed(table: w.table, buckets: w.buckets, since: since)
                            only = Array(Set(changed.buckets).union(w.only ?? [])).sorted()
                        }
                        // Nothing changed and nothing to check again: the table is as the previous round left it.
                        if let o = only, o.isEmpty { return TableSync.Outcome.unchanged(w.table, buckets: w.buckets) }
                        // Most of the table: cheaper in ranges than as a list.
                        if let o = only, o.count * 2 > w.buckets { only = nil }
                        return try sync.run(buckets: w.buckets, rows: w.rows, only: only)
                    }
                    results.withLock { $0[i] = r }
                    if case .failure = r { queue.withLock { $0.removeAll() } }
                }
            }
        }
        for t in threads { t.join() }
        // A table that failed stopped the others: its failure (an abort, a takeover, a region error) is the round's.
        let finished = results.withLock { $0 }
        for i in work.indices { if case .failure(let failure)? = finished[i] { throw failure } }
        var outcomes: [TableSync.Outcome] = []
        for i in work.indices {
            guard let r = finished[i] else { throw MoveFailure.transient("a table's round did not finish") }
            outcomes.append(try r.get())
        }
        var next = Baseline(horizon: horizon, buckets: [:], copied: [:])
        for o in outcomes {
            next.buckets[o.table] = o.buckets
            next.copied[o.table] = o.differingBuckets
        }
        return (outcomes, next)
    }

    private static func summary(_ outcomes: [TableSync.Outcome], round: Int, millis: Int64) -> JSONValue {
        ["round": .number(JSONNumber(round)), "millis": .number(JSONNumber(millis)),
         "rowsCopied": .number(JSONNumber(outcomes.reduce(0) { $0 + $1.copiedRows })),
         "differingBuckets": .number(JSONNumber(outcomes.reduce(0) { $0 + $1.differing })),
         "sourceRows": .number(JSONNumber(outcomes.reduce(0) { $0 + $1.sourceRows }))]
    }

    /// Catch-up rounds while traffic goes on, until a round has little left to copy; then the freeze.
    private func copyUntilConverged() throws {
        let (source, target) = try clients()
        if copyStartedAt == nil { copyStartedAt = Timestamp.monotonicNanos() }
        // Claim both fences with this mover's epoch (a takeover fences off the previous mover here), and make the
        // source writable again if a crash came between a freeze and its record.
        try source.putFence("copying", peer: target.region)
        try target.putFence("incoming", peer: source.region)
        var rounds = move.progress["rounds"]?.int ?? 0
        var copied = move.progress["rowsCopied"]?.int ?? 0
        var roundsHere = 0
        while true {
            try check()
            let started = Timestamp.monotonicNanos()
            let scope: RoundScope = baseline.map { .changedSince($0, whole: compareWhole) } ?? .whole(nil)
            let (outcomes, next) = try round(source, target, scope)
            baseline = next
            compareWhole = []
            let millis = Int64((Timestamp.monotonicNanos() - started) / 1_000_000)
            let rowsThisRound = outcomes.reduce(0) { $0 + $1.copiedRows }
            rounds += 1
            roundsHere += 1
            copied += rowsThisRound
            try store.recordMoveProgress(move, ["rounds": .number(JSONNumber(rounds)), "rowsCopied": .number(JSONNumber(copied)),
                                                "lastRound": Self.summary(outcomes, round: rounds, millis: millis)])
            logger.info("tenant move round", [("round", .int(Int64(rounds))), ("rows", .int(Int64(rowsThisRound))), ("ms", .int(millis)),
                                              ("buckets", .int(Int64(outcomes.reduce(0) { $0 + $1.compared })))])
            // The first round here copies what accumulated before it. A later one that was quick, or copied little,
            // means the final round under the freeze will be about as quick: its digests, plus what changed during
            // this round.
            let quick = millis <= Int64(settings.maxPause.components.seconds * 1000) / 2
            if (roundsHere >= 2 && (quick || rowsThisRound <= settings.convergedRows)) || rounds >= settings.maxRounds { break }
        }
        // The freeze: the source refuses the tenant's writes from here, after those in flight have ended.
        let freezeStarted = Timestamp.monotonicNanos()
        try source.putFence("frozen", peer: target.region)
        frozeAt = freezeStarted
        let copyMillis = Int64((freezeStarted - (copyStartedAt ?? freezeStarted)) / 1_000_000)
        move = try store.transitionMove(move, to: .frozen, actor: actor, progress: ["copyMillis": .number(JSONNumber(copyMillis))],
                                        detail: ["rounds": .number(JSONNumber(rounds)), "rowsCopied": .number(JSONNumber(copied))])
        logger.notice("tenant move: source frozen", [("copy_ms", .int(copyMillis))])
    }

    /// Final rounds under the freeze. The first compares what the source changed since the last catch-up round
    /// began, and what that round copied (everything, after a takeover: this runner has no baseline then); each later
    /// one only the buckets the previous one still found different (the source is frozen and only this mover writes
    /// the target, so nothing else can differ any more). When a round finds no difference, the row counts of every
    /// table are compared on both sides: a row deleted since the baseline leaves nothing a scan can find, but it
    /// leaves the target with one row more; such a table is compared whole. Equal counts after a round without
    /// differences are the verification: every bucket that changed since it was last compared has been compared
    /// again by content digest, and both sides hold the same number of rows per table. If the rounds take longer
    /// than the pause allowed, the freeze is given up (writes resume) and catch-up goes on.
    private func finishUnderFreeze() throws {
        // A mover that took a frozen move over did not see the freeze start: the pause allowed counts from the
        // recorded freeze (the control plane's clock), not from the takeover, so a crash does not buy a second pause.
        if frozeAt == nil, let elapsed = try store.moveFrozenMillis(move) {
            let now = Timestamp.monotonicNanos()
            frozeAt = now - min(now, UInt64(max(0, elapsed)) * 1_000_000)
        }
        let budgetStart = frozeAt ?? Timestamp.monotonicNanos()
        frozeAt = budgetStart
        let budget = UInt64(settings.maxPause.components.seconds) * 1_000_000_000 + UInt64(settings.maxPause.components.attoseconds / 1_000_000_000)
        // The rounds stop at the pause's deadline (less a second for the cut-over), at the latest one region call
        // after it.
        let deadline = budgetStart + budget - min(budget / 4, 1_000_000_000)
        do {
            try finalRounds(budgetStart: budgetStart, deadline: deadline)
        } catch let failure as MoveFailure {
            // A region that does not answer under the freeze (the target crashed, the source restarted) must not
            // keep the tenant's writes paused past the deadline: the freeze is given up as soon as the source takes
            // the fence back, and the move goes on copying (retrying) until the region is back.
            guard case .transient(let message) = failure, Timestamp.monotonicNanos() > deadline else { throw failure }
            let (source, target) = try clients()
            try source.putFence("copying", peer: target.region)
            frozeAt = nil
            // The round the failure cut short may have cleared buckets in the target: compare everything next.
            baseline = nil
            try? store.recordMoveError(move, message)
            logger.warning("tenant move: a region failed under the freeze past the pause allowed; writes resumed, retrying",
                           [("error", .string(message))])
            move = try store.transitionMove(move, to: .copying, actor: actor,
                                            detail: ["reason": .string("a region failed under the freeze: \(message)")])
        }
    }

    private func finalRounds(budgetStart: UInt64, deadline: UInt64) throws {
        let (source, target) = try clients()
        // Re-fence with this mover's epoch: idempotent, and after a takeover the previous mover is fenced off.
        try source.putFence("frozen", peer: target.region)
        try target.putFence("incoming", peer: source.region)
        let outer = checkpoint
        let timed: @Sendable () throws(MoveFailure) -> Void = { () throws(MoveFailure) in
            try outer()
            if Timestamp.monotonicNanos() > deadline { throw MoveFailure.pauseExceeded }
        }
        var scope: RoundScope = baseline.map { .changedSince($0, whole: compareWhole) } ?? .whole(nil)
        var compared: [String: Int] = [:]
        var bucketsOf: [String: Int] = [:]
        var counts: (source: [String: Int], target: [String: Int]) = ([:], [:])
        var finalRounds = 0
        while true {
            var outcomes: [TableSync.Outcome] = []
            var exceeded = false
            switch Result(catching: { () throws -> [TableSync.Outcome] in
                try timed()
                return try round(source, target, scope, checkpoint: timed).outcomes
            }) {
            case .success(let o):
                outcomes = o
            case .failure(let error):
                guard let failure = error as? MoveFailure, case .pauseExceeded = failure else { throw error }
                exceeded = true
            }
            finalRounds += 1
            for o in outcomes {
                compared[o.table, default: 0] += o.compared
                bucketsOf[o.table] = o.buckets
            }
            let differing = outcomes.filter { $0.differing > 0 }
            var whole: Set<String> = []
            if case .whole(let named) = scope, exceeded { whole = named ?? [] }
            if !exceeded && differing.isEmpty {
                counts = (try source.residue().tables, try target.residue().tables)
                let differ = Set(bucketsOf.keys.filter { counts.source[$0] != counts.target[$0] })
                if differ.isEmpty { break }
                logger.info("tenant move: row counts differ under the freeze; comparing those tables whole",
                            [("tables", .string(differ.sorted().joined(separator: ",")))])
                scope = .whole(differ)
                whole = differ
            } else {
                scope = .narrowed(Dictionary(uniqueKeysWithValues: differing.map { ($0.table, (buckets: $0.buckets, only: $0.differingBuckets)) }))
            }
            if exceeded || Timestamp.monotonicNanos() > deadline {
                let attempts = (move.progress["freezeAttempts"]?.int ?? 0) + 1
                try source.putFence("copying", peer: target.region)
                frozeAt = nil
                // The next catch-up round compares these tables whole (it may find what the freeze could not).
                compareWhole = whole
                // A round stopped at the deadline may have cleared buckets in the target without copying them back.
                // If the changed row that put such a bucket in scope is deleted before the next round, no scan finds
                // the bucket again, and the rows it lacks could be hidden in the row counts by as many rows deleted
                // elsewhere in the table: the next round compares everything.
                if exceeded { baseline = nil }
                logger.warning("tenant move: final catch-up exceeded the pause allowed; writes resumed, catching up again",
                               [("attempt", .int(Int64(attempts)))])
                move = try store.transitionMove(move, to: .copying, actor: actor, progress: ["freezeAttempts": .number(JSONNumber(attempts))],
                                                detail: ["reason": "the final catch-up did not fit the pause allowed"])
                if attempts >= settings.maxFreezeAttempts {
                    throw MoveFailure.permanent("the tenant changes faster than \(attempts) freezes of \(settings.maxPause) could catch up; try again when it is quieter, or allow a longer pause (--move-max-pause)")
                }
                return
            }
        }
        // The source's transaction ids cannot grow for this tenant any more: the target's must be past them.
        let sourceXID = UInt64(try source.schema()["xid"]?.string ?? "") ?? 0
        try raiseTargetTransactionIDs(target, above: sourceXID)
        // Per table: rows on both sides (equal) and how many buckets were compared by content under this freeze.
        var tables = JSONObject()
        for name in bucketsOf.keys.sorted() {
            tables.set(name, ["rows": .number(JSONNumber(counts.source[name] ?? 0)), "targetRows": .number(JSONNumber(counts.target[name] ?? 0)),
                              "buckets": .number(JSONNumber(bucketsOf[name] ?? 0)), "bucketsCompared": .number(JSONNumber(compared[name] ?? 0))])
        }
        let catchUp = Int64((Timestamp.monotonicNanos() - budgetStart) / 1_000_000)
        move = try store.transitionMove(move, to: .activating, actor: actor,
                                        progress: ["verified": .object(tables), "finalRounds": .number(JSONNumber(finalRounds)),
                                                   "catchUpMillis": .number(JSONNumber(catchUp))],
                                        detail: ["verified": .object(tables)])
        logger.notice("tenant move verified under freeze", [("final_rounds", .int(Int64(finalRounds))), ("catch_up_ms", .int(catchUp))])
    }

    /// The target takes the tenant (its sequences past the copied values, writes allowed), then the control plane
    /// switches the home region in one transaction and every gateway replica re-reads the tenant.
    private func activateAndCutOver() throws {
        let (_, target) = try clients()
        try target.putFence("active", peer: move.sourceRegion)
        var progress = JSONObject()
        if let frozeAt { progress.set("pauseMillis", .number(JSONNumber(Int64((Timestamp.monotonicNanos() - frozeAt) / 1_000_000)))) }
        move = try store.cutOverMove(move, actor: actor, progress: progress, detail: progress)
        frozeAt = nil
        logger.notice("tenant move cut over: the home region is now \(move.targetRegion)",
                      [("pause_ms", .int(Int64(move.progress["pauseMillis"]?.int ?? -1)))])
    }

    /// After the cut-over the source refuses the tenant's writes for good (a gateway replica that has not heard of
    /// the switch yet gets 503 + Retry-After, never a write that would be lost).
    private func markSourceMoved() throws {
        let (source, _) = try clients()
        try source.putFence("moved", peer: move.targetRegion)
        move = try store.transitionMove(move, to: .purging, actor: actor)
    }

    /// Deletes everything of the tenant in the source, in bounded batches, and checks that nothing is left.
    private func purgeSource() throws {
        let (source, target) = try clients()
        var deleted = move.progress["sourceRowsPurged"]?.int ?? 0
        while true {
            try check()
            let (n, done) = try source.purge(limit: settings.purgeBatch)
            deleted += n
            if done { break }
        }
        let residue = try source.residue()
        guard residue.total == 0 else {
            throw MoveFailure.transient("region \(source.region) still holds \(residue.total) rows of the tenant after the purge")
        }
        try target.removeFence()
        move = try store.transitionMove(move, to: .done, actor: actor,
                                        progress: ["sourceRowsPurged": .number(JSONNumber(deleted)), "sourceResidue": 0],
                                        detail: ["sourceRowsPurged": .number(JSONNumber(deleted)), "sourceResidue": 0])
        logger.notice("tenant move done: region \(source.region) holds nothing of the tenant")
    }

    /// Undoes a move before its cut-over: the source's writes resume, whatever this move put in the target goes.
    private func undo() throws {
        let (source, target) = try clients()
        let removed = Result { () throws(MoveFailure) in try source.removeFence() }
        if case .failure(let failure) = removed {
            guard case .permanent(let message) = failure else { throw failure }
            // The fence there is not this move's (it never got that far): nothing of ours to undo in the source.
            logger.warning("tenant move abort: source fence not removed", [("detail", .string(message))])
        }
        let fence = try target.schema()["fence"]
        if fence?["moveId"]?.string == move.id {
            if fence?["state"]?.string == "active" { try target.putFence("incoming", peer: move.sourceRegion) }
            while true {
                try check()
                if try target.purge(limit: settings.purgeBatch).done { break }
            }
        }
        let failure = move.progress["failure"]?.string
        move = try store.transitionMove(move, to: failure == nil ? .aborted : .failed, actor: actor,
                                        detail: failure.map { ["error": .string($0)] } ?? [:])
        logger.notice(failure == nil ? "tenant move aborted: the source is intact" : "tenant move failed and undone: the source is intact")
    }
}
