import Locking
import Telemetry

/// A background thread that runs `tick` every `interval` until stopped. It sleeps on a condition variable, so
/// `stop` ends the wait at once instead of after the interval. `PeriodicService` runs every background job on it.
public final class PeriodicThread: Sendable {
    private let stopped = ConditionLock<Bool>(false)
    private let handle = Lock<ThreadHandle?>(nil)
    private let name: String

    public init(name: String) { self.name = name }

    /// Starts the loop; `tick` returns false to end it.
    public func start(interval: Duration, _ tick: @escaping @Sendable () -> Bool) {
        let nanos = interval.nanoseconds
        let thread = ThreadHandle.start(name: name) { [stopped] in
            while true {
                let stop = stopped.wait(deadlineNanos: Timestamp.monotonicNanos() + nanos) { $0 ? true : nil }
                if stop == true { return }
                if !tick() { return }
            }
        }
        handle.withLock { $0 = thread }
    }

    /// Ends the loop; with `wait`, also waits for a tick in progress to finish (never call that from `tick`).
    public func stop(wait: Bool = false) {
        stopped.withLock { $0 = true }
        stopped.broadcast()
        if wait, let thread = handle.withLock({ h -> ThreadHandle? in let t = h; h = nil; return t }) { thread.join() }
    }
}
