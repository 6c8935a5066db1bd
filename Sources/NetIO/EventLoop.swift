#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
import HTTPCore
import Telemetry

/// One client connection. Confined to the reactor thread.
final class Connection {
    let fd: Int32
    let id: UInt64
    let remoteAddress: String
    let tls: TLSSession?
    var parser: RequestParser
    /// Parsed requests waiting for their turn (HTTP/1.1 answers in order, one handler at a time per connection).
    var pending: [HTTPRequest] = []
    var pendingHead = 0
    /// A request that could not be parsed; answered after the requests before it, then the connection closes.
    var pendingError: HTTPParseError? = nil
    var inFlight = false
    var writeBuffer: [UInt8] = []
    var writeOffset = 0
    var closeAfterWrite = false
    var peerClosed = false
    /// TLS needs the socket writable before it can go on reading.
    var readWantsWrite = false
    var lastActivity: UInt64
    var lastWriteProgress: UInt64 = 0
    /// When the first byte of an incomplete request arrived (nil when idle between requests).
    var requestStartedAt: UInt64? = nil
    var interest: UInt32 = 0

    init(fd: Int32, id: UInt64, remoteAddress: String, tls: TLSSession?, limits: HTTPLimits, now: UInt64) {
        self.fd = fd
        self.id = id
        self.remoteAddress = remoteAddress
        self.tls = tls
        self.parser = RequestParser(limits: limits)
        self.lastActivity = now
        if tls != nil { requestStartedAt = now }  // the handshake counts against the request timeout
    }

    var pendingCount: Int { pending.count - pendingHead }
    var writeRemaining: Int { writeBuffer.count - writeOffset }

    func popPending() -> HTTPRequest? {
        guard pendingHead < pending.count else { return nil }
        let request = pending[pendingHead]
        pendingHead += 1
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: false)
            pendingHead = 0
        }
        return request
    }

    var isQuiescent: Bool {
        !inFlight && pendingCount == 0 && writeRemaining == 0 && pendingError == nil && parser.isIdle
    }
}

/// The reactor: owns the epoll set, the listening socket and every connection.
final class EventLoop {
    private let shared: ServerShared
    private let epfd: Int32
    private var listenFD: Int32
    private let tlsContext: TLSServerContext?
    private var connections: [Connection?] = []
    private var connectionCount = 0
    private var nextConnectionID: UInt64 = 1
    private var acceptRegistered = false
    private var draining = false
    private var drainDeadline: UInt64 = 0
    private var now: UInt64 = Timestamp.monotonicNanos()
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var completions: [Completion] = []
    private let limits: HTTPLimits
    private let maxPipelined: Int
    private let idleTimeout: UInt64
    private let requestTimeout: UInt64
    private let writeTimeout: UInt64

    private static let sweepInterval: UInt64 = 250_000_000

    init(shared: ServerShared, epfd: Int32, listenFD: Int32, tls: TLSServerContext?) {
        self.shared = shared
        self.epfd = epfd
        self.listenFD = listenFD
        self.tlsContext = tls
        self.readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
        let c = shared.configuration
        limits = c.limits
        maxPipelined = max(1, c.maxPipelinedRequests)
        idleTimeout = c.idleTimeout.nanoseconds
        requestTimeout = c.requestTimeout.nanoseconds
        writeTimeout = c.writeTimeout.nanoseconds
    }

    deinit {
        readBuffer.deallocate()
    }

    private var logger: Logger { shared.logger }

    // MARK: - Run loop

    func run() {
        registerAccept()
        var wake = epoll_event()
        wake.events = clinuxio_epollin()
        wake.data.fd = shared.inbox.wakeFD
        epoll_ctl(epfd, EPOLL_CTL_ADD, shared.inbox.wakeFD, &wake)

        let maxEvents: Int32 = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Int(maxEvents))
        defer { events.deallocate() }
        var nextSweep = Timestamp.monotonicNanos() + Self.sweepInterval

