#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
import HTTPCore
import Telemetry
import Locking
import Lifecycle

/// The shared core of a running server: epoll set, listener, connection table, workers and housekeeping.
final class ServerCore: Sendable {
    static let listenerKey: UInt64 = .max
    static let wakeKey: UInt64 = .max - 1
    /// An attached upstream loop's epoll set (nested in ours): its connections' readiness reaches the same workers.
    static let upstreamKey: UInt64 = .max - 2

    let shared: ServerShared
    let epfd: Int32
    let wakeFD: Int32
    let tlsContext: TLSServerContext?
    private let listener = Lock<ListenerState>(ListenerState())
    private let table = ConnectionTable<Connection>()
    private let lifecycle = Lock<Lifecycle>(Lifecycle())
    let stopped = Atomic<Bool>(false)
    private let readBufferSize = 64 * 1024
    private let parked = Atomic<Int>(0)

    /// Connections waiting for a deferred answer.
    var parkedCount: Int { parked.load(ordering: .relaxed) }

    struct ListenerState {
        var fd: Int32 = -1
        var armed = false
        var paused = false
    }

    struct Lifecycle {
        var draining = false
        var drainDeadline: UInt64 = 0
        var threads: [ThreadHandle] = []
    }

    init(shared: ServerShared, listenFD: Int32, epfd: Int32, tls: TLSServerContext?) {
        self.shared = shared
        self.epfd = epfd
        self.tlsContext = tls
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        listener.withLock { $0.fd = listenFD }
    }

    private var configuration: HTTPServerConfiguration { shared.configuration }
    private var logger: Logger { shared.logger }
    private var isDraining: Bool { shared.draining.load(ordering: .relaxed) }

