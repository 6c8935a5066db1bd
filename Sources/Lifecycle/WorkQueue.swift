import Locking
import Telemetry

/// A few threads of its own and a bounded FIFO: where work that blocks (a database round trip) runs, so the
/// threads that read requests never wait on it. A full queue refuses at once (`submit` returns false) instead of
/// growing: the caller answers 503 and the process keeps its memory and its latency.
public final class WorkQueue: Service {
    private struct State: Sendable {
        var jobs: [@Sendable () -> Void] = []
        var head = 0
        var running = false
        var stopping = false
        var busy = 0
    }

    public let name: String
    public let threads: Int
    public let capacity: Int
    private let state = ConditionLock(State())
    private let handles = Lock<[ThreadHandle]>([])

    public init(name: String, threads: Int, capacity: Int) {
        precondition(threads >= 1 && capacity >= 1)
        self.name = name
        self.threads = threads
        self.capacity = capacity
    }

    /// Queues `job`; false when the queue is full or stopping (the job will not run).
    public func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        let accepted = state.withLock { s -> Bool in
            guard s.running, !s.stopping, s.jobs.count - s.head < capacity else { return false }
            s.jobs.append(job)
            return true
        }
        if accepted { state.signal() }
        return accepted
    }

    /// Jobs waiting and jobs running now.
    public var depth: (queued: Int, running: Int) {
        state.withLock { ($0.jobs.count - $0.head, $0.busy) }
    }

    public func start() throws {
        state.withLock { $0.running = true }
        let started = (0..<threads).map { i in
            ThreadHandle.start(name: "\(name)-\(i)") { [state] in
                while true {
                    let next = state.wait(deadlineNanos: nil) { s -> (@Sendable () -> Void)?? in
                        if s.head < s.jobs.count {
                            let job = s.jobs[s.head]
                            s.head += 1
                            if s.head > 64 && s.head * 2 > s.jobs.count {
                                s.jobs.removeFirst(s.head)
                                s.head = 0
                            }
                            s.busy += 1
                            return .some(job)
                        }
                        return s.stopping ? .some(nil) : nil
                    }
                    guard let job = next ?? nil else { return }
                    job()
                    // Shutdown waits on the same condition for the queue to drain: wake it.
                    if state.withLock({ s -> Bool in s.busy -= 1; return s.stopping }) { state.broadcast() }
                }
            }
        }
        handles.withLock { $0 = started }
    }

    /// Refuses new jobs, lets the queued ones run until `gracePeriod`, then returns (threads still in a job are
    /// left to finish on their own: the process is ending).
    public func shutdown(gracePeriod: Duration) {
        state.withLock { $0.stopping = true }
        state.broadcast()
        let deadline = Timestamp.monotonicNanos() + UInt64(max(0, gracePeriod.nanoseconds))
        let drained = state.wait(deadlineNanos: deadline) { s in (s.head >= s.jobs.count && s.busy == 0) ? true : nil }
        if drained == true {
            for h in handles.withLock({ h -> [ThreadHandle] in let all = h; h = []; return all }) { h.join() }
        }
    }
}
