import NetIO
public import RegionLink
public import Telemetry
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import Locking
public import Lifecycle

/// Polls the keyring file (every `interval`) and hands a changed keyring to `onChange`, so link keys and peppers
/// rotate without restarting processes.
public final class KeyringWatcher: Service {
    public let file: KeyringFile
    private let interval: Duration
    private let logger: Logger
    private let onChange: @Sendable (Keyring) -> Void
    private let thread = PeriodicThread(name: "keyring-watch")
    public var name: String { "keyring-watcher" }

    public init(file: KeyringFile, interval: Duration = .seconds(2), logger: Logger,
                onChange: @escaping @Sendable (Keyring) -> Void) {
        self.file = file
        self.interval = interval
        self.logger = logger
        self.onChange = onChange
    }

    public func start() throws {
        thread.start(interval: interval) { [self] in
            checkOnce()
            return true
        }
    }

    /// One poll (also used by tests).
    public func checkOnce() {
        do {
            if let ring = try file.reloadIfChanged() {
                logger.notice("keyring reloaded", [("keys", .string(ring.keys.map { "\($0.purpose.rawValue):\($0.id):\($0.state.rawValue)" }.joined(separator: ",")))])
                onChange(ring)
            }
        } catch {
            logger.error("keyring file unreadable; keeping the previous keys", [("error", .string(error.description))])
        }
    }

    public func shutdown(gracePeriod: Duration) { thread.stop(wait: true) }
}
