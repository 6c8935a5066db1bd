#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Telemetry
import CLinuxIO
import Locking

/// A pthread mutex with a condition variable on CLOCK_MONOTONIC, guarding `State`.
/// Swift's `Mutex` has no condition variable; worker queues and pools need to sleep until work arrives.
public final class ConditionLock<State: Sendable>: @unchecked Sendable {
    // @unchecked: `state` is only touched with `mutex` held (every accessor below locks it).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var state: State

    public init(_ initial: State) {
        state = initial
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with the lock held.
    public func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }

    /// Waits until `body` returns non-nil (re-evaluated after every wake-up) or the monotonic deadline passes.
    public func wait<R>(deadlineNanos: UInt64?, _ body: (inout State) -> R?) -> R? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if let result = body(&state) { return result }
            if let deadline = deadlineNanos {
                let now = Timestamp.monotonicNanos()
                if now >= deadline { return nil }
                var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
                pthread_cond_timedwait(cond, mutex, &ts)
            } else {
                pthread_cond_wait(cond, mutex)
            }
        }
    }

    public func signal() { pthread_cond_signal(cond) }
    public func broadcast() { pthread_cond_broadcast(cond) }
}

/// A joinable POSIX thread.
public struct ThreadHandle: Sendable {
    fileprivate let thread: pthread_t

    /// Starts a thread named `name` (first 15 bytes) running `body`.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> ThreadHandle {
        final class Box {
            let name: String
            let body: @Sendable () -> Void
            init(_ n: String, _ b: @escaping @Sendable () -> Void) { name = n; body = b }
        }
        let box = Unmanaged.passRetained(Box(String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self), body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.name.withCString { clinuxio_set_thread_name($0) }
            box.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return ThreadHandle(thread: thread)
    }

    /// Waits for the thread to end.
    public func join() {
        pthread_join(thread, nil)
    }
}

/// A fixed set of threads running submitted jobs in FIFO order. Handlers that block on PostgreSQL or an
/// upstream run here, never on the reactor thread, so one slow query never stalls other connections.
public final class WorkerPool: Sendable {
    public typealias Job = @Sendable () -> Void

    private struct Queue: Sendable {
        var jobs: [Job] = []
        var head = 0
        var stopping = false
        var busy = 0
        var exited = 0
        var count: Int { jobs.count - head }
        mutating func pop() -> Job? {
            guard head < jobs.count else { return nil }
            let job = jobs[head]
            head += 1
            if head == jobs.count { jobs.removeAll(keepingCapacity: true); head = 0 }
            else if head >= 1024 && head * 2 >= jobs.count { jobs.removeSubrange(0..<head); head = 0 }
            return job
        }
    }

    public let name: String
    public let threadCount: Int
    private let queue = ConditionLock(Queue())
    private let threads = Lock<[ThreadHandle]>([])

    public init(name: String, threads: Int) {
        precondition(threads > 0)
        self.name = name
        self.threadCount = threads
        var handles: [ThreadHandle] = []
        for i in 0..<threads {
            handles.append(ThreadHandle.start(name: "\(name)-\(i)") { [queue] in WorkerPool.runWorker(queue) })
        }
        self.threads.withLock { $0 = handles }
    }

    private static func runWorker(_ queue: ConditionLock<Queue>) {
        while true {
            let next: Job? = queue.wait(deadlineNanos: nil) { q -> Job?? in
                if let job = q.pop() { q.busy += 1; return .some(job) }
                if q.stopping { return .some(nil) }
                return nil
            } ?? nil
            guard let job = next else { break }
            job()
            queue.withLock { $0.busy -= 1 }
        }
        queue.withLock { $0.exited += 1 }
        queue.broadcast()
    }

    /// Queues a job. Jobs submitted after `shutdown` are dropped.
    public func submit(_ job: @escaping Job) {
        let accepted = queue.withLock { q -> Bool in
            if q.stopping { return false }
            q.jobs.append(job)
            return true
        }
        if accepted { queue.signal() }
    }

    /// Jobs waiting plus jobs running.
    public var load: (queued: Int, busy: Int) { queue.withLock { ($0.count, $0.busy) } }

    /// Lets queued jobs finish, then stops the threads; waits at most until `deadlineNanos` (monotonic).
    /// Returns false when some job was still running at the deadline (its thread is left behind).
    @discardableResult
    public func shutdown(deadlineNanos: UInt64) -> Bool {
        queue.withLock { $0.stopping = true }
        queue.broadcast()
        let allExited = queue.wait(deadlineNanos: deadlineNanos) { q -> Bool? in
            q.exited == self.threadCount ? true : nil
        } ?? false
        if allExited {
            let handles = threads.withLock { h -> [ThreadHandle] in let c = h; h = []; return c }
            for t in handles { t.join() }
        }
        return allExited
    }
}
