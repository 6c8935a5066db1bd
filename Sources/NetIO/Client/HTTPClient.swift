#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import CLinuxIO
public import HTTPCore
import Telemetry
import Locking

/// A blocking HTTP/1.1 client for one upstream with a pool of keep-alive connections. Safe to call from many
/// worker threads at once; each call uses its own connection. With `configuration.tls` it speaks HTTPS, verifying
/// the server's certificate chain and host name (see `TLSClientConfiguration`).
public final class HTTPClient: Sendable {
    public let host: String
    public let port: Int
    public let configuration: HTTPClientConfiguration
    private let idle = Lock<[IdleConnection]>([])
    private let opened = Atomic<Int>(0)
    /// The TLS context (built once), or why it could not be built; nil for plain HTTP.
    private let tlsContext: Result<TLSClientContext, TLSError>?

    /// A socket, and its TLS session when the client speaks HTTPS.
    private struct Connection: Sendable {
        var fd: Int32
        var tls: TLSClientConnection?
    }

    private struct IdleConnection: Sendable {
        var connection: Connection
        var lastUsed: UInt64
    }

    public init(host: String, port: Int, configuration: HTTPClientConfiguration = HTTPClientConfiguration()) {
        self.host = host
        self.port = port
        self.configuration = configuration
        tlsContext = configuration.tls.map { tls in Result { () throws(TLSError) in try TLSClientContext(tls) } }
    }

    deinit {
        for entry in idle.withLock({ $0 }) { Self.discard(entry.connection) }
    }

    private static func discard(_ connection: Connection) {
        connection.tls?.shutdown()
        Glibc.close(connection.fd)
    }

    private var upstream: String { "\(host):\(port)" }

    /// Connections opened so far (for tests and metrics: reuse keeps this low).
    public var connectionsOpened: Int { opened.load(ordering: .relaxed) }

    /// Sends `request` and waits for the whole response.
    public func send(_ request: HTTPRequest, timeout: Duration? = nil) throws(HTTPClientError) -> HTTPResponse {
        let deadline = Timestamp.monotonicNanos() + (timeout ?? configuration.requestTimeout).nanoseconds
        var bytes: [UInt8] = []
        HTTPEncoder.encode(request, host: upstream, into: &bytes)
        var retried = false
        while true {
            // An idempotent request on a pooled connection the server has closed is retried below, so only the
            // others pay for a liveness probe (a poll) before they are sent.
            let (connection, reused) = try checkout(deadline: deadline, probe: !request.method.isIdempotent)
            let outcome = connection.tls.map { exchangeTLS(fd: connection.fd, tls: $0, bytes: bytes, isHead: request.method == .head, deadline: deadline) }
                ?? exchange(fd: connection.fd, bytes: bytes, isHead: request.method == .head, deadline: deadline)
            switch outcome {
            case .response(let response, let keepAlive):
                if keepAlive { checkin(connection) } else { Self.discard(connection) }
                return response
            case .failed(let error, let nothingReceived, let writeFailed):
                Self.discard(connection)
                // A pooled connection the server had already closed: retry once on a fresh one when that
                // cannot duplicate a write (idempotent method, or the request never left).
                if reused && !retried && nothingReceived && error.kind == .connectionClosed
                    && (request.method.isIdempotent || writeFailed) {
                    retried = true
                    continue
                }
                throw error
            }
        }
    }

    private enum Exchange {
        case response(HTTPResponse, keepAlive: Bool)
        case failed(HTTPClientError, nothingReceived: Bool, writeFailed: Bool)
    }

