#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
public import HTTPCore
import Telemetry
import Locking
import Lifecycle

/// One upstream socket and the exchange it carries.
final class UpstreamConnection: TableEntry, @unchecked Sendable {
    // @unchecked: every mutable field is touched only by the holder of `claim` (see the model at the top).
    let fd: Int32
    let key: UInt64
    let pool: UpstreamPool
    enum Phase { case connecting, writing, awaiting, idle }
    var phase: Phase = .connecting
    var exchange: UpstreamExchange? = nil
    var parser: ResponseParser
    var written = 0
    var received = 0
    var reused = false
    var lastUsed: UInt64
    /// Connect or first-byte deadline of the current phase.
    var phaseDeadline: UInt64 = 0
    var interest: UInt32 = 0
    /// In the epoll set yet (a new socket is added on its first arming, then modified).
    var registered = false

    struct Claim {
        var owned = true
        var closed = false
        var eventMissed = false
    }
    let claim = Lock<Claim>(Claim())

    init(fd: Int32, key: UInt64, pool: UpstreamPool, maxResponseBytes: Int, now: UInt64) {
        self.fd = fd
        self.key = key
        self.pool = pool
        self.parser = ResponseParser(maxBodyBytes: maxResponseBytes)
        self.lastUsed = now
    }

    // MARK: Claims

    /// A loop thread got an event: take the connection unless someone holds it (then the event is remembered).
    func claimForEvent() -> Bool {
        claim.withLock { c in
            if c.closed { return false }
            if c.owned { c.eventMissed = true; return false }
            c.owned = true
            return true
        }
    }

    /// Taken out of the idle list: it is ours, though the timer may be glancing at it for a moment.
    func claimFromIdle() {
        while true {
            let got = claim.withLock { c -> Bool in
                if c.owned { return false }
                c.owned = true
                return true
            }
            if got { return }
            sched_yield()
        }
    }

    /// Arms the socket for `events` and gives up the claim (atomically: no event can be lost in between).
    private func arm(_ events: UInt32) {
        interest = events | clinuxio_epolloneshot() | clinuxio_epollrdhup()
        claim.withLock { c in
            var ev = epoll_event()
            ev.events = interest
            ev.data.u64 = key
            epoll_ctl(pool.loop.epfd, registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev)
            registered = true
            c.owned = false
            c.eventMissed = false
        }
    }

    /// Going idle: not armed (a server's close is noticed when the connection is next taken), not owned.
    func releaseToIdle(now: UInt64) {
        phase = .idle
        lastUsed = now
        exchange = nil
        claim.withLock { c in
            c.owned = false
            c.eventMissed = false
        }
    }

    func closeOwned() {
        claim.withLock { c in
            c.closed = true
            c.owned = false
        }
        _ = pool.loop.table.remove(self)
        Glibc.close(fd)
    }

    // MARK: The exchange

    /// A fresh socket whose connect is under way.
    func startConnecting(_ exchange: UpstreamExchange, now: UInt64) {
        self.exchange = exchange
        exchange.attempts += 1
        phase = .connecting
        phaseDeadline = min(exchange.totalDeadline, now + pool.configuration.connectTimeout.nanoseconds)
        arm(clinuxio_epollout())
    }

    /// A connected socket takes `exchange`: write it now.
    func start(_ exchange: UpstreamExchange, now: UInt64) {
        self.exchange = exchange
        exchange.attempts += 1
        phase = .writing
        written = 0
        received = 0
        parser.reset()
        parser.expectingHeadResponse = exchange.isHead
        phaseDeadline = min(exchange.totalDeadline, now + pool.configuration.firstByteTimeout.nanoseconds)
        write(now: now)
    }

    /// What readiness brought (a loop thread owns the connection).
    func ready(events: UInt32, buffer: UnsafeMutableRawBufferPointer) {
        let now = Timestamp.monotonicNanos()
        switch phase {
        case .connecting:
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError != 0 || events & (clinuxio_epollerr() | clinuxio_epollhup()) != 0 {
                fail(.connectFailed, reached: false, now: now)
                return
            }
            phase = .writing
            written = 0
            received = 0
            parser.reset()
            parser.expectingHeadResponse = exchange?.isHead ?? false
            if let exchange { phaseDeadline = min(exchange.totalDeadline, now + pool.configuration.firstByteTimeout.nanoseconds) }
            write(now: now)
        case .writing:
            write(now: now)
        case .awaiting:
            read(buffer, now: now)
        case .idle:
            // Idle connections are not armed; nothing to do but give the claim back.
            claim.withLock { $0.owned = false }
        }
    }

