import Synchronization
import Locking

final class AtomicDouble: Sendable {
    // Stored as bit patterns; updated with a compare-and-swap loop.
    private let bits = Atomic<UInt64>(0)
    func add(_ v: Double) {
        var old = bits.load(ordering: .relaxed)
        while true {
            let new = (Double(bitPattern: old) + v).bitPattern
            let (exchanged, current) = bits.compareExchange(expected: old, desired: new, ordering: .relaxed)
            if exchanged { return }
            old = current
        }
    }
    func set(_ v: Double) { bits.store(v.bitPattern, ordering: .relaxed) }
    var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }
}
