import Lifecycle
import Locking
import Synchronization
import Testing
import TestSupport

@Suite struct WorkQueueTests {
    @Test func runsJobsOnItsOwnThreadsRefusesWhenFullAndDrainsOnShutdown() throws {
        let queue = WorkQueue(name: "wq-test", threads: 2, capacity: 4)
        #expect(!queue.submit {}, "a queue that has not started takes nothing")
        try queue.start()
        let gate = ConditionLock(false)
        let done = Atomic<Int>(0)
        // Two jobs block both threads; four more fill the queue; the seventh is refused at once.
        for _ in 0..<2 {
            #expect(queue.submit { _ = gate.wait(deadlineNanos: nil) { $0 ? true : nil }; done.add(1, ordering: .relaxed) })
        }
        let deadline = monotonicMillis() + 5000
        while queue.depth.running < 2 && monotonicMillis() < deadline { sleepMillis(5) }
        #expect(queue.depth.running == 2)
        for _ in 0..<4 { #expect(queue.submit { done.add(1, ordering: .relaxed) }) }
        #expect(queue.depth.queued == 4)
        #expect(!queue.submit { done.add(1, ordering: .relaxed) })
        gate.withLock { $0 = true }
        gate.broadcast()
        queue.shutdown(gracePeriod: .seconds(5))
        #expect(done.load(ordering: .relaxed) == 6)
        #expect(!queue.submit {}, "a stopped queue takes nothing")
    }
}
