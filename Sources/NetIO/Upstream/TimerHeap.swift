#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
public import HTTPCore
import Telemetry
import Locking
import Lifecycle

/// Delayed tasks by deadline (a binary min-heap; ties in insertion order do not matter here).
struct TimerHeap: Sendable {
    private var entries: [(deadline: UInt64, task: @Sendable () -> Void)] = []
    var closed = false

    var count: Int { entries.count }

    mutating func push(_ deadline: UInt64, _ task: @escaping @Sendable () -> Void) {
        entries.append((deadline, task))
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[parent].deadline > entries[i].deadline else { break }
            entries.swapAt(parent, i)
            i = parent
        }
    }

    /// Every task whose deadline has come, earliest first.
    mutating func popDue(now: UInt64) -> [@Sendable () -> Void] {
        var due: [@Sendable () -> Void] = []
        while let first = entries.first, first.deadline <= now {
            due.append(first.task)
            let last = entries.removeLast()
            guard !entries.isEmpty else { break }
            entries[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < entries.count && entries[l].deadline < entries[smallest].deadline { smallest = l }
                if r < entries.count && entries[r].deadline < entries[smallest].deadline { smallest = r }
                if smallest == i { break }
                entries.swapAt(i, smallest)
                i = smallest
            }
        }
        return due
    }

    /// The earliest deadline, if any.
    var earliest: UInt64? { entries.first?.deadline }

    mutating func drain() -> [@Sendable () -> Void] {
        let all = entries.sorted { $0.deadline < $1.deadline }.map(\.task)
        entries = []
        return all
    }
}