    func start() {
        if let upstream = shared.configuration.drives {
            // The upstream loop's epoll fd is readable while any of its connections is ready: one shared event loop
            // for client and upstream connections, so whichever worker is free takes the next ready thing (a worker
            // that just sent a request often finds an answer ready instead of sleeping). ONESHOT: one worker drains
            // it, then re-arms it.
            var ev = epoll_event()
            ev.events = clinuxio_epollin() | clinuxio_epolloneshot()
            ev.data.u64 = Self.upstreamKey
            epoll_ctl(epfd, EPOLL_CTL_ADD, upstream.epfd, &ev)
        }
        var wake = epoll_event()
        wake.events = clinuxio_epollin()
        wake.data.u64 = Self.wakeKey
        epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &wake)
        listener.withLock { l in
            var ev = epoll_event()
            ev.events = clinuxio_epollin() | clinuxio_epolloneshot()
            ev.data.u64 = Self.listenerKey
            epoll_ctl(epfd, EPOLL_CTL_ADD, l.fd, &ev)
            l.armed = true
        }
        var threads: [ThreadHandle] = []
        for i in 0..<max(1, configuration.workerThreads) {
            threads.append(ThreadHandle.start(name: "\(configuration.name)-w\(i)") { [self] in workerLoop() })
        }
        threads.append(ThreadHandle.start(name: "\(configuration.name)-hk") { [self] in housekeepingLoop() })
        lifecycle.withLock { $0.threads = threads }
    }

    /// Drains and stops; returns when all threads have ended or shortly after the deadline.
    func shutdown(deadlineNanos: UInt64) {
        lifecycle.withLock {
            $0.draining = true
            $0.drainDeadline = deadlineNanos
        }
        shared.draining.store(true, ordering: .relaxed)
        let threads = lifecycle.withLock { $0.threads }
        // The housekeeper ends after the drain; then wake every worker so it sees `stopped`.
        threads.last?.join()
        stopped.store(true, ordering: .relaxed)
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)  // level-triggered and never read: wakes every waiting worker
        let hardDeadline = deadlineNanos + 1_000_000_000
        for thread in threads.dropLast() {
            // A worker stuck in a handler past the deadline is left behind rather than hanging shutdown.
            if Timestamp.monotonicNanos() > hardDeadline { break }
            thread.join()
        }
        close(wakeFD)
        close(epfd)
    }

    // MARK: - Workers

    private func workerLoop() {
        let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readBufferSize, alignment: 16)
        defer { readBuffer.deallocate() }
        var date = DateHeader()
        // A handler that may block takes one event at a time: a connection taken is a connection no other worker can
        // serve meanwhile. A deferred handler never blocks, so a worker takes what is ready in one call (fewer
        // epoll_wait calls under load, the same fairness: each event is one unit of non-blocking work).
        let batch: Int32
        if case .deferred = shared.handler { batch = 16 } else { batch = 1 }
        var events = [epoll_event](repeating: epoll_event(), count: Int(batch))
        while !stopped.load(ordering: .relaxed) {
            let n = epoll_wait(epfd, &events, batch, 500)
            if n <= 0 { continue }
            for i in 0..<Int(n) {
                let key = events[i].data.u64
                if key == Self.wakeKey { continue }
                if key == Self.listenerKey {
                    acceptConnections()
                    continue
                }
                if key == Self.upstreamKey, let upstream = shared.configuration.drives {
                    upstream.drainReady(buffer: readBuffer)
                    var ev = epoll_event()
                    ev.events = clinuxio_epollin() | clinuxio_epolloneshot()
                    ev.data.u64 = Self.upstreamKey
                    epoll_ctl(epfd, EPOLL_CTL_MOD, upstream.epfd, &ev)
                    continue
                }
                guard let conn = table.lookup(key) else { continue }
                let claimed = conn.claim.withLock { c -> Bool in
                    if c.closed { return false }
                    if c.owned { c.eventMissed = true; return false }
                    c.owned = true
                    return true
                }
                guard claimed else { continue }
                serve(conn, events: events[i].events, readBuffer: readBuffer, date: &date)
            }
        }
    }

    /// Everything a worker does for a connection it owns, until it must wait for the socket again.
    private func serve(_ conn: Connection, events: UInt32, readBuffer: UnsafeMutableRawBufferPointer,
                       date: inout DateHeader) {
        let now = Timestamp.monotonicNanos()
        if events & (clinuxio_epollerr() | clinuxio_epollhup()) != 0 && events & clinuxio_epollin() == 0 {
            closeOwned(conn)
            return
        }
        if conn.writeRemaining > 0 {
            guard flush(conn, now: now) else { return }
            if conn.writeRemaining > 0 { release(conn); return }
        }
        if !conn.peerClosed && !conn.closeAfterWrite {
            guard readAvailable(conn, readBuffer: readBuffer, now: now) else { return }
        }
        process(conn, date: &date)
    }

    /// Runs every complete request in the parser, writing answers as it goes; then re-arms or closes.
    private func process(_ conn: Connection, date: inout DateHeader) {
        parsing: while !conn.closeAfterWrite {
            switch conn.parser.next() {
            case .request(let request):
                conn.requestStartedAt = conn.parser.isIdle ? nil : Timestamp.monotonicNanos()
                if case .deferred = shared.handler, conn.writeRemaining > 0 {
                    // Earlier pipelined answers go out before the connection may park.
                    guard flush(conn, now: Timestamp.monotonicNanos()) else { return }
                }
                // Parked: whoever answers continues this connection.
                guard handle(request, on: conn, date: &date) else { return }
                // Pipelined answers are batched into one write unless a lot is queued.
                if conn.writeRemaining >= 64 * 1024 {
                    guard flush(conn, now: Timestamp.monotonicNanos()) else { return }
                    if conn.writeRemaining > 0 { release(conn); return }
                }
            case .sendContinue:
                conn.writeBuffer.append(contentsOf: HTTPEncoder.continueResponse)
            case .needMoreData:
                break parsing
            case .failed(let error):
                shared.stats.requestsRejected.add(1, ordering: .relaxed)
                appendError(conn, error.status, error.message, date: date.current())
            }
        }
        guard flush(conn, now: Timestamp.monotonicNanos()) else { return }
        if conn.writeRemaining > 0 { release(conn); return }
        // A peer that closed its side can send nothing more: a partial request can never complete.
        if conn.closeAfterWrite || conn.peerClosed || (isDraining && conn.parser.isIdle) {
            closeOwned(conn)
            return
        }
        release(conn)
    }

    /// Runs the handler for one request. Returns false when the connection was parked for a deferred answer (it is
    /// then no longer this thread's to touch).
    private func handle(_ request: HTTPRequest, on conn: Connection, date: inout DateHeader) -> Bool {
        let context = RequestContext(remoteAddress: conn.remoteAddress, connectionID: conn.key,
                                     isTLS: conn.tls != nil, receivedAtNanos: Timestamp.monotonicNanos())
        let headOnly = request.method == .head
        switch shared.handler {
        case .immediate(let responder):
            let response = responder.respond(to: request, context: context)
            encodeAnswer(response, on: conn, keepAlive: request.keepAlive, headOnly: headOnly, date: date.current())
            return true
        case .deferred(let responder):
            let reply = DeferredReply(core: self, connection: conn, keepAlive: request.keepAlive, headOnly: headOnly)
            responder.respond(to: request, context: context, reply: reply)
            let early = conn.claim.withLock { c -> HTTPResponse? in
                if let r = c.early {
                    c.early = nil
                    return r
                }
                c.parked = true
                c.owned = false
                return nil
            }
            guard let early else {
                parked.add(1, ordering: .relaxed)
                return false
            }
            encodeAnswer(early, on: conn, keepAlive: request.keepAlive, headOnly: headOnly, date: date.current())
            return true
        }
    }

    /// A deferred answer (any thread): written now if the connection is parked, else left for the worker that
    /// still owns it. Dropped when the connection is gone.
    func deliver(_ response: HTTPResponse, for reply: DeferredReply) {
        let conn = reply.connection
        let takeOver = conn.claim.withLock { c -> Bool in
            if c.closed { return false }
            guard c.parked else {
                c.early = response
                return false
            }
            c.parked = false
            c.owned = true
            return true
        }
        guard takeOver else { return }
        parked.subtract(1, ordering: .relaxed)
        var date = DateHeader()
        encodeAnswer(response, on: conn, keepAlive: reply.keepAlive, headOnly: reply.headOnly, date: date.current())
        process(conn, date: &date)
    }

    private func encodeAnswer(_ response: HTTPResponse, on conn: Connection, keepAlive requested: Bool, headOnly: Bool,
                              date: String) {
        let keepAlive = requested && !isDraining && !response.headers.hasToken("close", in: "Connection")
        if conn.writeOffset > 0 && conn.writeRemaining == 0 {
            conn.writeBuffer.removeAll(keepingCapacity: true)
            conn.writeOffset = 0
        }
        HTTPEncoder.encode(response, keepAlive: keepAlive, headOnly: headOnly, date: date, into: &conn.writeBuffer)
        shared.stats.requestsServed.add(1, ordering: .relaxed)
        if !keepAlive { conn.closeAfterWrite = true }
    }

    private func appendError(_ conn: Connection, _ status: HTTPStatus, _ message: String, date: String) {
        let response = configuration.errorResponse(status, message)
        HTTPEncoder.encode(response, keepAlive: false, date: date, into: &conn.writeBuffer)
        conn.closeAfterWrite = true
    }

    /// Reads what the socket has. Returns false when the connection was closed (and released).
    private func readAvailable(_ conn: Connection, readBuffer: UnsafeMutableRawBufferPointer, now: UInt64) -> Bool {
        var rounds = 0
        while rounds < 4 {
            rounds += 1
            let outcome: ReadOutcome = readOnce(conn, readBuffer)
            switch outcome {
            case .bytes(let n):
                if conn.parser.isIdle && conn.requestStartedAt == nil { conn.requestStartedAt = now }
                conn.parser.append(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]))
                conn.lastActivity = now
                if conn.tls == nil && n < readBuffer.count { return true }
            case .wouldBlock:
                return true
            case .wantWrite:
                conn.readWantsWrite = true
                return true
            case .eof:
                conn.peerClosed = true
                return true
            case .failed:
                closeOwned(conn)
                return false
            }
        }
        return true
    }

    private enum ReadOutcome { case bytes(Int), wouldBlock, wantWrite, eof, failed }

    private func readOnce(_ conn: Connection, _ buffer: UnsafeMutableRawBufferPointer) -> ReadOutcome {
        if let tls = conn.tls {
            switch tls.read(into: buffer) {
            case .bytes(let n): return .bytes(n)
            case .wantRead: return .wouldBlock
            case .wantWrite: return .wantWrite
            case .closed: return .eof
            case .failed: return .failed
            }
        }
        do {
            switch try syscall("read", { read(conn.fd, buffer.baseAddress, buffer.count) }) {
            case .done(0): return .eof
            case .done(let n): return .bytes(n)
            case .wouldBlock: return .wouldBlock
            }
        } catch {
            return .failed
        }
    }

    /// Writes as much as the socket takes. Returns false when the connection was closed (and released).
    private func flush(_ conn: Connection, now: UInt64) -> Bool {
        while conn.writeRemaining > 0 {
            let written: Int
            if let tls = conn.tls {
                let outcome = conn.writeBuffer.withUnsafeBytes { raw in
                    tls.write(UnsafeRawBufferPointer(rebasing: raw[conn.writeOffset...]))
                }
                switch outcome {
                case .bytes(let n): written = n
                case .wantRead, .wantWrite: return true
                case .closed, .failed: closeOwned(conn); return false
                }
            } else {
                do {
                    let sent = try syscall("send") {
                        conn.writeBuffer.withUnsafeBytes { raw in
                            send(conn.fd, raw.baseAddress! + conn.writeOffset, raw.count - conn.writeOffset, Int32(MSG_NOSIGNAL))
                        }
                    }
                    guard case .done(let n) = sent else { return true }
                    written = n
                } catch {
                    closeOwned(conn)
                    return false
                }
            }
            conn.writeOffset += written
            conn.lastWriteProgress = now
        }
        if conn.writeBuffer.capacity > 256 * 1024 { conn.writeBuffer = [] } else { conn.writeBuffer.removeAll(keepingCapacity: true) }
        conn.writeOffset = 0
        return true
    }

    /// Gives the connection back to epoll (interest chosen from its state) and drops the claim.
    private func release(_ conn: Connection) {
        var interest: UInt32 = clinuxio_epolloneshot() | clinuxio_epollrdhup()
        if conn.writeRemaining > 0 || conn.readWantsWrite {
            interest |= clinuxio_epollout()
            conn.readWantsWrite = false
        } else {
            interest |= clinuxio_epollin()
        }
        conn.claim.withLock { c in
            var ev = epoll_event()
            ev.events = interest
            ev.data.u64 = conn.key
            epoll_ctl(epfd, EPOLL_CTL_MOD, conn.fd, &ev)
            c.owned = false
            c.eventMissed = false
        }
    }

    /// Closes a connection the caller owns.
    private func closeOwned(_ conn: Connection) {
        conn.claim.withLock { c in
            c.closed = true
            c.owned = false
        }
        conn.tls?.shutdown()
        let resumeAccept = table.remove(conn) < configuration.maxConnections
        close(conn.fd)
        shared.stats.connectionsOpen.subtract(1, ordering: .relaxed)
        if resumeAccept { rearmListenerIfPaused() }
    }

    // MARK: - Accepting

    private func acceptConnections() {
        let maxConnections = configuration.maxConnections
        let listenFD = listener.withLock { $0.fd }
        guard listenFD >= 0, !isDraining else { return }
        var atCapacity = false
        while true {
            if table.count >= maxConnections { atCapacity = true; break }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { clinuxio_accept_nonblocking(listenFD, $0, &length) }
            }
            if fd < 0 {
                let err = errno
                if err == EINTR || err == ECONNABORTED { continue }
                if err == EMFILE || err == ENFILE {
                    // Out of descriptors: pause; the housekeeper re-arms. Clients wait in the backlog.
                    logger.warning("accept paused: out of file descriptors")
                    atCapacity = true
                } else if err != EAGAIN && err != EWOULDBLOCK {
                    logger.error("accept failed", [("errno", .int(Int64(err)))])
                }
                break
            }
            Sockets.setNoDelay(fd)
            var session: TLSSession? = nil
            if let tlsContext {
                guard let s = TLSSession(context: tlsContext, fd: fd) else { close(fd); continue }
                session = s
            }
            let now = Timestamp.monotonicNanos()
            let remote = Sockets.describe(storage)
            let conn = table.insert(fd: fd) { key in
                Connection(fd: fd, key: key, remoteAddress: remote, tls: session, limits: configuration.limits, now: now)
            }
            shared.stats.connectionsOpen.add(1, ordering: .relaxed)
            shared.stats.connectionsAccepted.add(1, ordering: .relaxed)
            var ev = epoll_event()
            ev.events = clinuxio_epollin() | clinuxio_epollrdhup() | clinuxio_epolloneshot()
            ev.data.u64 = conn.key
            epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)
        }
        listener.withLock { l in
            guard l.fd >= 0 else { return }
            if atCapacity {
                // Back-pressure, not refusal: the listener stays disarmed until a connection closes.
                l.paused = true
                l.armed = false
            } else {
                var ev = epoll_event()
                ev.events = clinuxio_epollin() | clinuxio_epolloneshot()
                ev.data.u64 = Self.listenerKey
                epoll_ctl(epfd, EPOLL_CTL_MOD, l.fd, &ev)
                l.armed = true
            }
        }
    }

    private func rearmListenerIfPaused() {
        listener.withLock { l in
            guard l.paused, l.fd >= 0, !isDraining else { return }
            l.paused = false
            l.armed = true
            var ev = epoll_event()
            ev.events = clinuxio_epollin() | clinuxio_epolloneshot()
            ev.data.u64 = Self.listenerKey
            epoll_ctl(epfd, EPOLL_CTL_MOD, l.fd, &ev)
        }
    }

    // MARK: - Housekeeping: timeouts and shutdown

    private func housekeepingLoop() {
        let idleTimeout = configuration.idleTimeout.nanoseconds
        let requestTimeout = configuration.requestTimeout.nanoseconds
        let writeTimeout = configuration.writeTimeout.nanoseconds
        var drainStarted = false
        var date = DateHeader()
        while true {
            usleep(drainStarted ? 20_000 : 100_000)
            let (draining, deadline) = lifecycle.withLock { ($0.draining, $0.drainDeadline) }
            let now = Timestamp.monotonicNanos()
            if draining && !drainStarted {
                drainStarted = true
                closeListener()
            }
            if !draining && table.count < configuration.maxConnections {
                rearmListenerIfPaused()  // after EMFILE
            }
            let pastDeadline = draining && now >= deadline
            for conn in table.all {
                let claimed = conn.claim.withLock { c -> Bool in
                    if c.owned || c.closed { return false }
                    // A parked request is answered by its upstream's own timeouts; only a shutdown past its
                    // deadline takes the connection away (the late answer is then dropped).
                    if c.parked {
                        guard pastDeadline else { return false }
                        c.parked = false
                        self.parked.subtract(1, ordering: .relaxed)
                    }
                    c.owned = true
                    return true
                }
                guard claimed else { continue }
                if pastDeadline || (draining && conn.parser.isIdle && conn.writeRemaining == 0) {
                    closeOwned(conn)
                } else if conn.writeRemaining > 0 {
                    if elapsed(now, since: conn.lastWriteProgress) > writeTimeout {
                        shared.stats.timeouts.add(1, ordering: .relaxed)
                        closeOwned(conn)
                    } else {
                        housekeeperRelease(conn)
                    }
                } else if let started = conn.requestStartedAt, elapsed(now, since: started) > requestTimeout {
                    // A slow or stalled client (slowloris): answer 408 and close.
                    shared.stats.timeouts.add(1, ordering: .relaxed)
                    appendError(conn, .requestTimeout, "request not received in time", date: date.current())
                    if flush(conn, now: now) {
                        if conn.writeRemaining == 0 { closeOwned(conn) } else { housekeeperRelease(conn) }
                    }
                } else if conn.requestStartedAt == nil && elapsed(now, since: conn.lastActivity) > idleTimeout {
                    closeOwned(conn)
                } else {
                    housekeeperRelease(conn)
                }
            }
            if draining && (table.count == 0 || pastDeadline) { return }
        }
    }

    /// Drops a housekeeper's claim; re-arms only if an event was delivered (and so disarmed) meanwhile.
    private func housekeeperRelease(_ conn: Connection) {
        var interest: UInt32 = clinuxio_epolloneshot() | clinuxio_epollrdhup()
        interest |= conn.writeRemaining > 0 ? clinuxio_epollout() : clinuxio_epollin()
        conn.claim.withLock { c in
            if c.eventMissed {
                var ev = epoll_event()
                ev.events = interest
                ev.data.u64 = conn.key
                epoll_ctl(epfd, EPOLL_CTL_MOD, conn.fd, &ev)
                c.eventMissed = false
            }
            c.owned = false
        }
    }

    /// `now - then`, zero when a worker stamped `then` after the housekeeper read `now`.
    private func elapsed(_ now: UInt64, since then: UInt64) -> UInt64 {
        now > then ? now - then : 0
    }

    private func closeListener() {
        listener.withLock { l in
            guard l.fd >= 0 else { return }
            epoll_ctl(epfd, EPOLL_CTL_DEL, l.fd, nil)
            close(l.fd)
            l.fd = -1
            l.armed = false
        }
    }
}
