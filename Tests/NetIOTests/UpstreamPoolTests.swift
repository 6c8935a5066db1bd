#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
@testable import NetIO
import Telemetry
import TestSupport
import Locking
import Lifecycle

/// Completions collected from loop threads, waited for with a deadline.
final class Answers: Sendable {
    private let results = ConditionLock<[(Int, Result<HTTPResponse, UpstreamError>, Int)]>([])
    let start = monotonicMillis()
    init() {}

    func callback(_ tag: Int) -> @Sendable (Result<HTTPResponse, UpstreamError>) -> Void {
        { [self] result in
            let at = monotonicMillis() - start
            results.withLock { $0.append((tag, result, at)) }
            results.broadcast()
        }
    }

    /// Waits for `count` answers (tag, result, milliseconds after `start`).
    func wait(for count: Int, timeoutMillis: Int = 10_000) -> [(tag: Int, result: Result<HTTPResponse, UpstreamError>, at: Int)] {
        let deadline = Timestamp.monotonicNanos() + UInt64(timeoutMillis) * 1_000_000
        let all = results.wait(deadlineNanos: deadline) { $0.count >= count ? $0 : nil } ?? results.withLock { $0 }
        return all.map { (tag: $0.0, result: $0.1, at: $0.2) }
    }
}

extension Result where Success == HTTPResponse, Failure == UpstreamError {
    var body: String? { if case .success(let r) = self { return r.bodyText } else { return nil } }
    var failure: UpstreamError.Kind? { if case .failure(let e) = self { return e.kind } else { return nil } }
}

func withLoop(_ body: (UpstreamLoop) throws -> Void) throws {
    let loop = UpstreamLoop(name: "test-up", threads: 2, tick: .milliseconds(20))
    loop.start()
    defer { loop.shutdown() }
    try body(loop)
}

@Suite(.serialized) struct UpstreamPoolTests {
    @Test func keepAliveConnectionsAreReused() throws {
        try withServer { server in
            try withLoop { loop in
                let pool = loop.pool(host: "127.0.0.1", port: server.port)
                for i in 0..<50 {
                    let answers = Answers()
                    pool.send(HTTPRequest(method: .get, target: "/n/\(i)"), completion: answers.callback(i))
                    #expect(answers.wait(for: 1).first?.result.body == "/n/\(i)")
                }
                let answers = Answers()
                pool.send(HTTPRequest(method: .post, target: "/body", body: Array("12345".utf8)), completion: answers.callback(0))
                #expect(answers.wait(for: 1).first?.result.body == "5")
                #expect(pool.statistics.connectionsOpened == 1)
                #expect(pool.statistics.completed == 51)
                #expect(pool.statistics.inFlight == 0 && pool.statistics.idle == 1)
            }
        }
    }

