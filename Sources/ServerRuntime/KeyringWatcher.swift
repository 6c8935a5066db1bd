import NetIO
public import RegionLink
public import Telemetry
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import Locking
public import Lifecycle

/// Polls the keyring file (`service`, every 2 s by default) and hands a changed keyring to `onChange`, so link keys
/// and peppers rotate without restarting processes.
public final class KeyringWatcher: Sendable {
    public let file: KeyringFile
    private let logger: Logger
    private let onChange: @Sendable (Keyring) -> Void

    public init(file: KeyringFile, logger: Logger, onChange: @escaping @Sendable (Keyring) -> Void) {
        self.file = file
        self.logger = logger
        self.onChange = onChange
    }

    /// The polling job.
    public func service(every interval: Duration = .seconds(2)) -> PeriodicService {
        PeriodicService("keyring-watcher", every: interval) { [self] in
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
}
