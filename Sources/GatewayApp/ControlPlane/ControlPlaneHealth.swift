#if canImport(Glibc)
import Glibc
#endif
import Crypto
import HTTPCore
import JSON
import NetIO
import Postgres
import RegionLink
import SCIMCore
import ServerRuntime
import Synchronization
import Telemetry
import Lifecycle

/// Whether the control plane answered at the last probe; probed in the background (`service`) so `/readyz`
/// answers from memory.
final class ControlPlaneHealth: Sendable {
    private let pool: PostgresPool
    private let up = Atomic<Bool>(true)

    init(pool: PostgresPool) { self.pool = pool }

    var isUp: Bool { up.load(ordering: .relaxed) }

    func probe() {
        let ok = (try? pool.withConnection(timeout: .seconds(2)) { try $0.query("SELECT 1") }) != nil
        up.store(ok, ordering: .relaxed)
    }

    /// Probes at start and every `interval`.
    func service(every interval: Duration) -> PeriodicService {
        PeriodicService("control-health", every: interval, first: { [self] in probe(); return false }) { [self] in
            probe()
            return true
        }
    }
}
