/// Exponential back-off with "equal jitter": the n-th retry waits between half and all of
/// `min(cap, base · 2^(n-1))`, so retries from many endpoints that failed together spread out instead of
/// returning in lockstep, while each endpoint still waits at least half the nominal delay. Webhook delivery uses the
/// jittered delay; the gateway's tenant mover and request-log shipper the nominal one (one of each per region or move).
package struct RetrySchedule: Sendable, Equatable {
    /// The first nominal delay, in milliseconds.
    package var baseMillis: Int64
    /// The largest nominal delay, in milliseconds.
    package var capMillis: Int64

    /// A schedule.
    package init(baseMillis: Int64, capMillis: Int64) {
        self.baseMillis = max(1, baseMillis)
        self.capMillis = max(self.baseMillis, capMillis)
    }

    /// The nominal delay after the `attempt`-th consecutive failure (1-based).
    package func nominalDelayMillis(afterAttempt attempt: Int) -> Int64 {
        let shift = min(max(attempt - 1, 0), 40)
        let (product, overflow) = baseMillis.multipliedReportingOverflow(by: Int64(1) << Int64(shift))
        return overflow ? capMillis : min(capMillis, product)
    }

    /// The delay to wait, with `unit` a uniform random number in [0, 1).
    package func delayMillis(afterAttempt attempt: Int, unit: Double) -> Int64 {
        let nominal = nominalDelayMillis(afterAttempt: attempt)
        let half = nominal / 2
        return half + Int64(Double(nominal - half) * min(max(unit, 0), 0.999_999))
    }
}
