import Testing
@testable import NetIO

/// The bulkhead's admission rules, without sockets.
@Suite struct BulkheadTests {
    @Test func runsUpToTheCapThenQueuesThenRefuses() {
        var b = Bulkhead<Int>(maxInFlight: 2, maxQueued: 2)
        #expect(b.admit(1, deadline: 100) == .run)
        #expect(b.admit(2, deadline: 100) == .run)
        #expect(b.admit(3, deadline: 100) == .queued)
        #expect(b.admit(4, deadline: 100) == .queued)
        #expect(b.admit(5, deadline: 100) == .rejected)
        #expect(b.inFlight == 2 && b.queued == 2)
        // A freed slot goes to the first waiter, in order, and the count stays.
        let first = b.release(now: 10)
        #expect(first.next == 3 && first.expired.isEmpty)
        #expect(b.inFlight == 2 && b.queued == 1)
        #expect(b.release(now: 10).next == 4)
        #expect(b.release(now: 10).next == nil)
        #expect(b.inFlight == 1)
        #expect(b.release(now: 10).next == nil)
        #expect(b.inFlight == 0)
    }

    @Test func expiredWaitersAreHandedBackNotRun() {
        var b = Bulkhead<Int>(maxInFlight: 1, maxQueued: 3)
        _ = b.admit(1, deadline: 0)
        _ = b.admit(2, deadline: 50)
        _ = b.admit(3, deadline: 200)
        _ = b.admit(4, deadline: 60)
        let released = b.release(now: 100)
        #expect(released.expired == [2])
        #expect(released.next == 3)
        #expect(b.expire(now: 100) == [4])
        #expect(b.queued == 0 && b.inFlight == 1)
    }

    @Test func aQueueOfZeroRefusesAtOnceAndDrainEmptiesIt() {
        var b = Bulkhead<Int>(maxInFlight: 1, maxQueued: 0)
        #expect(b.admit(1, deadline: 10) == .run)
        #expect(b.admit(2, deadline: 10) == .rejected)
        var c = Bulkhead<Int>(maxInFlight: 1, maxQueued: 5)
        _ = c.admit(0, deadline: 10)
        for i in 1...5 { _ = c.admit(i, deadline: 10) }
        #expect(c.drain() == [1, 2, 3, 4, 5])
        #expect(c.queued == 0)
    }

    @Test func longQueuesStayCompact() {
        var b = Bulkhead<Int>(maxInFlight: 1, maxQueued: 10_000)
        _ = b.admit(-1, deadline: .max)
        for i in 0..<5000 { _ = b.admit(i, deadline: .max) }
        for i in 0..<5000 { #expect(b.release(now: 0).next == i) }
        #expect(b.queued == 0 && b.inFlight == 1)
    }
}
