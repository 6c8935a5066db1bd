#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
public import HTTPCore
import Telemetry
import Locking
import Lifecycle

// The gateway's non-blocking client side (why it looks like this):
//
// A proxied request must not hold a thread while its region thinks, or a hung region soaks up every thread and
// takes every tenant down. So upstream connections are state machines (connecting → writing → awaiting the
// answer → idle) driven by readiness: the thread that submits a request takes a pooled connection, writes the
// request straight away (one non-blocking send, no hand-off) and arms the socket; when the answer arrives one of
// the loop's threads parses it and calls the completion, which writes it to the client (see `DeferredReply`).
// Between those two moments nothing but a connection record exists.
//
// The same ownership discipline as the server's connections: a connection is touched only by whoever holds its
// claim (a loop thread handling its event, the submitting thread, or the timer), re-arming happens under the claim
// lock, and an event that fires while the timer holds the claim is remembered and re-armed on release. Lock order
// is pool state → claim, never the reverse.
//
// Deadlines (connect, first byte, total) and queue timeouts are enforced by one timer thread that sweeps every
// `tick`; a request's answer therefore comes at most one tick after its deadline.

/// Settings of one upstream pool (documented defaults; the gateway exposes each as a flag).
public struct UpstreamConfiguration: Sendable {
    /// Requests in flight at once (one per connection): the bulkhead's cap.
    public var maxConnections = 64
    /// Requests waiting for a free connection beyond that; more are refused at once.
    public var maxQueued = 64
    /// Longest wait in the queue before the request is refused.
    public var queueTimeout: Duration = .milliseconds(500)
    /// TCP connect.
    public var connectTimeout: Duration = .seconds(1)
    /// From the request being written to the first byte of the answer.
    public var firstByteTimeout: Duration = .seconds(10)
    /// From submission to the complete answer.
    public var totalTimeout: Duration = .seconds(20)
    /// Idle keep-alive connections kept; idle ones older than `idleTimeout` are closed (keep it below the
    /// upstream's own idle timeout).
    public var maxIdleConnections = 64
    public var idleTimeout: Duration = .seconds(20)
    public var maxResponseBytes = 64 << 20
    public init() {}
}

/// Why an upstream exchange failed.
public struct UpstreamError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The bulkhead is full (in-flight cap and queue): refused without trying.
        case overloaded
        /// Waited in the queue past `queueTimeout`: never sent.
        case queueTimeout
        /// Nothing accepted the connection (refused, unreachable).
        case connectFailed
        case connectTimeout
        /// Sent, and no answer began within `firstByteTimeout`.
        case firstByteTimeout
        /// The answer did not complete within `totalTimeout`.
        case totalTimeout
        /// The connection broke before a complete answer.
        case connectionClosed
        /// The upstream answered something that is not HTTP/1.1.
        case protocolError
        /// The loop is stopping.
        case shuttingDown
    }
    public var kind: Kind
    /// Whether the upstream may have received the request (and acted on it): false only when it certainly did not.
    public var mayHaveReached: Bool
    public var upstream: String

    public var description: String { "upstream \(upstream): \(kind.rawValue)" }
}

/// Threads and an epoll set that drive every upstream connection of a process, plus the timer that enforces their
/// deadlines. Create pools with `pool(host:port:configuration:)`; `start` before use, `shutdown` last.
public final class UpstreamLoop: Sendable {
    let name: String
    let epfd: Int32
    private let wakeFD: Int32
    let table = ConnectionTable<UpstreamConnection>()
    private let pools = Lock<[UpstreamPool]>([])
    let stopped = Atomic<Bool>(false)
    private let threads = Lock<[ThreadHandle]>([])
    private let threadCount: Int
    /// How often deadlines are checked.
    let tick: Duration
    /// Delayed work (rate shaping): a min-heap by deadline, run by the timer thread, which sleeps until the earliest.
    private let timers = ConditionLock<TimerHeap>(TimerHeap())

