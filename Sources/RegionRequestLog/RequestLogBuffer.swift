import Locking
import Telemetry

/// The bounded queue between the request path and the writer. `offer` never waits and never grows the queue past
/// its bounds (entries and bytes): a full buffer drops the entry and says so, and the caller counts it. Once the
/// buffer is three quarters full, successful reads are shed first: under overload the log keeps what an IT admin
/// looks for (errors and writes) over the lookups that succeeded. The writer takes everything queued at once
/// (`drain`), waiting until enough has accumulated or its interval has passed.
package final class RequestLogBuffer: Sendable {
    struct State: Sendable {
        var entries: [RequestLogEntry] = []
        var bytes = 0
        var closed = false
    }

    /// The most entries held.
    package let capacity: Int
    /// The most body bytes held (`RequestLogEntry.footprint`).
    package let byteCapacity: Int
    /// The writer is woken once this many entries wait (before its interval ends).
    let wakeAt: Int
    private let state = ConditionLock(State())

    package init(capacity: Int, byteCapacity: Int, wakeAt: Int) {
        self.capacity = max(1, capacity)
        self.byteCapacity = max(1, byteCapacity)
        self.wakeAt = max(1, min(wakeAt, capacity))
    }

    /// What became of an offered entry.
    package enum Offer: Sendable, Equatable {
        case queued
        /// Not queued: the buffer (or its byte budget) is full, or closed.
        case full
        /// Not queued: a successful read, and the buffer is three quarters full.
        case shed
    }

    /// Queues `entry` unless the buffer is full (or, for a successful read, three quarters full) or closed.
    package func offer(_ entry: RequestLogEntry) -> Offer {
        let size = entry.footprint
        let routine = entry.status < 400 && entry.method == "GET"
        let (offer, wake) = state.withLock { s -> (Offer, Bool) in
            guard !s.closed, s.entries.count < capacity, s.bytes + size <= byteCapacity else { return (.full, false) }
            if routine && s.entries.count >= capacity - capacity / 4 { return (.shed, false) }
            s.entries.append(entry)
            s.bytes += size
            return (.queued, s.entries.count == wakeAt)
        }
        if wake { state.signal() }
        return offer
    }

    /// Everything queued, once `wakeAt` entries wait, the deadline passes or the buffer is closed (possibly empty).
    func drain(deadlineNanos: UInt64) -> [RequestLogEntry] {
        _ = state.wait(deadlineNanos: deadlineNanos) { s in s.entries.count >= wakeAt || s.closed ? true : nil }
        return state.withLock { s in
            let taken = s.entries
            s.entries = []
            s.entries.reserveCapacity(min(capacity, 1024))
            s.bytes = 0
            return taken
        }
    }

    /// Entries waiting now.
    package var count: Int { state.withLock { $0.entries.count } }

    /// Refuses further entries and wakes the writer (shutdown).
    func close() {
        state.withLock { $0.closed = true }
        state.broadcast()
    }

    var isClosed: Bool { state.withLock { $0.closed } }
}
