#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
public import HTTPCore
public import Telemetry
import Locking
public import Lifecycle

/// Server settings. Every limit is explicit; see `HTTPLimits` for the request-size ones.
public struct HTTPServerConfiguration: Sendable {
    /// Used in thread names and logs.
    public var name = "http"
    public var host = "127.0.0.1"
    /// 0 picks a free ephemeral port (tests); read the bound port from `HTTPServer.port`.
    public var port = 0
    public var limits = HTTPLimits()
    /// Threads running handlers. A synchronous responder's request holds one until it is answered; a deferred
    /// responder's request holds one only while its handler runs.
    public var workerThreads = 16
    /// Connections beyond this wait in the kernel's accept queue (back-pressure), they are not refused.
    public var maxConnections = 4096
    /// Parsed-but-unanswered requests per connection before the server stops reading from it.
    public var maxPipelinedRequests = 64
    /// A keep-alive connection with no request in progress is closed after this.
    public var idleTimeout: Duration = .seconds(60)
    /// A request must arrive completely (headers and body) within this time of its first byte, else 408.
    public var requestTimeout: Duration = .seconds(15)
    /// A response that makes no write progress for this long closes the connection.
    public var writeTimeout: Duration = .seconds(30)
    /// When set, the listener speaks HTTPS.
    public var tls: TLSConfiguration? = nil
    /// An upstream loop whose connections this server's workers drive (nested epoll set): upstream answers are read
    /// by the same threads as client requests. The loop then needs no threads of its own (`UpstreamLoop(threads: 0)`).
    public var drives: UpstreamLoop? = nil
    /// Renders the answer to a request the server could not read (400, 408, 413, 431, 501, 505).
    public var errorResponse: @Sendable (HTTPStatus, String) -> HTTPResponse = { status, message in
        HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: message + "\n")
    }

    public init() {}
}

/// Counters a server keeps about itself (for /metrics and tests).
public final class HTTPServerStats: Sendable {
    let connectionsOpen = Atomic<Int>(0)
    let connectionsAccepted = Atomic<Int>(0)
    let requestsServed = Atomic<Int>(0)
    let requestsRejected = Atomic<Int>(0)
    let timeouts = Atomic<Int>(0)
    init() {}

    /// A consistent-enough copy of the counters.
    public struct Snapshot: Sendable, Equatable {
        public var connectionsOpen: Int
        public var connectionsAccepted: Int
        /// Requests answered by a handler.
        public var requestsServed: Int
        /// Requests refused by the parser (400, 413, 431, 501, 505...).
        public var requestsRejected: Int
        /// Connections closed by the request or write timeout.
        public var timeouts: Int
    }

    public var snapshot: Snapshot {
        Snapshot(connectionsOpen: connectionsOpen.load(ordering: .relaxed),
                 connectionsAccepted: connectionsAccepted.load(ordering: .relaxed),
                 requestsServed: requestsServed.load(ordering: .relaxed),
                 requestsRejected: requestsRejected.load(ordering: .relaxed),
                 timeouts: timeouts.load(ordering: .relaxed))
    }
}

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

extension HTTPServer: Service {
    public var name: String { configuration.name }
}