    private func exchange(fd: Int32, bytes: [UInt8], isHead: Bool, deadline: UInt64) -> Exchange {
        // Write everything: straight away (a request fits the socket buffer), waiting only when the buffer is full.
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    guard waitFor(fd: fd, events: Int16(POLLOUT), deadline: deadline) else {
                        return .failed(HTTPClientError(kind: .timeout, upstream: upstream, detail: "sending request"),
                                       nothingReceived: true, writeFailed: false)
                    }
                    continue
                }
                return .failed(HTTPClientError(kind: .connectionClosed, upstream: upstream, detail: "write failed"),
                               nothingReceived: true, writeFailed: offset == 0)
            }
            offset += n
        }
        // Read one response. The socket's receive timeout is the client's request timeout (set at connect): while
        // the deadline is (nearly) that far away, a blocking recv waits for the answer in one system call instead of
        // poll + recv; otherwise poll enforces the nearer deadline. A recv that timed out (EAGAIN) just comes back.
        return readResponse(isHead: isHead, idle: { true }) { buffer -> ReadStep in
            let now = Timestamp.monotonicNanos()
            let blocking = deadline > now && deadline - now + Self.receiveTimeoutSlackNanos >= configuration.requestTimeout.nanoseconds
            if !blocking && !waitFor(fd: fd, events: Int16(POLLIN), deadline: deadline) { return .timedOut }
            let n = recv(fd, buffer.baseAddress, buffer.count, blocking ? 0 : Int32(MSG_DONTWAIT))
            if n > 0 { return .bytes(n) }
            if n == 0 { return .end }
            return errno == EINTR || errno == EAGAIN ? .bytes(0) : .failed
        }
    }

    /// The HTTPS variant of `exchange`: the same request and parser, through SSL_write/SSL_read on a non-blocking
    /// socket (TLS may need to read while writing and the reverse, so each step says what it waits for).
    private func exchangeTLS(fd: Int32, tls: TLSClientConnection, bytes: [UInt8], isHead: Bool, deadline: UInt64) -> Exchange {
        var offset = 0
        while offset < bytes.count {
            let outcome = bytes.withUnsafeBytes { raw in tls.write(UnsafeRawBufferPointer(rebasing: raw[offset...])) }
            switch outcome {
            case .bytes(let n):
                offset += n
            case .wantRead, .wantWrite:
                guard waitFor(fd: fd, events: Int16(outcome.isWantRead ? POLLIN : POLLOUT), deadline: deadline) else {
                    return .failed(HTTPClientError(kind: .timeout, upstream: upstream, detail: "sending request"),
                                   nothingReceived: true, writeFailed: false)
                }
            case .closed, .failed:
                return .failed(HTTPClientError(kind: .connectionClosed, upstream: upstream, detail: "write failed"),
                               nothingReceived: true, writeFailed: offset == 0)
            }
        }
        return readResponse(isHead: isHead, idle: { !tls.pending }) { buffer -> ReadStep in
            let outcome = tls.read(into: buffer)
            switch outcome {
            case .bytes(let n):
                return .bytes(n)
            case .wantRead, .wantWrite:
                return waitFor(fd: fd, events: Int16(outcome.isWantRead ? POLLIN : POLLOUT), deadline: deadline) ? .bytes(0) : .timedOut
            case .closed, .failed:
                // A server may end a response by closing (no Content-Length), with or without close_notify.
                return .end
            }
        }
    }

    /// What one read step of `readResponse` brought.
    private enum ReadStep {
        /// Bytes received (0: nothing yet, try again).
        case bytes(Int)
        /// The peer closed the stream.
        case end
        /// The connection broke.
        case failed
        /// The deadline passed while waiting.
        case timedOut
    }

    /// Reads and parses one response, plain or TLS alike: `read` fills the buffer one step at a time; `idle` says
    /// whether nothing is left buffered below the parser (then the connection may be reused).
    private func readResponse(isHead: Bool, idle: () -> Bool, read: (UnsafeMutableRawBufferPointer) -> ReadStep) -> Exchange {
        var parser = ResponseParser(maxBodyBytes: configuration.maxResponseBytes)
        parser.expectingHeadResponse = isHead
        // Uninitialised: the read fills it (zeroing 16 KiB per request showed up in profiles).
        var buffer = [UInt8](unsafeUninitializedCapacity: 16 * 1024) { _, count in count = 16 * 1024 }
        var received = 0
        while true {
            switch parser.next() {
            case .response(let response, let keepAlive):
                return .response(response, keepAlive: keepAlive && parser.bufferedByteCount == 0 && idle())
            case .failed(let e):
                return .failed(HTTPClientError(kind: .protocolError, upstream: upstream, detail: e.message),
                               nothingReceived: false, writeFailed: false)
            case .needMoreData:
                break
            }
            switch buffer.withUnsafeMutableBytes({ read($0) }) {
            case .bytes(let n):
                if n > 0 {
                    received += n
                    buffer.withUnsafeBytes { parser.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                }
            case .end:
                if case .response(let response, _) = parser.endOfStream() {
                    return .response(response, keepAlive: false)
                }
                return .failed(HTTPClientError(kind: .connectionClosed, upstream: upstream, detail: "end of stream"),
                               nothingReceived: received == 0, writeFailed: false)
            case .failed:
                return .failed(HTTPClientError(kind: .connectionClosed, upstream: upstream, detail: "read failed"),
                               nothingReceived: received == 0, writeFailed: false)
            case .timedOut:
                return .failed(HTTPClientError(kind: .timeout, upstream: upstream, detail: "waiting for the response"),
                               nothingReceived: received == 0, writeFailed: false)
            }
        }
    }

    /// Makes a fresh socket non-blocking and runs the TLS handshake, verifying the certificate and host name.
    private func handshake(fd: Int32, context: TLSClientContext, deadline: UInt64) throws(TLSError) -> TLSClientConnection {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        let name = configuration.tls?.serverName ?? host
        guard let tls = context.session(fd: fd, name: name) else { throw TLSError(message: "cannot start a session for \(name)") }
        while true {
            let outcome = tls.handshake()
            switch outcome {
            case .bytes:
                return tls
            case .wantRead, .wantWrite:
                guard waitFor(fd: fd, events: Int16(outcome.isWantRead ? POLLIN : POLLOUT), deadline: deadline) else {
                    throw TLSError(message: "handshake timed out")
                }
            case .closed, .failed:
                throw TLSError(message: "handshake failed" + (tls.verificationFailure.map { ": certificate not accepted (\($0))" } ?? ""))
            }
        }
    }

    /// Polls until `events` or the deadline; false on timeout.
    private func waitFor(fd: Int32, events: Int16, deadline: UInt64) -> Bool {
        while true {
            let now = Timestamp.monotonicNanos()
            if now >= deadline { return false }
            let millis = Int32(min((deadline - now + 999_999) / 1_000_000, UInt64(Int32.max)))
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&pfd, 1, millis)
            if rc > 0 { return true }
            if rc == 0 { continue }
            if errno != EINTR { return true }  // let the read/write report the error
        }
    }

    /// How far a blocking recv may overshoot the request's deadline (see `exchange`).
    static let receiveTimeoutSlackNanos: UInt64 = 10_000_000

    private func checkout(deadline: UInt64, probe: Bool) throws(HTTPClientError) -> (Connection, reused: Bool) {
        let now = Timestamp.monotonicNanos()
        let maxIdle = configuration.idleTimeout.nanoseconds
        while let candidate = idle.withLock({ $0.popLast() }) {
            // Another thread may have checked this one in after `now` was read: it is fresh (and `now - lastUsed`
            // would trap).
            let age = now > candidate.lastUsed ? now - candidate.lastUsed : 0
            if age > maxIdle || (probe && !isStillOpen(candidate.connection.fd)) {
                Self.discard(candidate.connection)
                continue
            }
            return (candidate.connection, true)
        }
        var context: TLSClientContext? = nil
        if let tlsContext {
            switch tlsContext {
            case .success(let c): context = c
            case .failure(let error): throw HTTPClientError(kind: .tlsFailed, upstream: upstream, detail: error.message)
            }
        }
        let remaining = deadline > now ? deadline - now : 0
        let connectMillis = Int32(min(configuration.connectTimeout.nanoseconds, remaining) / 1_000_000)
        let fd: Int32
        do {
            fd = try Sockets.connect(host: host, port: port, timeoutMillis: max(1, connectMillis))
            opened.add(1, ordering: .relaxed)
        } catch {
            throw HTTPClientError(kind: .connectFailed, upstream: upstream, detail: error.description)
        }
        guard let context else {
            Sockets.setReceiveTimeout(fd, configuration.requestTimeout)
            return (Connection(fd: fd, tls: nil), false)
        }
        do {
            return (Connection(fd: fd, tls: try handshake(fd: fd, context: context, deadline: deadline)), false)
        } catch {
            Glibc.close(fd)
            throw HTTPClientError(kind: .tlsFailed, upstream: upstream, detail: error.message)
        }
    }

    /// An idle connection that is readable has either been closed by the server or sent junk: don't reuse it.
    private func isStillOpen(_ fd: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) == 0
    }

    private func checkin(_ connection: Connection) {
        let entry = IdleConnection(connection: connection, lastUsed: Timestamp.monotonicNanos())
        let kept = idle.withLock { list -> Bool in
            guard list.count < configuration.maxIdleConnections else { return false }
            list.append(entry)
            return true
        }
        if !kept { Self.discard(connection) }
    }
}

extension TLSClientConnection.Outcome {
    var isWantRead: Bool { if case .wantRead = self { return true } else { return false } }
}