    /// `threads` loop threads of its own, or 0 when an `HTTPServer` drives it (`HTTPServerConfiguration.drives`);
    /// `tick` is the timer's period.
    public init(name: String = "upstream", threads: Int = 2, tick: Duration = .milliseconds(50)) {
        self.name = name
        self.threadCount = max(0, threads)
        self.tick = tick
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        var wake = epoll_event()
        wake.events = clinuxio_epollin()
        wake.data.u64 = Self.wakeKey
        epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &wake)
    }

    static let wakeKey: UInt64 = .max

    /// A pool of connections to `host:port` driven by this loop.
    public func pool(host: String, port: Int, configuration: UpstreamConfiguration = UpstreamConfiguration()) -> UpstreamPool {
        let pool = UpstreamPool(loop: self, host: host, port: port, configuration: configuration)
        pools.withLock { $0.append(pool) }
        return pool
    }

    /// Stops driving a pool (its connections are closed, its requests fail with `shuttingDown`).
    public func remove(_ pool: UpstreamPool) {
        pools.withLock { $0.removeAll { $0 === pool } }
        pool.close()
    }

    public func start() {
        var started: [ThreadHandle] = []
        for i in 0..<threadCount {
            started.append(ThreadHandle.start(name: "\(name)-\(i)") { [self] in eventLoop() })
        }
        started.append(ThreadHandle.start(name: "\(name)-timer") { [self] in timerLoop() })
        threads.withLock { $0 = started }
    }

    /// Runs `task` on the timer thread after `delay` (at once when the loop is stopping). Waiting holds no thread:
    /// a request delayed by rate shaping is an entry in a heap. The task must not block.
    public func schedule(after delay: Duration, _ task: @escaping @Sendable () -> Void) {
        let deadline = Timestamp.monotonicNanos() + delay.nanoseconds
        let accepted = timers.withLock { heap -> Bool in
            guard !heap.closed else { return false }
            heap.push(deadline, task)
            return true
        }
        if accepted { timers.signal() } else { task() }
    }

    /// Stops the threads, then fails whatever is still pending and closes every connection.
    public func shutdown() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)  // level-triggered, never read: wakes every thread
        timers.broadcast()
        for thread in threads.withLock({ $0 }) { thread.join() }
        // Delayed work still waiting runs now (its requests then fail fast as the pools close).
        let pending = timers.withLock { heap -> [@Sendable () -> Void] in
            heap.closed = true
            return heap.drain()
        }
        for task in pending { task() }
        // No loop or timer thread runs any more: nobody else holds a connection.
        for pool in pools.withLock({ $0 }) { pool.close() }
        close(wakeFD)
        close(epfd)
    }

    /// Handles whatever is ready now, without waiting (for a server whose workers drive this loop).
    public func drainReady(buffer: UnsafeMutableRawBufferPointer) {
        var events = [epoll_event](repeating: epoll_event(), count: 32)
        while handleReady(&events, timeoutMillis: 0, buffer: buffer) == events.count {}
    }

    private func eventLoop() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var events = [epoll_event](repeating: epoll_event(), count: 32)
        while !stopped.load(ordering: .relaxed) { _ = handleReady(&events, timeoutMillis: 500, buffer: buffer) }
    }

    /// One epoll_wait and the events it returned (handling an event never blocks, so one call takes whatever is
    /// ready). Returns how many events came.
    private func handleReady(_ events: inout [epoll_event], timeoutMillis: Int32, buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = Int(epoll_wait(epfd, &events, Int32(events.count), timeoutMillis))
        guard n > 0 else { return 0 }
        for i in 0..<n {
            let key = events[i].data.u64
            if key == Self.wakeKey { continue }
            guard let connection = table.lookup(key), connection.claimForEvent() else { continue }
            connection.ready(events: events[i].events, buffer: buffer)
        }
        return n
    }

    private func timerLoop() {
        let period = tick.nanoseconds
        var nextSweep = Timestamp.monotonicNanos() + period
        while !stopped.load(ordering: .relaxed) {
            // Sleep until the next sweep or the earliest delayed task, whichever comes first; a task scheduled
            // earlier than that wakes the wait to recompute it.
            let until = timers.withLock { min(nextSweep, $0.earliest ?? .max) }
            let due = timers.wait(deadlineNanos: until) { heap -> [@Sendable () -> Void]? in
                if self.stopped.load(ordering: .relaxed) { return [] }
                let ready = heap.popDue(now: Timestamp.monotonicNanos())
                if !ready.isEmpty { return ready }
                if let earliest = heap.earliest, earliest < until { return [] }
                return nil
            } ?? []
            for task in due { task() }
            let now = Timestamp.monotonicNanos()
            if now >= nextSweep {
                for pool in pools.withLock({ $0 }) { pool.sweep(now: now) }
                nextSweep = now + period
            }
        }
    }
}

