#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
public import HTTPCore
public import Telemetry
import Locking
public import Lifecycle

/// An HTTP/1.1 server on epoll: a bounded set of worker threads, each of which takes one ready connection at a
/// time (EPOLLONESHOT), reads and parses it, runs the handler (which may block) and writes the answer.
/// See `ServerCore` for why.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    public let stats = HTTPServerStats()
    private let shared: ServerShared
    private let runtime = Lock<Runtime>(Runtime())

    private struct Runtime: Sendable {
        var core: ServerCore? = nil
        var port = 0
        var stopped = false
    }

    /// A server whose handler answers on the worker thread (it may block).
    public init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.shared = ServerShared(configuration: configuration, handler: .immediate(responder), logger: logger, stats: stats)
    }

    /// A server whose handler may answer later from another thread (see `DeferredHTTPResponder`).
    public init(configuration: HTTPServerConfiguration, deferred responder: any DeferredHTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.shared = ServerShared(configuration: configuration, handler: .deferred(responder), logger: logger, stats: stats)
    }

    /// Requests whose deferred answer is still outstanding (their connections are parked).
    public var parkedRequests: Int { runtime.withLock { $0.core }?.parkedCount ?? 0 }

    /// The bound port (after `start`).
    public var port: Int { runtime.withLock { $0.port } }

    /// Binds, listens and starts the worker and housekeeping threads; `port` then holds the bound port.
    public func start() throws {
        let tlsContext: TLSServerContext? = try configuration.tls.map { try TLSServerContext($0) }
        let listenFD = try Sockets.listen(host: configuration.host, port: configuration.port)
        let port = Sockets.localPort(listenFD)
        let epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epfd >= 0 else { close(listenFD); throw IOError("epoll_create1", errno: errno) }
        let core = ServerCore(shared: shared, listenFD: listenFD, epfd: epfd, tls: tlsContext)
        core.start()
        runtime.withLock {
            $0.core = core
            $0.port = port
        }
        shared.logger.info("listening", [("server", .string(configuration.name)), ("host", .string(configuration.host)),
                                         ("port", .int(Int64(port))), ("tls", .bool(configuration.tls != nil))])
    }

    /// Stops accepting, lets in-flight requests finish (answered with `Connection: close`), closes idle
    /// connections, and returns once everything is closed or `gracePeriod` has passed.
    public func shutdown(gracePeriod: Duration = .seconds(10)) {
        let core: ServerCore? = runtime.withLock { rt in
            if rt.stopped { return nil }
            rt.stopped = true
            return rt.core
        }
        guard let core else { return }
        core.shutdown(deadlineNanos: Timestamp.monotonicNanos() + gracePeriod.nanoseconds)
        shared.logger.info("stopped", [("server", .string(configuration.name))])
    }
}

extension HTTPServer: Service {
    public var name: String { configuration.name }
}
