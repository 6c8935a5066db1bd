#if canImport(Glibc)
import Glibc
#endif

/// A mutual-exclusion lock around a value, with the `withLock` shape of `Synchronization.Mutex`.
///
/// Why not `Mutex`: on Linux, Swift 6's `Mutex` spins about 500 `pause` instructions before it sleeps, and then sleeps
/// on a priority-inheritance futex (`FUTEX_LOCK_PI`). Our servers run many more worker threads than the machine has
/// cores (they block on PostgreSQL and upstream sockets); when the holder of a lock is descheduled, every waiter burns
/// its spin and then takes the kernel's slower PI path. Under the GET benchmark `perf` put 19% of the gateway's
/// samples and 14% of the region's in `_MutexHandle._lockSlow`. glibc's default mutex (what this wraps) takes the same
/// uncontended fast path (one compare-and-swap) and sleeps on a plain futex at once when contended.
///
/// Critical sections must stay short and must not block; the lock is not recursive.
public final class Lock<Value: ~Copyable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let value: UnsafeMutablePointer<Value>

    public init(_ initialValue: consuming Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
        value = .allocate(capacity: 1)
        value.initialize(to: initialValue)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        value.deinitialize(count: 1)
        value.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    @inlinable
    public func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        lock()
        defer { unlock() }
        return try body(&valuePointer.pointee)
    }

    @usableFromInline var valuePointer: UnsafeMutablePointer<Value> { value }
    @usableFromInline func lock() { pthread_mutex_lock(mutex) }
    @usableFromInline func unlock() { pthread_mutex_unlock(mutex) }
}
