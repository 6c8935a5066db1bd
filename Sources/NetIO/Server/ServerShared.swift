#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
public import HTTPCore
public import Telemetry
public import Lifecycle

/// Configuration and collaborators every server thread reads.
final class ServerShared: Sendable {
    /// The application's handler, in one of its two shapes.
    enum Handler: Sendable {
        case immediate(any HTTPResponder)
        case deferred(any DeferredHTTPResponder)
    }

    let configuration: HTTPServerConfiguration
    let handler: Handler
    let logger: Logger
    let stats: HTTPServerStats
    let draining = Atomic<Bool>(false)

    init(configuration: HTTPServerConfiguration, handler: Handler, logger: Logger, stats: HTTPServerStats) {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        self.stats = stats
    }
}
