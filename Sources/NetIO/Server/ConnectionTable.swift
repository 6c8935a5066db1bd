#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
import HTTPCore
import Telemetry
import Locking

/// Connections by file descriptor, with a generation so a stale event for a closed fd never reaches the
/// connection that reused the number. Sharded by fd so workers looking up different connections do not
/// contend on one lock (a single table lock was the top item in the profile).
final class ConnectionTable<Entry: TableEntry>: Sendable {
    private final class Shard: Sendable {
        let slots = Lock<[Int: Entry]>([:])
    }
    private static var shardCount: Int { 64 }
    private let shards: [Shard] = (0..<64).map { _ in Shard() }
    private let generations = Lock<[Int32: UInt32]>([:])
    private let counter = Atomic<Int>(0)

    var count: Int { counter.load(ordering: .relaxed) }

    private func shard(_ fd: Int32) -> Shard { shards[Int(fd) & (Self.shardCount - 1)] }

    func insert(fd: Int32, make: (UInt64) -> Entry) -> Entry {
        let generation = generations.withLock { g -> UInt32 in
            let next = (g[fd] ?? 0) &+ 1
            g[fd] = next
            return next
        }
        let entry = make(UInt64(UInt32(bitPattern: fd)) << 32 | UInt64(generation))
        shard(fd).slots.withLock { $0[Int(fd)] = entry }
        counter.add(1, ordering: .relaxed)
        return entry
    }

    func lookup(_ key: UInt64) -> Entry? {
        let fd = Int32(truncatingIfNeeded: key >> 32)
        return shard(fd).slots.withLock { slots in
            guard let c = slots[Int(fd)], c.key == key else { return nil }
            return c
        }
    }

    /// Removes the entry; returns the number of entries left.
    func remove(_ entry: Entry) -> Int {
        let removed = shard(entry.fd).slots.withLock { slots -> Bool in
            guard let c = slots[Int(entry.fd)], c === entry else { return false }
            slots[Int(entry.fd)] = nil
            return true
        }
        if removed { return counter.subtract(1, ordering: .relaxed).newValue }
        return counter.load(ordering: .relaxed)
    }

    var all: [Entry] { shards.flatMap { $0.slots.withLock { Array($0.values) } } }
}