/// Delayed tasks by deadline (a binary min-heap; ties in insertion order do not matter here).
struct TimerHeap: Sendable {
    private var entries: [(deadline: UInt64, task: @Sendable () -> Void)] = []
    var closed = false

    var count: Int { entries.count }

    mutating func push(_ deadline: UInt64, _ task: @escaping @Sendable () -> Void) {
        entries.append((deadline, task))
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[parent].deadline > entries[i].deadline else { break }
            entries.swapAt(parent, i)
            i = parent
        }
    }

    /// Every task whose deadline has come, earliest first.
    mutating func popDue(now: UInt64) -> [@Sendable () -> Void] {
        var due: [@Sendable () -> Void] = []
        while let first = entries.first, first.deadline <= now {
            due.append(first.task)
            let last = entries.removeLast()
            guard !entries.isEmpty else { break }
            entries[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < entries.count && entries[l].deadline < entries[smallest].deadline { smallest = l }
                if r < entries.count && entries[r].deadline < entries[smallest].deadline { smallest = r }
                if smallest == i { break }
                entries.swapAt(i, smallest)
                i = smallest
            }
        }
        return due
    }

    /// The earliest deadline, if any.
    var earliest: UInt64? { entries.first?.deadline }

    mutating func drain() -> [@Sendable () -> Void] {
        let all = entries.sorted { $0.deadline < $1.deadline }.map(\.task)
        entries = []
        return all
    }
}

/// One in-flight request: its bytes, deadlines and completion. Touched by whoever owns the connection it runs on,
/// or under the pool lock while it waits in the queue.
final class UpstreamExchange: @unchecked Sendable {
    // @unchecked: see above; the completion runs once (`finish`).
    let bytes: [UInt8]
    let isHead: Bool
    let idempotent: Bool
    let totalDeadline: UInt64
    var attempts = 0
    private let completion: @Sendable (Result<HTTPResponse, UpstreamError>) -> Void
    private let done = Atomic<Bool>(false)

    init(bytes: [UInt8], isHead: Bool, idempotent: Bool, totalDeadline: UInt64,
         completion: @escaping @Sendable (Result<HTTPResponse, UpstreamError>) -> Void) {
        self.bytes = bytes
        self.isHead = isHead
        self.idempotent = idempotent
        self.totalDeadline = totalDeadline
        self.completion = completion
    }

    func finish(_ result: Result<HTTPResponse, UpstreamError>) {
        guard done.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        completion(result)
    }
}

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
            let n = exchange.bytes.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + written, raw.count - written, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if n > 0 {
                written += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                arm(clinuxio_epollout())
                return
            }
            // A pooled connection the upstream had closed: nothing of ours was read if nothing was written.
            fail(.connectionClosed, reached: written > 0, now: now, retryable: reused && written == 0)
            return
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
            let n = recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
            if n > 0 {
                if received == 0, let exchange { phaseDeadline = exchange.totalDeadline }  // the answer has begun
                received += n
                parser.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                arm(clinuxio_epollin())
                return
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
