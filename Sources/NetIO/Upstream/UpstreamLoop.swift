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
