import Synchronization
import Locking

/// Series storage shared by the metric kinds: sharded by label values.
final class SeriesTable<Series: AnyObject & Sendable>: Sendable {
    private final class Shard: Sendable {
        let series = Lock<[[String]: Series]>([:])
    }
    private let shards: [Shard] = (0..<16).map { _ in Shard() }
    private let make: @Sendable () -> Series

    init(make: @escaping @Sendable () -> Series) { self.make = make }

    func series(_ labels: [String]) -> Series {
        let shard = shards[Int(UInt(bitPattern: labels.hashValue) % 16)]
        return shard.series.withLock { table in
            if let s = table[labels] { return s }
            let s = make()
            table[labels] = s
            return s
        }
    }

    var all: [([String], Series)] {
        shards.flatMap { $0.series.withLock { Array($0.map { ($0.key, $0.value) }) } }
            .sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }
}
