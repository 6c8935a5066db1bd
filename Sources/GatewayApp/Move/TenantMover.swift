#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Lifecycle
import Locking
import Synchronization
import Telemetry

/// The gateway's mover: a background service that claims unfinished moves from the control plane and runs them
/// (`MoveRunner`), one per worker thread.
///
/// Why here: the gateway already holds the control-plane connection and the region link keys; the regions keep their
/// data paths to themselves (each only answers its part of a move), and no extra process has to be deployed,
/// watched and secured. Moves survive any process: their state is in the control plane, the claim is a lease renewed
/// every few seconds, so when a gateway dies (or is restarted) its moves are taken over by whichever replica claims
/// them next — this one at start, or another one — once the lease has run out (`move-resume` takes over at once).
/// Every claim raises the move's epoch; the regions refuse calls with an older one, so a stalled mover that wakes
/// up again can no longer change anything.
final class TenantMover: Sendable {
    let store: ControlStore
    let directory: RegionDirectory
    let regions: RegionInternalClient
    let settings: MoverSettings
    let logger: Logger
    /// This process in leases and audit rows.
    let owner: String
    private let stopped = Atomic<Bool>(false)
    /// Moves this process runs: epoch, whether the lease was lost, and whether an abort was requested (both seen at
    /// the lease's renewal, so a long step stops within a third of the lease).
    private let running = Lock<[String: (epoch: Int64, lost: Bool, abort: Bool)]>([:])

    init(store: ControlStore, directory: RegionDirectory, regions: RegionInternalClient, settings: MoverSettings, logger: Logger) {
        self.store = store
        self.directory = directory
        self.regions = regions
        self.settings = settings
        self.logger = logger.with("component", "mover")
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "gateway"
        owner = "\(host)-\(getpid())-\(Base62.random(6))"
    }

    /// The workers (each claims and runs one move at a time) and the lease keeper; none when `workers` is 0.
    var services: [any Service] {
        guard settings.workers > 0 else { return [] }
        let work = PeriodicService("tenant-mover", every: .seconds(1), threads: settings.workers, waitOnStop: false,
                                   last: { [self] in stopped.store(true, ordering: .releasing) }) { [self] in
            runOne()
            return !isStopped
        }
        let leases = PeriodicService("tenant-mover-lease", every: .seconds(max(1, Int64(settings.leaseSeconds / 3))), waitOnStop: false) { [self] in
            renewLeases()
            return !isStopped
        }
        return [leases, work]
    }

    var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Claims one move and runs it to its end (or until it must be let go).
    func runOne() {
        guard !isStopped else { return }
        let claimed: TenantMove?
        do {
            claimed = try store.claimMove(owner: owner, leaseSeconds: settings.leaseSeconds)
        } catch {
            logger.warning("could not look for tenant moves", [("error", .string(error.description))])
            return
        }
        guard let move = claimed else { return }
        logger.notice("tenant move claimed", [("move", .string(move.id)), ("tenant.id", .string(move.tenantID)),
                                              ("state", .string(move.state.rawValue)), ("epoch", .int(move.epoch))])
        running.withLock { $0[move.id] = (move.epoch, false, false) }
        let id = move.id
        let runner = MoveRunner(move: move, store: store, directory: directory, regions: regions, settings: settings, logger: logger,
                                actor: "mover:\(owner)") { [self] () throws(MoveFailure) in
            if isStopped { throw .stopping }
            guard let entry = running.withLock({ $0[id] }), !entry.lost else { throw .superseded("the lease on move \(id) was lost") }
            if entry.abort { throw .abortRequested }
        }
        let finished = runner.run()
        running.withLock { _ = $0.removeValue(forKey: id) }
        if !finished {
            // Let another mover (or this one, restarted) take it at once instead of waiting for the lease to run out.
            try? store.releaseMove(id: id, epoch: runner.move.epoch)
        }
    }

    /// Renews the lease of every move this process runs; a move whose lease cannot be renewed is given up.
    func renewLeases() {
        for (id, entry) in running.withLock({ $0 }) where !entry.lost {
            do {
                guard let held = try store.renewMoveLease(id: id, epoch: entry.epoch, owner: owner, leaseSeconds: settings.leaseSeconds) else {
                    running.withLock { $0[id]?.lost = true }
                    logger.warning("tenant move lease lost: another mover holds it now", [("move", .string(id))])
                    continue
                }
                // Honoured only before the cut-over (and while aborting there is nothing left to interrupt).
                if held.abortRequested && held.state.isBeforeCutOver { running.withLock { $0[id]?.abort = true } }
            } catch {
                // The control plane did not answer: the lease may run out; the runner stops at its next checkpoint if
                // so (its next control-plane write fails on the epoch, its region calls on the region's epoch).
                logger.warning("could not renew a tenant move lease", [("move", .string(id)), ("error", .string(error.description))])
            }
        }
    }
}
