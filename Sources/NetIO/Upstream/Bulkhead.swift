/// Admission for one upstream: at most `maxInFlight` exchanges at once (one per connection: HTTP/1.1 without
/// pipelining), at most `maxQueued` waiting behind them, each for at most its queue deadline. Everything beyond
/// is refused at once, so a hung upstream costs its callers a fast refusal and nobody else anything. A pure state
/// machine (the pool holds it under its lock and acts on what it returns), tested without sockets.
struct Bulkhead<Waiter: Sendable>: Sendable {
    let maxInFlight: Int
    let maxQueued: Int
    private(set) var inFlight = 0
    /// Waiters in arrival order; `head` is the first one still present (a ring would save little at these sizes).
    private var queue: [(waiter: Waiter, deadline: UInt64)] = []
    private var head = 0

    init(maxInFlight: Int, maxQueued: Int) {
        self.maxInFlight = max(1, maxInFlight)
        self.maxQueued = max(0, maxQueued)
    }

    var queued: Int { queue.count - head }

    enum Admission: Equatable {
        /// A slot is taken: run now.
        case run
        /// Waiting for a slot.
        case queued
        /// In-flight cap and queue are both full.
        case rejected
    }

    /// A new exchange: run it, queue it until `deadline` (monotonic nanoseconds), or refuse it.
    mutating func admit(_ waiter: Waiter, deadline: UInt64) -> Admission {
        if inFlight < maxInFlight && queued == 0 {
            inFlight += 1
            return .run
        }
        guard queued < maxQueued else { return .rejected }
        queue.append((waiter, deadline))
        return .queued
    }

    /// A slot was freed. Waiters whose deadline passed come back as `expired` (refuse them); the first live one
    /// takes the slot (`next`, run it); with none left the slot is given back.
    mutating func release(now: UInt64) -> (next: Waiter?, expired: [Waiter]) {
        var expired: [Waiter] = []
        while head < queue.count {
            let entry = queue[head]
            head += 1
            if entry.deadline <= now {
                expired.append(entry.waiter)
                continue
            }
            compact()
            return (entry.waiter, expired)
        }
        compact()
        inFlight -= 1
        return (nil, expired)
    }

    /// Takes out every waiter whose deadline has passed (the timer calls this).
    mutating func expire(now: UInt64) -> [Waiter] {
        guard queued > 0 else { return [] }
        var kept: [(waiter: Waiter, deadline: UInt64)] = []
        var expired: [Waiter] = []
        for entry in queue[head...] {
            if entry.deadline <= now { expired.append(entry.waiter) } else { kept.append(entry) }
        }
        queue = kept
        head = 0
        return expired
    }

    /// Takes out every waiter (shutdown).
    mutating func drain() -> [Waiter] {
        let all = queue[head...].map(\.waiter)
        queue = []
        head = 0
        return all
    }

    private mutating func compact() {
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= queue.count {
            queue.removeFirst(head)
            head = 0
        }
    }
}
