#if canImport(Glibc)
import Glibc
#endif
public import NetIO
public import Postgres
public import RegionLink
import ServerRuntime
import Synchronization
public import Telemetry

/// A background thread that runs `tick` every `interval` until stopped (sleeping on a condition variable, so
/// shutdown does not wait for the interval to end).
final class PeriodicThread: Sendable {
    private let stopped = ConditionLock<Bool>(false)
    private let name: String

    init(name: String) { self.name = name }

    /// Starts the loop; `tick` returns false to end it.
    func start(interval: Duration, _ tick: @escaping @Sendable () -> Bool) {
        let nanos = UInt64(interval.components.seconds) * 1_000_000_000 + UInt64(interval.components.attoseconds / 1_000_000_000)
        _ = ThreadHandle.start(name: name) { [stopped] in
            while true {
                let stop = stopped.wait(deadlineNanos: Timestamp.monotonicNanos() + nanos) { $0 ? true : nil }
                if stop == true { return }
                if !tick() { return }
            }
        }
    }

    func stop() {
        stopped.withLock { $0 = true }
        stopped.broadcast()
    }
}

/// Applies the region migrations at start. When the database is unreachable the process still starts (`/readyz`
/// answers 503, SCIM requests 503) and keeps retrying every two seconds; a refused migration (edited or unknown
/// version) stops the process.
public final class MigrationService: Service {
    public var name: String { "migrations" }
    let pool: PostgresPool
    let readiness: Readiness
    let logger: Logger
    private let retry = PeriodicThread(name: "migrate-retry")
    private let failures = Atomic<Int>(0)

    /// A migration service for `pool`.
    public init(pool: PostgresPool, readiness: Readiness, logger: Logger) {
        self.pool = pool
        self.readiness = readiness
        self.logger = logger
    }

    public func start() throws {
        if try attempt() { return }
        retry.start(interval: .seconds(2)) { [self] in
            ((try? attempt()) ?? false) == false
        }
    }

    /// True when the schema is current; false when the database could not be reached (retry later).
    private func attempt() throws -> Bool {
        let report: MigrationReport
        do throws(PostgresError) {
            report = try Migrator.migrate(pool, migrations: RegionSchema.migrations)
        } catch {
            guard error.isTransient else { throw error }
            // Every two seconds until the database is back: say so now and then, not every time.
            let attempt = failures.add(1, ordering: .relaxed).newValue
            if attempt == 1 || attempt % 30 == 0 {
                let description = error.description
                logger.warning("database unreachable; migrations will be retried every 2 s",
                               [("error", .string(description)), ("attempts", .int(Int64(attempt)))])
            }
            return false
        }
        readiness.markMigrated()
        let version = Int64(report.currentVersion), applied = Int64(report.applied.count)
        logger.notice("database schema ready", [("schema.version", .int(version)), ("migrations.applied", .int(applied))])
        return true
    }

    public func shutdown(gracePeriod: Duration) { retry.stop() }
}

/// Re-reads the keyring file when its modification time or size changes (polled every two seconds), so link keys
/// rotate without a restart. A file that fails to parse is reported and the previous keys stay in force.
public final class KeyringWatcher: Service {
    public var name: String { "keyring-watcher" }
    let path: String
    let verifier: LinkVerifier
    let logger: Logger
    /// Also told about every reloaded keyring (webhook keys).
    let onReload: (@Sendable (Keyring) -> Void)?
    private let thread = PeriodicThread(name: "keyring-watch")

    /// Watches `path` and feeds reloaded keys to `verifier` (and `onReload`).
    public init(path: String, verifier: LinkVerifier, logger: Logger, onReload: (@Sendable (Keyring) -> Void)? = nil) {
        self.path = path
        self.verifier = verifier
        self.logger = logger
        self.onReload = onReload
    }

    /// Reads and parses a keyring file.
    public static func load(_ path: String) throws -> Keyring {
        guard let bytes = readFileBytes(path) else { throw KeyringError("cannot read the keyring file") }
        return try Keyring(text: String(decoding: bytes, as: UTF8.self))
    }

    /// Modification time (ns) and size, or nil when the file cannot be read.
    static func fingerprint(_ path: String) -> [Int]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [info.st_mtim.tv_sec, info.st_mtim.tv_nsec, Int(info.st_size), Int(info.st_ino)]
    }

    public func start() throws {
        let last = Mutex<[Int]?>(Self.fingerprint(path))
        thread.start(interval: .seconds(2)) { [self] in
            let now = Self.fingerprint(path)
            let changed = last.withLock { previous in
                defer { previous = now ?? previous }
                return now != nil && now != previous
            }
            if changed {
                do {
                    let keyring = try Self.load(path)
                    verifier.update(keyring)
                    onReload?(keyring)
                    logger.notice("keyring reloaded", [("keys.link", .int(Int64(keyring.keys(.link).count)))])
                } catch {
                    logger.error("keyring file is invalid; keeping the previous keys", [("error", .string("\(error)"))])
                }
            }
            return true
        }
    }

    public func shutdown(gracePeriod: Duration) { thread.stop() }
}
