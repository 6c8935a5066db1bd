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

/// Checks the control plane in the background so `/readyz` answers from memory.
final class ControlPlaneHealth: Service {
    private let pool: PostgresPool
    private let interval: Duration
    private let up = Atomic<Bool>(true)
    private let thread = PeriodicThread(name: "control-health")
    var name: String { "control-health" }

    init(pool: PostgresPool, interval: Duration) {
        self.pool = pool
        self.interval = interval
    }

    var isUp: Bool { up.load(ordering: .relaxed) }

    func probe() {
        let ok = (try? pool.withConnection(timeout: .seconds(2)) { try $0.query("SELECT 1") }) != nil
        up.store(ok, ordering: .relaxed)
    }

    func start() throws {
        probe()
        thread.start(interval: interval) { [self] in
            probe()
            return true
        }
    }

    func shutdown(gracePeriod: Duration) { thread.stop(wait: true) }
}
