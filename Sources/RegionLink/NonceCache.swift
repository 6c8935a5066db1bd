public import HTTPCore
import Crypto
import Synchronization
import Locking

/// Nonces seen within the replay window, expired in arrival order.
struct NonceCache: Sendable {
    private var expiries: [String: Int] = [:]
    private var order: [(String, Int)] = []
    private var head = 0

    /// False when `nonce` was already seen and has not expired.
    mutating func insert(_ nonce: String, expires: Int, now: Int) -> Bool {
        while head < order.count, order[head].1 < now {
            if expiries[order[head].0] == order[head].1 { expiries[order[head].0] = nil }
            head += 1
        }
        if head > 4096 && head * 2 > order.count {
            order.removeSubrange(0..<head)
            head = 0
        }
        if let e = expiries[nonce], e >= now { return false }
        expiries[nonce] = expires
        order.append((nonce, expires))
        return true
    }
}
