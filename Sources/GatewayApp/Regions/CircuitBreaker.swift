import Locking
import Telemetry

/// Whether the gateway sends a region traffic at all. A pure state machine fed by two signals:
/// - the health checker's probe of the region's `/readyz` (`probe(up:)`): a failed probe opens the breaker and keeps
///   it open until a probe succeeds, which closes it;
/// - live traffic (`record`): `failureThreshold` consecutive failures (timeouts, broken connections, the region's
///   own 503) open it for `openDuration`; then it is half-open and lets one trial request through; the trial's
///   success closes it, its failure opens it again.
/// While open, requests are refused at once (503 + `Retry-After`), so a sick region costs its tenants a fast answer
/// and holds nothing.
struct CircuitBreaker: Sendable, Equatable {
    enum State: String, Sendable, Equatable {
        case closed, open, halfOpen = "half_open"
    }

    let failureThreshold: Int
    let openDurationNanos: UInt64
    private(set) var state: State = .closed
    private(set) var consecutiveFailures = 0
    /// When the breaker last opened (monotonic nanoseconds).
    private(set) var openedAt: UInt64 = 0
    /// The last probe failed: stay open whatever the clock says.
    private(set) var probeDown = false
    private var trialInFlight = false

    init(failureThreshold: Int = 5, openDurationNanos: UInt64 = 2_000_000_000) {
        self.failureThreshold = max(1, failureThreshold)
        self.openDurationNanos = openDurationNanos
    }

    enum Admission: Equatable {
        case allowed
        /// A half-open trial: report its outcome with `record(trial: true)`.
        case trial
        /// Refused; retry after this many seconds.
        case refused(retryAfterSeconds: Int)
    }

    mutating func admit(now: UInt64) -> Admission {
        switch state {
        case .closed:
            return .allowed
        case .open:
            if !probeDown && now >= openedAt + openDurationNanos {
                state = .halfOpen
                trialInFlight = true
                return .trial
            }
            return .refused(retryAfterSeconds: retryAfter(now: now))
        case .halfOpen:
            if probeDown { return .refused(retryAfterSeconds: 1) }
            if trialInFlight { return .refused(retryAfterSeconds: 1) }
            trialInFlight = true
            return .trial
        }
    }

    /// The outcome of a request that was let through (`trial`: it was the half-open trial).
    mutating func record(success: Bool, trial: Bool, now: UInt64) {
        if trial { trialInFlight = false }
        if success {
            consecutiveFailures = 0
            if state == .halfOpen && trial && !probeDown { state = .closed }
            return
        }
        consecutiveFailures += 1
        switch state {
        case .closed:
            if consecutiveFailures >= failureThreshold { open(now: now) }
        case .halfOpen:
            if trial { open(now: now) }
        case .open:
            break
        }
    }

    /// The health checker's verdict.
    mutating func probe(up: Bool, now: UInt64) {
        probeDown = !up
        if up {
            if state != .closed {
                state = .closed
                consecutiveFailures = 0
                trialInFlight = false
            }
        } else if state != .open {
            open(now: now)
        }
    }

    private mutating func open(now: UInt64) {
        state = .open
        openedAt = now
        trialInFlight = false
    }

    /// Seconds until the breaker will next let a request through (at least 1).
    func retryAfter(now: UInt64) -> Int {
        guard state == .open, !probeDown else { return 1 }
        let until = openedAt + openDurationNanos
        return now >= until ? 1 : max(1, Int((until - now + 999_999_999) / 1_000_000_000))
    }
}
