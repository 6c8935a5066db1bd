#if canImport(Glibc)
import Glibc
#endif
import Flags
import Lifecycle
import Locking
import NetIO
import ServerRuntime
import Telemetry

/// Keeps every region's replica set equal to what the configuration says, without a restart: the region files
/// (`backendURL`, `backendURLs`), the `--region-backends` override (flag, or a file that is re-read), and what
/// `dns+` names resolve to now. Checked every `interval` and at once on SIGHUP. A change swaps the region's set in
/// one step; new replicas are probed before they get traffic; a replica that left gets no new requests, finishes
/// the ones it has (or is cut off at the upstream timeout), then its connections close. An unreadable or invalid
/// file changes nothing (the error is logged once). Adding or removing a whole region, or changing a region's
/// public URL or hosts, still needs a restart: that is logged, and ignored.
final class RegionsWatcher: Sendable {
    private let directory: RegionDirectory
    private let health: RegionHealth
    private let regionsDirectory: String
    private let flagOverrides: [String: [RegionBackend]]
    private let overridesFile: String?
    private let interval: Duration
    private let retireAfter: Duration
    private let logger: Logger
    private let state = Lock<State>(State())

    private struct State {
        var lastProblem: String? = nil
        var lastRestartNotice: String? = nil
        /// Replicas that left their set, with the time after which they are closed whatever is in flight.
        var retiring: [(replica: RegionReplica, deadline: UInt64)] = []
        var checks = 0
    }

    init(directory: RegionDirectory, health: RegionHealth, regionsDirectory: String, flagOverrides: [String: [RegionBackend]],
         overridesFile: String?, interval: Duration, retireAfter: Duration, logger: Logger) {
        self.directory = directory
        self.health = health
        self.regionsDirectory = regionsDirectory
        self.flagOverrides = flagOverrides
        self.overridesFile = overridesFile
        self.interval = interval
        self.retireAfter = retireAfter
        self.logger = logger
    }

    /// The overrides in force: the file's when one is configured (re-read every check), else the flag's.
    static func readOverrides(file: String?, flag: [String: [RegionBackend]]) throws(UsageErrorText) -> [String: [RegionBackend]] {
        guard let file else { return flag }
        guard let bytes = readFileBytes(file) else { throw UsageErrorText("cannot read --region-backends-file \(file)") }
        return try RegionBackendOverrides.parse(String(decoding: bytes, as: UTF8.self), source: file)
    }

    /// Reads the configuration and applies it to every region; returns how many replicas were added and removed.
    @discardableResult
    func check(reason: String) -> (added: Int, removed: Int) {
        let regions: [RegionConfiguration]
        let overrides: [String: [RegionBackend]]
        do {
            regions = try RegionConfiguration.loadAll(directory: regionsDirectory)
            overrides = try Self.readOverrides(file: overridesFile, flag: flagOverrides)
        } catch {
            problem("\(error)")
            return (0, 0)
        }
        if let unknown = overrides.keys.first(where: { directory.routes[$0] == nil }) {
            problem("region backends override names unknown region '\(unknown)'")
            return (0, 0)
        }
        state.withLock { $0.lastProblem = nil }
        restartNotice(for: regions)
        var added = 0, removed = 0
        for id in directory.ids {
            guard let region = regions.first(where: { $0.id == id }) else { continue }
            let change = directory.update(region: id, to: overrides[id] ?? region.backends, prepare: { health.probe($0) })
            for replica in change.added { health.startProbing(replica) }
            retire(change.removed)
            for name in change.unresolved {
                logger.warning("region backend name does not resolve; keeping its replicas", [("region", .string(id)),
                                                                                              ("backend", .string(name.description))])
            }
            if !change.added.isEmpty || !change.removed.isEmpty {
                logger.notice("region replica set changed", [
                    ("region", .string(id)), ("reason", .string(reason)),
                    ("added", .string(change.added.map(\.name).joined(separator: ","))),
                    ("removed", .string(change.removed.map(\.name).joined(separator: ","))),
                    ("replicas", .string(directory.routes[id]!.replicas.members.map(\.name).joined(separator: ",")))])
            }
            added += change.added.count
            removed += change.removed.count
        }
        state.withLock { $0.checks += 1 }
        return (added, removed)
    }

