import Synchronization
import Locking

/// A token bucket: `rate` tokens per second up to `burst`. Pure value; the owner keeps time.
struct TokenBucket: Sendable, Equatable {
    var tokens: Double
    var lastNanos: UInt64

    init(burst: Double, nowNanos: UInt64) {
        tokens = burst
        lastNanos = nowNanos
    }

    /// Takes one token if available; otherwise returns the seconds until one will be (for `Retry-After`).
    mutating func take(rate: Double, burst: Double, nowNanos: UInt64) -> (allowed: Bool, retryAfterSeconds: Int) {
        if nowNanos > lastNanos {
            tokens = min(burst, tokens + Double(nowNanos - lastNanos) / 1e9 * rate)
            lastNanos = nowNanos
        }
        if tokens >= 1 {
            tokens -= 1
            return (true, 0)
        }
        let wait = rate > 0 ? (1 - tokens) / rate : 60
        return (false, max(1, Int(wait.rounded(.up))))
    }

    /// Shaping instead of refusing: a request beyond the bucket may wait for its token, up to `maxDelay` seconds.
    /// Waiting requests each take their token ahead of time (the bucket goes into debt), so the tenant is held to
    /// `rate` however many requests it sends at once, and a waiting request's delay is fixed when it arrives (a
    /// virtual queue in the order requests came). Refused (429) only when the wait would exceed `maxDelay`; then
    /// `retryAfterSeconds` says when one would be admitted again.
    mutating func reserve(rate: Double, burst: Double, maxDelay: Double, nowNanos: UInt64) -> Reservation {
        if nowNanos > lastNanos {
            tokens = min(burst, tokens + Double(nowNanos - lastNanos) / 1e9 * rate)
            lastNanos = nowNanos
        }
        if tokens >= 1 {
            tokens -= 1
            return .now
        }
        guard rate > 0 else { return .refused(retryAfterSeconds: 60) }
        let wait = (1 - tokens) / rate
        if wait <= maxDelay {
            tokens -= 1
            return .after(seconds: wait)
        }
        return .refused(retryAfterSeconds: max(1, Int((wait - maxDelay).rounded(.up))))
    }

    enum Reservation: Equatable {
        case now
        /// Admitted; forward after this many seconds.
        case after(seconds: Double)
        case refused(retryAfterSeconds: Int)
    }

    func isFull(rate: Double, burst: Double, nowNanos: UInt64) -> Bool {
        let refilled = tokens + Double(nowNanos &- lastNanos) / 1e9 * rate
        return refilled >= burst
    }
}
