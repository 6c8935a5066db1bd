#if canImport(Glibc)
import Glibc
#endif

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
                var clock = timespec()
                clock_gettime(CLOCK_MONOTONIC, &clock)
                let now = UInt64(clock.tv_sec) * 1_000_000_000 + UInt64(clock.tv_nsec)
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