    /// How many checks have completed (tests wait on it).
    var completedChecks: Int { state.withLock { $0.checks } }

    /// Replicas that left and are not closed yet.
    var retiringCount: Int { state.withLock { $0.retiring.count } }

    private func retire(_ replicas: [RegionReplica]) {
        guard !replicas.isEmpty else { return }
        for replica in replicas { health.stopProbing(replica) }
        let deadline = Timestamp.monotonicNanos() + retireAfter.nanoseconds
        state.withLock { s in for replica in replicas { s.retiring.append((replica, deadline)) } }
        closeRetired()
    }

    /// Closes the retired replicas whose requests have all finished (or whose time is up).
    func closeRetired() {
        let now = Timestamp.monotonicNanos()
        let done = state.withLock { s -> [RegionReplica] in
            var done: [RegionReplica] = []
            s.retiring.removeAll { entry in
                let finished = entry.replica.pool.load == 0 || now >= entry.deadline
                if finished { done.append(entry.replica) }
                return finished
            }
            return done
        }
        for replica in done {
            directory.close(replica)
            logger.info("retired replica closed", [("region", .string(replica.region)), ("replica", .string(replica.name))])
        }
    }

    private func problem(_ message: String) {
        let fresh = state.withLock { s -> Bool in
            defer { s.lastProblem = message }
            return s.lastProblem != message
        }
        if fresh { logger.error("regions configuration not applied; keeping the current replica sets", [("error", .string(message))]) }
    }

    private func restartNotice(for regions: [RegionConfiguration]) {
        var notes: [String] = []
        for region in regions where directory.routes[region.id] == nil { notes.append("new region \(region.id)") }
        for id in directory.ids {
            guard let region = regions.first(where: { $0.id == id }) else { notes.append("region \(id) removed"); continue }
            let running = directory.routes[id]!.configuration
            if region.publicBaseURL != running.publicBaseURL || region.publicHosts != running.publicHosts
                || region.displayName != running.displayName {
                notes.append("region \(id) public URL, hosts or name changed")
            }
        }
        let text = notes.joined(separator: "; ")
        let fresh = state.withLock { s -> Bool in
            defer { s.lastRestartNotice = text }
            return s.lastRestartNotice != text
        }
        if fresh && !text.isEmpty {
            logger.warning("regions configuration changed in a way that needs a gateway restart; not applied", [("changes", .string(text))])
        }
    }

    /// The watching thread: SIGHUP (when `reloadSignal`) or every `interval`; retired replicas are closed as soon as
    /// they are idle (checked every 250 ms).
    func service(reloadSignal: Bool) -> any Service { WatchingService(watcher: self, reloadSignal: reloadSignal) }

    private final class WatchingService: Service {
        let watcher: RegionsWatcher
        let reloadSignal: Bool
        private let stopped = ConditionLock<Bool>(false)
        private let thread = Lock<ThreadHandle?>(nil)
        var name: String { "regions-watcher" }

        init(watcher: RegionsWatcher, reloadSignal: Bool) {
            self.watcher = watcher
            self.reloadSignal = reloadSignal
        }

        func start() throws {
            let handle = ThreadHandle.start(name: "regions-watch") { [self] in run() }
            thread.withLock { $0 = handle }
        }

        private func run() {
            let tick = Duration.milliseconds(250)
            var nextCheck = Timestamp.monotonicNanos() + watcher.interval.nanoseconds
            while !stopped.withLock({ $0 }) {
                let hangup: Bool
                if reloadSignal {
                    hangup = ReloadSignal.wait(upTo: tick)
                } else {
                    _ = stopped.wait(deadlineNanos: Timestamp.monotonicNanos() + tick.nanoseconds) { $0 ? true : nil }
                    hangup = false
                }
                if stopped.withLock({ $0 }) { return }
                let now = Timestamp.monotonicNanos()
                if hangup || now >= nextCheck {
                    watcher.check(reason: hangup ? "SIGHUP" : "periodic check")
                    nextCheck = Timestamp.monotonicNanos() + watcher.interval.nanoseconds
                }
                watcher.closeRetired()
            }
        }

        func shutdown(gracePeriod: Duration) {
            stopped.withLock { $0 = true }
            stopped.broadcast()
            thread.withLock { h -> ThreadHandle? in defer { h = nil }; return h }?.join()
        }
    }
}
