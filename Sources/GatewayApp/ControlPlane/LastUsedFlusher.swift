#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Flags
import HTTPCore
import JSON
import NetIO
import Postgres
import RegionLink
import SCIMCore
import ServerRuntime
import Synchronization
import Telemetry
import Locking
import Lifecycle

/// Writes batched last-use times every few seconds and once more at shutdown.
final class LastUsedFlusher: Service {
    private let authenticator: TokenAuthenticator
    private let thread = PeriodicThread(name: "last-used")
    var name: String { "last-used-flusher" }

    init(authenticator: TokenAuthenticator) { self.authenticator = authenticator }

    func start() throws {
        thread.start(interval: .seconds(5)) { [authenticator] in
            authenticator.flushLastUsed()
            return true
        }
    }

    func shutdown(gracePeriod: Duration) {
        thread.stop(wait: true)
        authenticator.flushLastUsed()
    }
}
