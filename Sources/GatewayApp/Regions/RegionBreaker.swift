import Locking
import Telemetry

/// A region's breaker behind a lock, shared by every request thread and the health checker.
final class RegionBreaker: Sendable {
    private let breaker: Lock<CircuitBreaker>

    init(failureThreshold: Int, openDuration: Duration) {
        breaker = Lock(CircuitBreaker(failureThreshold: failureThreshold, openDurationNanos: openDuration.nanoseconds))
    }

    func admit(now: UInt64) -> CircuitBreaker.Admission { breaker.withLock { $0.admit(now: now) } }
    func record(success: Bool, trial: Bool, now: UInt64) { breaker.withLock { $0.record(success: success, trial: trial, now: now) } }
    func probe(up: Bool, now: UInt64) { breaker.withLock { $0.probe(up: up, now: now) } }
    var state: CircuitBreaker.State { breaker.withLock { $0.state } }
}
