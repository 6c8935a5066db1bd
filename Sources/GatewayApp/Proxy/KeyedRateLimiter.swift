import Synchronization
import Locking

/// Many buckets by key, sharded so tenants do not contend on one lock. Full buckets are dropped now and then,
/// so memory follows the set of recently active keys.
final class KeyedRateLimiter: Sendable {
    private final class Shard: Sendable {
        let buckets = Lock<[String: TokenBucket]>([:])
    }
    private let shards: [Shard] = (0..<16).map { _ in Shard() }
    private let operations = Atomic<Int>(0)

    init() {}

    func take(_ key: String, rate: Double, burst: Double, nowNanos: UInt64) -> (allowed: Bool, retryAfterSeconds: Int) {
        if rate <= 0 { return (true, 0) }
        let shard = shards[Int(UInt(bitPattern: key.hashValue) % 16)]
        let result = shard.buckets.withLock { b -> (Bool, Int) in
            var bucket = b[key] ?? TokenBucket(burst: burst, nowNanos: nowNanos)
            let r = bucket.take(rate: rate, burst: burst, nowNanos: nowNanos)
            b[key] = bucket
            return r
        }
        if operations.add(1, ordering: .relaxed).newValue % 50_000 == 0 { prune(rate: rate, burst: burst, nowNanos: nowNanos) }
        return result
    }

    /// `TokenBucket.reserve` on the key's bucket (unlimited when `rate` ≤ 0).
    func reserve(_ key: String, rate: Double, burst: Double, maxDelay: Double, nowNanos: UInt64) -> TokenBucket.Reservation {
        if rate <= 0 { return .now }
        let shard = shards[Int(UInt(bitPattern: key.hashValue) % 16)]
        let result = shard.buckets.withLock { b -> TokenBucket.Reservation in
            var bucket = b[key] ?? TokenBucket(burst: burst, nowNanos: nowNanos)
            let r = bucket.reserve(rate: rate, burst: burst, maxDelay: maxDelay, nowNanos: nowNanos)
            b[key] = bucket
            return r
        }
        if operations.add(1, ordering: .relaxed).newValue % 50_000 == 0 { prune(rate: rate, burst: burst, nowNanos: nowNanos) }
        return result
    }

    /// Without taking: would a request be refused now?
    func isExhausted(_ key: String, rate: Double, burst: Double, nowNanos: UInt64) -> Bool {
        if rate <= 0 { return false }
        let shard = shards[Int(UInt(bitPattern: key.hashValue) % 16)]
        return shard.buckets.withLock { b in
            guard var bucket = b[key] else { return false }
            if nowNanos > bucket.lastNanos {
                bucket.tokens = min(burst, bucket.tokens + Double(nowNanos - bucket.lastNanos) / 1e9 * rate)
            }
            return bucket.tokens < 1
        }
    }

    private func prune(rate: Double, burst: Double, nowNanos: UInt64) {
        for shard in shards {
            shard.buckets.withLock { b in
                for (key, bucket) in b where bucket.isFull(rate: rate, burst: burst, nowNanos: nowNanos) { b[key] = nil }
            }
        }
    }
}
