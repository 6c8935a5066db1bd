#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
public import HTTPCore
import Telemetry
import Locking
import Lifecycle

/// A keep-alive connection pool to one upstream, with its bulkhead. Thread-safe; never blocks the caller.
public final class UpstreamPool: Sendable {
    public let host: String
    public let port: Int
    public let configuration: UpstreamConfiguration
    let loop: UpstreamLoop
    let authority: String
    private let state: Lock<State>
    private let counters = Counters()

    struct State {
        var bulkhead: Bulkhead<UpstreamExchange>
        var idle: [UpstreamConnection] = []
        var busy: [UInt64: UpstreamConnection] = [:]
        var closed = false
        var address: Sockets.Address? = nil
    }

    final class Counters: Sendable {
        let opened = Atomic<Int>(0)
        let rejected = Atomic<Int>(0)
        let retried = Atomic<Int>(0)
        let queueTimeouts = Atomic<Int>(0)
        let timeouts = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        let completed = Atomic<Int>(0)
    }

    init(loop: UpstreamLoop, host: String, port: Int, configuration: UpstreamConfiguration) {
        self.loop = loop
        self.host = host
        self.port = port
        self.configuration = configuration
        authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        state = Lock(State(bulkhead: Bulkhead(maxInFlight: configuration.maxConnections, maxQueued: configuration.maxQueued)))
    }

    /// A consistent-enough picture for metrics and tests.
    public struct Statistics: Sendable, Equatable {
        public var inFlight: Int
        public var queued: Int
        public var idle: Int
        public var connectionsOpened: Int
        /// Refused because the bulkhead was full.
        public var rejected: Int
        public var queueTimeouts: Int
        /// Connect, first-byte and total timeouts.
        public var timeouts: Int
        /// Other failures (refused connections, broken connections, bad answers).
        public var failures: Int
        /// Idempotent requests retried once on a fresh connection after a pooled one turned out closed.
        public var retried: Int
        public var completed: Int
    }

    /// Requests in flight plus those queued: what a replica set balances on (least in flight first).
    public var load: Int { state.withLock { $0.bulkhead.inFlight + $0.bulkhead.queued } }

    public var statistics: Statistics {
        let (inFlight, queued, idle) = state.withLock { ($0.bulkhead.inFlight, $0.bulkhead.queued, $0.idle.count) }
        return Statistics(inFlight: inFlight, queued: queued, idle: idle,
                          connectionsOpened: counters.opened.load(ordering: .relaxed),
                          rejected: counters.rejected.load(ordering: .relaxed),
                          queueTimeouts: counters.queueTimeouts.load(ordering: .relaxed),
                          timeouts: counters.timeouts.load(ordering: .relaxed),
                          failures: counters.failures.load(ordering: .relaxed),
                          retried: counters.retried.load(ordering: .relaxed),
                          completed: counters.completed.load(ordering: .relaxed))
    }

    /// Sends `request` and calls `completion` exactly once with the answer or the failure — possibly before this
    /// returns (a refusal), otherwise on a loop or timer thread. The completion must not block.
    public func send(_ request: HTTPRequest, completion: @escaping @Sendable (Result<HTTPResponse, UpstreamError>) -> Void) {
        let now = Timestamp.monotonicNanos()
        var bytes: [UInt8] = []
        HTTPEncoder.encode(request, host: authority, into: &bytes)
        let exchange = UpstreamExchange(bytes: bytes, isHead: request.method == .head, idempotent: request.method.isIdempotent,
                                        totalDeadline: now + configuration.totalTimeout.nanoseconds, completion: completion)
        let admission = state.withLock { s -> Bulkhead<UpstreamExchange>.Admission in
            if s.closed { return .rejected }
            return s.bulkhead.admit(exchange, deadline: now + configuration.queueTimeout.nanoseconds)
        }
        switch admission {
        case .run:
            run(exchange, now: now)
        case .queued:
            break
        case .rejected:
            counters.rejected.add(1, ordering: .relaxed)
            exchange.finish(.failure(error(loop.stopped.load(ordering: .relaxed) ? .shuttingDown : .overloaded, reached: false)))
        }
    }

    func error(_ kind: UpstreamError.Kind, reached: Bool) -> UpstreamError {
        UpstreamError(kind: kind, mayHaveReached: reached, upstream: authority)
    }

    /// Runs an exchange that holds a slot: on an idle connection when one is fresh (and, for a request that must
    /// not be repeated, still open), else on a new one.
    private func run(_ exchange: UpstreamExchange, now: UInt64) {
        let maxAge = configuration.idleTimeout.nanoseconds
        while let candidate = state.withLock({ $0.idle.popLast() }) {
            candidate.claimFromIdle()
            let age = now > candidate.lastUsed ? now - candidate.lastUsed : 0
            if age > maxAge || (!exchange.idempotent && !candidate.isStillOpen()) {
                candidate.closeOwned()
                continue
            }
            candidate.reused = true
            begin(exchange, on: candidate, now: now)
            return
        }
        connect(exchange, now: now)
    }

    private func begin(_ exchange: UpstreamExchange, on connection: UpstreamConnection, now: UInt64) {
        state.withLock { $0.busy[connection.key] = connection }
        connection.start(exchange, now: now)
    }