    @Test func theBulkheadRunsQueuesAndRefusesAtOnce() throws {
        try withServer({ $0.workerThreads = 8 }) { server in
            try withLoop { loop in
                var config = UpstreamConfiguration()
                config.maxConnections = 2
                config.maxQueued = 2
                config.queueTimeout = .seconds(2)
                let pool = loop.pool(host: "127.0.0.1", port: server.port, configuration: config)
                let answers = Answers()
                for i in 0..<6 { pool.send(HTTPRequest(method: .get, target: "/slow?ms=300"), completion: answers.callback(i)) }
                let all = answers.wait(for: 6)
                #expect(all.count == 6)
                // Two beyond cap + queue are refused before anything else happens, without being sent.
                let refused = all.filter { $0.result.failure == .overloaded }
                #expect(refused.count == 2)
                #expect(refused.allSatisfy { $0.at < 100 })
                if case .failure(let e) = refused.first?.result { #expect(!e.mayHaveReached) }
                // Two run at once, two wait for them: about 300 ms, then about 600 ms.
                let served = all.filter { $0.result.body == "slow done" }.map(\.at).sorted()
                #expect(served.count == 4)
                #expect(served[1] < 550 && served[2] >= 550)
                #expect(pool.statistics.connectionsOpened == 2)
                #expect(pool.statistics.rejected == 2)
            }
        }
    }

    @Test func aWaiterThatWaitsTooLongIsRefusedWithoutBeingSent() throws {
        try withServer { server in
            try withLoop { loop in
                var config = UpstreamConfiguration()
                config.maxConnections = 1
                config.maxQueued = 5
                config.queueTimeout = .milliseconds(200)
                let pool = loop.pool(host: "127.0.0.1", port: server.port, configuration: config)
                let answers = Answers()
                pool.send(HTTPRequest(method: .get, target: "/slow?ms=600"), completion: answers.callback(0))
                pool.send(HTTPRequest(method: .get, target: "/echo/queued"), completion: answers.callback(1))
                let all = answers.wait(for: 2)
                let queued = all.first { $0.tag == 1 }
                #expect(queued?.result.failure == .queueTimeout)
                #expect((queued?.at ?? 0) >= 180 && (queued?.at ?? 0) < 500)
                #expect(all.first { $0.tag == 0 }?.result.body == "slow done")
                #expect(server.stats.snapshot.requestsServed == 1)
            }
        }
    }

    @Test func anUpstreamThatNeverAnswersTimesOutAtTheFirstByteDeadline() throws {
        let blackhole = try SilentListener()
        defer { blackhole.close() }
        try withLoop { loop in
            var config = UpstreamConfiguration()
            config.firstByteTimeout = .milliseconds(300)
            let pool = loop.pool(host: "127.0.0.1", port: blackhole.port, configuration: config)
            let answers = Answers()
            for i in 0..<3 { pool.send(HTTPRequest(method: .post, target: "/x", body: [1]), completion: answers.callback(i)) }
            let all = answers.wait(for: 3)
            #expect(all.count == 3)
            for answer in all {
                #expect(answer.result.failure == .firstByteTimeout)
                #expect(answer.at >= 280 && answer.at < 800)
                if case .failure(let e) = answer.result { #expect(e.mayHaveReached) }
            }
            #expect(pool.statistics.timeouts == 3 && pool.statistics.inFlight == 0)
        }
    }

    @Test func nothingListeningFailsFastAndSaysTheRequestNeverLeft() throws {
        var port = 0
        try withServer { port = $0.port }
        try withLoop { loop in
            let pool = loop.pool(host: "127.0.0.1", port: port)
            let answers = Answers()
            pool.send(HTTPRequest(method: .post, target: "/x"), completion: answers.callback(0))
            let answer = try #require(answers.wait(for: 1).first)
            #expect(answer.result.failure == .connectFailed)
            if case .failure(let e) = answer.result { #expect(!e.mayHaveReached) }
            #expect(answer.at < 500)
            #expect(pool.statistics.inFlight == 0)
        }
    }

    @Test func aPooledConnectionTheServerClosedIsRetriedOnlyWhenThatIsSafe() throws {
        try withServer({ $0.idleTimeout = .milliseconds(300) }) { server in
            try withLoop { loop in
                let pool = loop.pool(host: "127.0.0.1", port: server.port)
                let first = Answers()
                pool.send(HTTPRequest(method: .get, target: "/echo/1"), completion: first.callback(0))
                #expect(first.wait(for: 1).first?.result.body == "/echo/1")
                sleepMillis(800)  // the server closed the idle connection meanwhile
                // GET is idempotent: the closed pooled connection fails it, and it is sent again on a fresh one.
                let again = Answers()
                pool.send(HTTPRequest(method: .get, target: "/echo/2"), completion: again.callback(0))
                #expect(again.wait(for: 1).first?.result.body == "/echo/2")
                // POST is not: the pooled connection is probed before use (found closed), never retried after sending.
                sleepMillis(800)
                let post = Answers()
                pool.send(HTTPRequest(method: .post, target: "/body", body: [1, 2, 3]), completion: post.callback(0))
                #expect(post.wait(for: 1).first?.result.body == "3")
                #expect(pool.statistics.connectionsOpened == 3)
                #expect(pool.statistics.retried <= 1)
                #expect(server.stats.snapshot.requestsServed == 3)
            }
        }
    }

    /// A DELETE on a pooled connection that the upstream closes without answering (it died after committing) is
    /// retried once; when nothing listens any more, the failure still says it may have reached the upstream (the
    /// gateway then names the region instead of "none", and a client does not take the 503 as "nothing happened").
    @Test func aRetryThatFailsToConnectStillSaysTheFirstAttemptMayHaveReached() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                bind(listener, p, length) == 0 && listen(listener, 4) == 0 ? getsockname(listener, p, &length) : -1
            }
        }
        try #require(bound == 0)
        let port = Int(UInt16(bigEndian: address.sin_port))
        // One connection: the first request is answered (the connection goes back to the pool), the second is read
        // and the process "dies": listener and connection closed, no answer.
        let backend = ThreadHandle.start(name: "dying-backend") {
            let c = accept(listener, nil, nil)
            func readHead() {
                var seen: [UInt8] = []
                var byte: UInt8 = 0
                while !seen.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)), read(c, &byte, 1) == 1 { seen.append(byte) }
            }
            readHead()
            let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
            _ = answer.withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
            readHead()
            close(listener)
            close(c)
        }
        defer { backend.join() }
        try withLoop { loop in
            let pool = loop.pool(host: "127.0.0.1", port: port)
            let first = Answers()
            pool.send(HTTPRequest(method: .get, target: "/first"), completion: first.callback(0))
            #expect(first.wait(for: 1).first?.result.body == "ok")
            let second = Answers()
            pool.send(HTTPRequest(method: .delete, target: "/Users/x"), completion: second.callback(0))
            let answer = try #require(second.wait(for: 1).first)
            #expect(answer.result.failure == .connectFailed)
            if case .failure(let e) = answer.result { #expect(e.mayHaveReached, "the first attempt was sent and got no answer") }
            #expect(pool.statistics.retried == 1)
        }
    }

    @Test func shutdownAnswersEveryPendingRequest() throws {
        let blackhole = try SilentListener()
        defer { blackhole.close() }
        let loop = UpstreamLoop(name: "test-up", threads: 2, tick: .milliseconds(20))
        loop.start()
        var config = UpstreamConfiguration()
        config.maxConnections = 2
        config.maxQueued = 10
        config.queueTimeout = .seconds(30)
        let pool = loop.pool(host: "127.0.0.1", port: blackhole.port, configuration: config)
        let answers = Answers()
        for i in 0..<5 { pool.send(HTTPRequest(method: .get, target: "/x"), completion: answers.callback(i)) }
        sleepMillis(200)
        loop.shutdown()
        let all = answers.wait(for: 5, timeoutMillis: 2000)
        #expect(all.count == 5)
        #expect(all.allSatisfy { $0.result.failure == .shuttingDown })
        let late = Answers()
        pool.send(HTTPRequest(method: .get, target: "/x"), completion: late.callback(0))
        #expect(late.wait(for: 1, timeoutMillis: 500).first?.result.failure == .shuttingDown)
    }
}

