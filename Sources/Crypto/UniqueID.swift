import COpenSSL
import Synchronization

/// Identifiers that must be unique but not secret (request ids, signature nonces): a random per-process prefix
/// plus a counter. One random draw per process instead of one per request.
public enum UniqueID {
    private static let prefix = Base62.random(16)
    private static let counter = Atomic<UInt64>(0)

    public static func next() -> String {
        prefix + String(counter.add(1, ordering: .relaxed).newValue, radix: 36)
    }
}