        while true {
            let n = epoll_wait(epfd, events, maxEvents, 250)
            now = Timestamp.monotonicNanos()
            if n > 0 {
                for i in 0..<Int(n) {
                    let event = events[i]
                    let fd = event.data.fd
                    if fd == listenFD && acceptRegistered {
                        acceptConnections()
                    } else if fd == shared.inbox.wakeFD {
                        shared.inbox.consumeWake()
                    } else if let conn = connection(fd) {
                        handleEvent(conn, event.events)
                    }
                }
            }
            processInbox()
            if now >= nextSweep {
                sweep()
                nextSweep = now + Self.sweepInterval
            }
            if draining && (connectionCount == 0 || now >= drainDeadline) { break }
        }
        for case let conn? in connections { closeConnection(conn) }
        if listenFD >= 0 { close(listenFD) }
        close(epfd)
    }

    private func connection(_ fd: Int32) -> Connection? {
        let index = Int(fd)
        return index < connections.count ? connections[index] : nil
    }

    // MARK: - Accepting

    private func registerAccept() {
        guard !acceptRegistered, listenFD >= 0 else { return }
        var ev = epoll_event()
        ev.events = clinuxio_epollin()
        ev.data.fd = listenFD
        epoll_ctl(epfd, EPOLL_CTL_ADD, listenFD, &ev)
        acceptRegistered = true
    }

    private func unregisterAccept() {
        guard acceptRegistered else { return }
        epoll_ctl(epfd, EPOLL_CTL_DEL, listenFD, nil)
        acceptRegistered = false
    }

    private func acceptConnections() {
        let maxConnections = shared.configuration.maxConnections
        while connectionCount < maxConnections {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { clinuxio_accept_nonblocking(listenFD, $0, &length) }
            }
            if fd < 0 {
                switch errno {
                case EAGAIN, EWOULDBLOCK: return
                case EINTR, ECONNABORTED: continue
                case EMFILE, ENFILE:
                    // Out of descriptors: stop accepting; the sweep retries. Clients wait in the backlog.
                    logger.warning("accept paused: out of file descriptors")
                    unregisterAccept()
                    return
                default:
                    logger.error("accept failed", [("errno", .int(Int64(errno)))])
                    return
                }
            }
            Sockets.setNoDelay(fd)
            var session: TLSSession? = nil
            if let tlsContext {
                guard let s = TLSSession(context: tlsContext, fd: fd) else { close(fd); continue }
                session = s
            }
            let conn = Connection(fd: fd, id: nextConnectionID, remoteAddress: Sockets.describe(storage),
                                  tls: session, limits: limits, now: now)
            nextConnectionID += 1
            let index = Int(fd)
            if index >= connections.count {
                connections.append(contentsOf: repeatElement(nil, count: index - connections.count + 64))
            }
            connections[index] = conn
            connectionCount += 1
            shared.stats.connectionsOpen.add(1, ordering: .relaxed)
            shared.stats.connectionsAccepted.add(1, ordering: .relaxed)
            var ev = epoll_event()
            ev.events = clinuxio_epollin() | clinuxio_epollrdhup()
            ev.data.fd = fd
            conn.interest = ev.events
            epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)
        }
        // At the cap: stop watching the listener until a connection closes (back-pressure, not refusal).
        unregisterAccept()
    }

    // MARK: - Events

    private func handleEvent(_ conn: Connection, _ events: UInt32) {
        if events & (clinuxio_epollerr() | clinuxio_epollhup()) != 0 && events & clinuxio_epollin() == 0 {
            closeConnection(conn)
            return
        }
        if events & clinuxio_epollout() != 0 {
            if conn.readWantsWrite {
                conn.readWantsWrite = false
                readAvailable(conn)
                if connection(conn.fd) !== conn { return }
            }
            flush(conn)
            if connection(conn.fd) !== conn { return }
        }
        if events & (clinuxio_epollin() | clinuxio_epollrdhup() | clinuxio_epollhup()) != 0 {
            readAvailable(conn)
        }
    }

    private enum ReadOutcome { case bytes(Int), wouldBlock, wantWrite, eof, failed }

    private func readOnce(_ conn: Connection) -> ReadOutcome {
        if let tls = conn.tls {
            switch tls.read(into: readBuffer) {
            case .bytes(let n): return .bytes(n)
            case .wantRead: return .wouldBlock
            case .wantWrite: return .wantWrite
            case .closed: return .eof
            case .failed: return .failed
            }
        }
        while true {
            let n = read(conn.fd, readBuffer.baseAddress, readBuffer.count)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .eof }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed
            }
        }
    }

    private func readAvailable(_ conn: Connection) {
        guard !conn.peerClosed, conn.pendingError == nil else { return }
        // Bounded per wake-up so one busy connection cannot starve the others.
        var rounds = 0
        reading: while rounds < 16 && conn.pendingCount < maxPipelined {
            rounds += 1
            switch readOnce(conn) {
            case .bytes(let n):
                if conn.parser.isIdle && conn.requestStartedAt == nil { conn.requestStartedAt = now }
                conn.parser.append(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]))
                conn.lastActivity = now
                parseAvailable(conn)
                if conn.tls == nil && n < readBuffer.count { break reading }
            case .wouldBlock:
                break reading
            case .wantWrite:
                conn.readWantsWrite = true
                break reading
            case .eof:
                conn.peerClosed = true
                break reading
            case .failed:
                closeConnection(conn)
                return
            }
        }
        if conn.peerClosed && (conn.isQuiescent || (!conn.inFlight && conn.pendingCount == 0 && conn.writeRemaining == 0)) {
            // Nothing left to answer (a partial request can never complete now).
            closeConnection(conn)
            return
        }
        dispatchNext(conn)
        if connection(conn.fd) === conn { updateInterest(conn) }
    }

    private func parseAvailable(_ conn: Connection) {
        while conn.pendingCount < maxPipelined && conn.pendingError == nil {
            switch conn.parser.next() {
            case .request(let request):
                conn.pending.append(request)
                conn.requestStartedAt = conn.parser.isIdle ? nil : now
            case .sendContinue:
                // Only when nothing is queued before it: interim responses must not overtake earlier answers.
                if !conn.inFlight && conn.pendingCount == 0 && conn.writeRemaining == 0 {
                    conn.writeBuffer.append(contentsOf: HTTPEncoder.continueResponse)
                    flush(conn)
                    if connection(conn.fd) !== conn { return }
                }
            case .needMoreData:
                return
            case .failed(let error):
                conn.pendingError = error
                shared.stats.requestsRejected.add(1, ordering: .relaxed)
                return
            }
        }
    }

    private func dispatchNext(_ conn: Connection) {
        guard !conn.inFlight, conn.writeRemaining == 0, !conn.closeAfterWrite else { return }
        if let request = conn.popPending() {
            conn.inFlight = true
            let keepAlive = request.keepAlive && !draining
            let fd = conn.fd, id = conn.id
            let context = RequestContext(remoteAddress: conn.remoteAddress, connectionID: id,
                                         isTLS: conn.tls != nil, receivedAtNanos: now)
            let shared = self.shared
            shared.submit {
                let response = shared.responder.respond(to: request, context: context)
                let keep = keepAlive && !shared.draining.load(ordering: .relaxed)
                    && !response.headers.hasToken("close", in: "Connection")
                var bytes: [UInt8] = []
                HTTPEncoder.encode(response, keepAlive: keep, headOnly: request.method == .head,
                                   date: shared.dates.current(), into: &bytes)
                shared.inbox.post(Completion(fd: fd, connectionID: id, bytes: bytes, close: !keep))
            }
        } else if let error = conn.pendingError {
            conn.pendingError = nil
            writeErrorAndClose(conn, error.status, error.message)
        }
    }

    private func writeErrorAndClose(_ conn: Connection, _ status: HTTPStatus, _ message: String) {
        let response = shared.configuration.errorResponse(status, message)
        HTTPEncoder.encode(response, keepAlive: false, date: shared.dates.current(), into: &conn.writeBuffer)
        conn.closeAfterWrite = true
        flush(conn)
    }

    // MARK: - Completions and writing

    private func processInbox() {
        let deadline = shared.inbox.drain(into: &completions)
        for completion in completions {
            guard let conn = connection(completion.fd), conn.id == completion.connectionID else { continue }
            conn.inFlight = false
            shared.stats.requestsServed.add(1, ordering: .relaxed)
            if conn.writeRemaining == 0 && conn.writeOffset > 0 {
                conn.writeBuffer.removeAll(keepingCapacity: true)
                conn.writeOffset = 0
            }
            if conn.writeBuffer.isEmpty {
                conn.writeBuffer = completion.bytes
            } else {
                conn.writeBuffer.append(contentsOf: completion.bytes)
            }
            if completion.close { conn.closeAfterWrite = true }
            flush(conn)
        }
        completions.removeAll(keepingCapacity: true)
        if let deadline, !draining { beginDrain(deadline) }
    }

    private func flush(_ conn: Connection) {
        while conn.writeRemaining > 0 {
            let result: Int
            if let tls = conn.tls {
                let outcome = conn.writeBuffer.withUnsafeBytes { raw in
                    tls.write(UnsafeRawBufferPointer(rebasing: raw[conn.writeOffset...]))
                }
                switch outcome {
                case .bytes(let n): result = n
                case .wantRead, .wantWrite: updateInterest(conn); return
                case .closed, .failed: closeConnection(conn); return
                }
            } else {
                let n = conn.writeBuffer.withUnsafeBytes { raw in
                    send(conn.fd, raw.baseAddress! + conn.writeOffset, raw.count - conn.writeOffset, Int32(MSG_NOSIGNAL))
                }
                if n < 0 {
                    switch errno {
                    case EINTR: continue
                    case EAGAIN, EWOULDBLOCK:
                        updateInterest(conn)
                        return
                    default:
                        closeConnection(conn)
                        return
                    }
                }
                result = n
            }
            conn.writeOffset += result
            conn.lastWriteProgress = now
        }
        // Everything written.
        if conn.writeBuffer.capacity > 256 * 1024 {
            conn.writeBuffer = []
        } else {
            conn.writeBuffer.removeAll(keepingCapacity: true)
        }
        conn.writeOffset = 0
        if conn.closeAfterWrite || (draining && !conn.inFlight && conn.parser.isIdle) {
            closeConnection(conn)
            return
        }
        if conn.peerClosed && !conn.inFlight && conn.pendingCount == 0 && conn.pendingError == nil {
            closeConnection(conn)
            return
        }
        parseAvailable(conn)
        if connection(conn.fd) !== conn { return }
        dispatchNext(conn)
        if connection(conn.fd) === conn { updateInterest(conn) }
    }

    private func updateInterest(_ conn: Connection) {
        var desired: UInt32 = 0
        let wantsRead = !conn.peerClosed && conn.pendingError == nil && conn.pendingCount < maxPipelined
            && !conn.closeAfterWrite
        if wantsRead { desired |= clinuxio_epollin() | clinuxio_epollrdhup() }
        if conn.writeRemaining > 0 || conn.readWantsWrite { desired |= clinuxio_epollout() }
        guard desired != conn.interest else { return }
        var ev = epoll_event()
        ev.events = desired
        ev.data.fd = conn.fd
        epoll_ctl(epfd, EPOLL_CTL_MOD, conn.fd, &ev)
        conn.interest = desired
    }

    private func closeConnection(_ conn: Connection) {
        guard connection(conn.fd) === conn else { return }
        conn.tls?.shutdown()
        epoll_ctl(epfd, EPOLL_CTL_DEL, conn.fd, nil)
        close(conn.fd)
        connections[Int(conn.fd)] = nil
        connectionCount -= 1
        shared.stats.connectionsOpen.subtract(1, ordering: .relaxed)
        if !draining && !acceptRegistered && connectionCount < shared.configuration.maxConnections {
            registerAccept()
        }
    }

    // MARK: - Timers and shutdown

    private func sweep() {
        if !draining && !acceptRegistered && connectionCount < shared.configuration.maxConnections {
            registerAccept()  // retry after EMFILE
        }
        for case let conn? in connections {
            if conn.inFlight { continue }
            if conn.writeRemaining > 0 {
                if now - conn.lastWriteProgress > writeTimeout {
                    shared.stats.timeouts.add(1, ordering: .relaxed)
                    closeConnection(conn)
                }
            } else if let started = conn.requestStartedAt, conn.pendingCount == 0 {
                if now - started > requestTimeout {
                    // A slow or stalled client (slowloris): answer 408 and close.
                    shared.stats.timeouts.add(1, ordering: .relaxed)
                    conn.pendingError = nil
                    writeErrorAndClose(conn, .requestTimeout, "request not received in time")
                }
            } else if conn.pendingCount == 0 && now - conn.lastActivity > idleTimeout {
                closeConnection(conn)
            }
        }
    }

    private func beginDrain(_ deadline: UInt64) {
        draining = true
        drainDeadline = deadline
        shared.draining.store(true, ordering: .relaxed)
        unregisterAccept()
        if listenFD >= 0 {
            close(listenFD)
            listenFD = -1
        }
        for case let conn? in connections {
            // Requests parsed but not started are not started now; the one in flight finishes.
            conn.pending.removeAll()
            conn.pendingHead = 0
            if conn.isQuiescent { closeConnection(conn) }
        }
    }
}