/// The loop's timer: delayed tasks run in deadline order, no earlier than asked, without a thread each.
@Suite struct TimerTests {
    @Test func heapPopsInDeadlineOrder() {
        var heap = TimerHeap()
        let order = ConditionLock<[Int]>([])
        for (i, d) in [50, 10, 40, 20, 30, 10].enumerated() { heap.push(UInt64(d), { order.withLock { $0.append(i) } }) }
        #expect(heap.earliest == 10)
        for task in heap.popDue(now: 25) { task() }
        #expect(Set(order.withLock { $0 }) == [1, 3, 5])
        #expect(heap.count == 3)
        for task in heap.popDue(now: 100) { task() }
        #expect(order.withLock { $0 }.suffix(3) == [4, 2, 0])
    }

    @Test func scheduledTasksRunAfterTheirDelay() {
        let loop = UpstreamLoop(name: "timer-test", threads: 1, tick: .milliseconds(500))
        loop.start()
        defer { loop.shutdown() }
        let start = monotonicMillis()
        let ran = ConditionLock<[(Int, Int)]>([])
        // A long delay first, then short ones: the timer must not oversleep the later, earlier deadlines.
        for (tag, delay) in [(0, 400), (1, 30), (2, 120), (3, 0)] {
            loop.schedule(after: .milliseconds(delay)) {
                ran.withLock { $0.append((tag, monotonicMillis() - start)) }
                ran.broadcast()
            }
        }
        let all = ran.wait(deadlineNanos: Timestamp.monotonicNanos() + 3_000_000_000) { $0.count == 4 ? $0 : nil } ?? []
        #expect(all.map(\.0) == [3, 1, 2, 0])
        for (tag, at) in all {
            let wanted = [400, 30, 120, 0][tag]
            // Slack for a loaded machine (tests run in parallel), still short of what oversleeping would show: tasks
            // 1–3 waiting for task 0's 400 ms deadline (250 ms), task 0 waiting for the 500 ms tick (90 ms).
            let slack = tag == 0 ? 90 : 250
            #expect(at >= wanted - 2 && at < wanted + slack, "task \(tag) ran at \(at) ms, wanted \(wanted)")
        }
    }

    @Test func tasksStillWaitingRunAtShutdown() {
        let loop = UpstreamLoop(name: "timer-test", threads: 1)
        loop.start()
        let ran = ConditionLock<Int>(0)
        for _ in 0..<5 { loop.schedule(after: .seconds(60)) { ran.withLock { $0 += 1 } } }
        loop.shutdown()
        #expect(ran.withLock { $0 } == 5)
        loop.schedule(after: .seconds(60)) { ran.withLock { $0 += 1 } }
        #expect(ran.withLock { $0 } == 6)
    }
}
