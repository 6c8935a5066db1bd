#if canImport(Glibc)
import Glibc
#endif
import Flags
import HTTPCore
import JSON
import NetIO
import Postgres
import SCIMCore
import ServerRuntime
import Synchronization
import Telemetry
import Lifecycle

/// Runs the region connections' threads; stopped after the public listener has drained (services stop in reverse).
final class UpstreamLoopService: Service {
    let loop: UpstreamLoop
    var name: String { "upstream-loop" }
    init(loop: UpstreamLoop) { self.loop = loop }
    func start() throws { loop.start() }
    func shutdown(gracePeriod: Duration) { loop.shutdown() }
}
