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
