import Testing
@testable import GatewayApp

/// The region breaker's transitions, without a clock or a network.
@Suite struct CircuitBreakerTests {
    let second: UInt64 = 1_000_000_000

    @Test func consecutiveFailuresOpenItAndATrialClosesIt() {
        var b = CircuitBreaker(failureThreshold: 3, openDurationNanos: 2 * second)
        for _ in 0..<2 { b.record(success: false, trial: false, now: 0) }
        #expect(b.state == .closed)
        // A success in between resets the count.
        b.record(success: true, trial: false, now: 0)
        for _ in 0..<3 { b.record(success: false, trial: false, now: second) }
        #expect(b.state == .open)
        #expect(b.admit(now: second + 1) == .refused(retryAfterSeconds: 2))
        #expect(b.admit(now: 2 * second + 500_000_000) == .refused(retryAfterSeconds: 1))
        // After the open period: one trial, the others still refused.
        #expect(b.admit(now: 3 * second) == .trial)
        #expect(b.state == .halfOpen)
        #expect(b.admit(now: 3 * second) == .refused(retryAfterSeconds: 1))
        b.record(success: true, trial: true, now: 3 * second)
        #expect(b.state == .closed)
        #expect(b.admit(now: 3 * second) == .allowed)
    }

    @Test func aFailedTrialOpensItAgain() {
        var b = CircuitBreaker(failureThreshold: 1, openDurationNanos: second)
        b.record(success: false, trial: false, now: 0)
        #expect(b.admit(now: second) == .trial)
        b.record(success: false, trial: true, now: second)
        #expect(b.state == .open)
        #expect(b.admit(now: second + 1) == .refused(retryAfterSeconds: 1))
        #expect(b.admit(now: 2 * second) == .trial)
    }

    @Test func aFailedProbeKeepsItOpenUntilAProbeSucceeds() {
        var b = CircuitBreaker(failureThreshold: 5, openDurationNanos: second)
        b.probe(up: false, now: 0)
        #expect(b.state == .open)
        // However long it has been, no trial while the probe says down.
        #expect(b.admit(now: 100 * second) == .refused(retryAfterSeconds: 1))
        b.probe(up: true, now: 100 * second)
        #expect(b.state == .closed)
        #expect(b.admit(now: 100 * second) == .allowed)
    }

    @Test func lateOutcomesOfOrdinaryRequestsDoNotCloseAnOpenBreaker() {
        var b = CircuitBreaker(failureThreshold: 1, openDurationNanos: second)
        b.record(success: false, trial: false, now: 0)
        // A request admitted before the breaker opened succeeds late: not a trial, the breaker stays open.
        b.record(success: true, trial: false, now: 1)
        #expect(b.state == .open)
    }
}
