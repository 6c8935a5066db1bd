#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
public import HTTPCore
public import Telemetry
import Locking

/// Answers requests. Runs on a worker thread and may block (PostgreSQL, an upstream call); must not trap.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse
}

/// What the server knows about a request besides its bytes.
public struct RequestContext: Sendable {
    /// Peer IP address (no port).
    public var remoteAddress: String
    public var connectionID: UInt64
    public var isTLS: Bool
    /// Monotonic nanoseconds at which the request was complete.
    public var receivedAtNanos: UInt64
    public init(remoteAddress: String, connectionID: UInt64, isTLS: Bool, receivedAtNanos: UInt64) {
        self.remoteAddress = remoteAddress
        self.connectionID = connectionID
        self.isTLS = isTLS
        self.receivedAtNanos = receivedAtNanos
    }
}

/// Server settings. Every limit is explicit; see `HTTPLimits` for the request-size ones.
public struct HTTPServerConfiguration: Sendable {
    /// Used in thread names and logs.
    public var name = "http"
    public var host = "127.0.0.1"
    /// 0 picks a free ephemeral port (tests); read the bound port from `HTTPServer.port`.
    public var port = 0
    public var limits = HTTPLimits()
    /// Threads running handlers. Each in-flight request holds one.
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

    public init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.shared = ServerShared(configuration: configuration, responder: responder, logger: logger, stats: stats)
    }

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

extension Duration {
    /// Whole nanoseconds (non-negative durations).
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}

/// Configuration and collaborators every server thread reads.
final class ServerShared: Sendable {
    let configuration: HTTPServerConfiguration
    let responder: any HTTPResponder
    let logger: Logger
    let stats: HTTPServerStats
    let draining = Atomic<Bool>(false)

    init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger, stats: HTTPServerStats) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        self.stats = stats
    }
}