    private func write(now: UInt64) {
        guard let exchange else { return }
        while written < exchange.bytes.count {
            do {
                let sent = try syscall("send") {
                    exchange.bytes.withUnsafeBytes { raw in
                        send(fd, raw.baseAddress! + written, raw.count - written, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                    }
                }
                guard case .done(let n) = sent else {
                    arm(clinuxio_epollout())
                    return
                }
                written += n
            } catch {
                // A pooled connection the upstream had closed: nothing of ours was read if nothing was written.
                fail(.connectionClosed, reached: written > 0, now: now, retryable: reused && written == 0)
                return
            }
        }
        phase = .awaiting
        arm(clinuxio_epollin())
    }

    private func read(_ buffer: UnsafeMutableRawBufferPointer, now: UInt64) {
        while true {
            switch parser.next() {
            case .response(let response, let keepAlive):
                complete(response, reusable: keepAlive && parser.bufferedByteCount == 0, now: now)
                return
            case .failed:
                fail(.protocolError, reached: true, now: now)
                return
            case .needMoreData:
                break
            }
            let n: Int
            do {
                guard case .done(let count) = try syscall("recv", { recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT)) }) else {
                    arm(clinuxio_epollin())
                    return
                }
                n = count
            } catch {
                n = -1  // the connection broke
            }
            if n > 0 {
                if received == 0, let exchange { phaseDeadline = exchange.totalDeadline }  // the answer has begun
                received += n
                parser.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                continue
            }
            // End of stream, or the connection broke.
            if n == 0, case .response(let response, _) = parser.endOfStream() {
                complete(response, reusable: false, now: now)
                return
            }
            // Closed before any answer byte on a pooled connection: the upstream dropped an idle keep-alive
            // connection as we wrote. Safe to repeat only what is idempotent.
            fail(.connectionClosed, reached: true, now: now,
                 retryable: reused && received == 0 && (exchange?.idempotent ?? false))
            return
        }
    }

    private func complete(_ response: HTTPResponse, reusable: Bool, now: UInt64) {
        guard let exchange else { return }
        self.exchange = nil
        let result = Result<HTTPResponse, UpstreamError>.success(response)
        pool.countOutcome(result)
        pool.finished(self, reusable: reusable, now: now)
        exchange.finish(result)
    }

    /// Ends the current exchange with an error (or retries it once on a fresh connection) and closes the socket.
    private func fail(_ kind: UpstreamError.Kind, reached: Bool, now: UInt64, retryable: Bool = false) {
        guard let exchange else {
            closeOwned()
            return
        }
        self.exchange = nil
        if retryable && exchange.attempts < 2 && now < exchange.totalDeadline {
            if reached { exchange.reachedBefore = true }
            closeOwned()
            pool.retry(exchange, from: self, now: now)
            return
        }
        let result = Result<HTTPResponse, UpstreamError>.failure(pool.error(kind, reached: reached))
        pool.countOutcome(result)
        pool.finished(self, reusable: false, now: now)
        exchange.finish(result)
    }

    /// The timer: fail the exchange if its deadline passed (only when nobody else holds the connection now).
    func checkDeadline(now: UInt64) {
        let claimed = claim.withLock { c -> Bool in
            if c.owned || c.closed { return false }
            c.owned = true
            return true
        }
        guard claimed else { return }
        guard phase != .idle, let exchange else {
            giveBack()
            return
        }
        if now >= phaseDeadline || now >= exchange.totalDeadline {
            let kind: UpstreamError.Kind
            switch phase {
            case .connecting: kind = .connectTimeout
            case .writing, .awaiting, .idle: kind = received == 0 && now >= phaseDeadline ? .firstByteTimeout : .totalTimeout
            }
            fail(kind, reached: phase != .connecting, now: now)
        } else {
            giveBack()
        }
    }

    /// The timer gives the claim back, re-arming if an event fired (and was disarmed) meanwhile.
    private func giveBack() {
        claim.withLock { c in
            if c.eventMissed {
                var ev = epoll_event()
                ev.events = interest
                ev.data.u64 = key
                epoll_ctl(pool.loop.epfd, EPOLL_CTL_MOD, fd, &ev)
                c.eventMissed = false
            }
            c.owned = false
        }
    }

    /// Shutdown: fail the exchange and close, whoever holds the connection (the loop threads are stopping).
    func abandon() {
        let exchange: UpstreamExchange? = claim.withLock { c in
            if c.closed { return nil }
            c.closed = true
            return self.exchange
        }
        _ = pool.loop.table.remove(self)
        Glibc.close(fd)
        exchange?.finish(.failure(pool.error(.shuttingDown, reached: true)))
    }

    /// An idle connection that is readable has been closed by the upstream (or sent junk): not reusable.
    func isStillOpen() -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) == 0
    }
}