    /// Opens a connection for `exchange` (which holds a slot) and starts it.
    func connect(_ exchange: UpstreamExchange, now: UInt64) {
        let address: Sockets.Address
        if let known = state.withLock({ $0.address }) {
            address = known
        } else {
            do {
                address = try Sockets.resolve(host: host, port: port)
                state.withLock { $0.address = address }
            } catch {
                slotFreed(finishing: exchange, with: .failure(self.error(.connectFailed, reached: false)), now: now)
                return
            }
        }
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            slotFreed(finishing: exchange, with: .failure(error(.connectFailed, reached: false)), now: now)
            return
        }
        var storage = address.storage
        let length = address.length
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        if rc != 0 && errno != EINPROGRESS && errno != EINTR {
            Glibc.close(fd)
            slotFreed(finishing: exchange, with: .failure(error(.connectFailed, reached: false)), now: now)
            return
        }
        Sockets.setNoDelay(fd)
        counters.opened.add(1, ordering: .relaxed)
        let connection = loop.table.insert(fd: fd) { key in
            UpstreamConnection(fd: fd, key: key, pool: self, maxResponseBytes: configuration.maxResponseBytes, now: now)
        }
        state.withLock { $0.busy[connection.key] = connection }
        connection.startConnecting(exchange, now: now)
    }

    /// A connection finished its exchange (`reusable`: it may carry another). The next waiter runs on it (or on a
    /// new connection when it cannot be reused); otherwise it goes idle or closes. Called by its owner; the
    /// connection is no longer the caller's afterwards.
    func finished(_ connection: UpstreamConnection, reusable: Bool, now: UInt64) {
        enum Next { case runOn(UpstreamExchange), connectFor(UpstreamExchange), idle, close }
        let (next, expired) = state.withLock { s -> (Next, [UpstreamExchange]) in
            s.busy[connection.key] = nil
            let (waiter, expired) = s.bulkhead.release(now: now)
            if let waiter {
                return (reusable && !s.closed ? .runOn(waiter) : .connectFor(waiter), expired)
            }
            if reusable && !s.closed && s.idle.count < configuration.maxIdleConnections {
                connection.releaseToIdle(now: now)
                s.idle.append(connection)
                return (.idle, expired)
            }
            return (.close, expired)
        }
        for waiter in expired {
            counters.queueTimeouts.add(1, ordering: .relaxed)
            waiter.finish(.failure(error(.queueTimeout, reached: false)))
        }
        switch next {
        case .runOn(let waiter):
            connection.reused = true
            begin(waiter, on: connection, now: now)
        case .connectFor(let waiter):
            connection.closeOwned()
            connect(waiter, now: now)
        case .idle:
            break
        case .close:
            connection.closeOwned()
        }
    }

    /// An exchange that never got a connection ends; its slot passes on.
    private func slotFreed(finishing exchange: UpstreamExchange, with result: Result<HTTPResponse, UpstreamError>, now: UInt64) {
        counters.failures.add(1, ordering: .relaxed)
        let (next, expired) = state.withLock { $0.bulkhead.release(now: now) }
        for waiter in expired {
            counters.queueTimeouts.add(1, ordering: .relaxed)
            waiter.finish(.failure(error(.queueTimeout, reached: false)))
        }
        exchange.finish(result)
        if let next { run(next, now: now) }
    }

    /// Retries an exchange whose pooled connection turned out closed before any answer byte, on a fresh
    /// connection (keeping its slot).
    func retry(_ exchange: UpstreamExchange, from connection: UpstreamConnection, now: UInt64) {
        counters.retried.add(1, ordering: .relaxed)
        state.withLock { _ = $0.busy.removeValue(forKey: connection.key) }
        connect(exchange, now: now)
    }

    func countOutcome(_ result: Result<HTTPResponse, UpstreamError>) {
        switch result {
        case .success: counters.completed.add(1, ordering: .relaxed)
        case .failure(let e):
            switch e.kind {
            case .connectTimeout, .firstByteTimeout, .totalTimeout: counters.timeouts.add(1, ordering: .relaxed)
            default: counters.failures.add(1, ordering: .relaxed)
            }
        }
    }

    /// The timer: queue timeouts, stale idle connections, and the deadlines of exchanges in flight.
    func sweep(now: UInt64) {
        let maxAge = configuration.idleTimeout.nanoseconds
        let (expired, stale, busy) = state.withLock { s -> ([UpstreamExchange], [UpstreamConnection], [UpstreamConnection]) in
            let expired = s.bulkhead.expire(now: now)
            var stale: [UpstreamConnection] = []
            s.idle.removeAll { c in
                let old = now > c.lastUsed && now - c.lastUsed > maxAge
                if old { stale.append(c) }
                return old
            }
            return (expired, stale, Array(s.busy.values))
        }
        for waiter in expired {
            counters.queueTimeouts.add(1, ordering: .relaxed)
            waiter.finish(.failure(error(.queueTimeout, reached: false)))
        }
        for connection in stale {
            connection.claimFromIdle()
            connection.closeOwned()
        }
        for connection in busy { connection.checkDeadline(now: now) }
    }

    /// Refuses new requests, fails waiting and in-flight ones, closes every connection.
    func close() {
        let (waiting, idle, busy) = state.withLock { s -> ([UpstreamExchange], [UpstreamConnection], [UpstreamConnection]) in
            s.closed = true
            let idle = s.idle
            s.idle = []
            return (s.bulkhead.drain(), idle, Array(s.busy.values))
        }
        for waiter in waiting { waiter.finish(.failure(error(.shuttingDown, reached: false))) }
        for connection in idle {
            connection.claimFromIdle()
            connection.closeOwned()
        }
        for connection in busy { connection.abandon() }
    }
}
