import Testing
import HTTPCore
import NetIO
import Telemetry
import TestSupport
import Locking
import Lifecycle

@Suite(.serialized) struct HTTPClientTests {
    @Test func reusesKeepAliveConnections() throws {
        try withServer { server in
            let client = HTTPClient(host: "127.0.0.1", port: server.port)
            for i in 0..<50 {
                let r = try client.send(HTTPRequest(method: .get, target: "/c/\(i)"))
                #expect(r.bodyText == "/c/\(i)")
            }
            let post = try client.send(HTTPRequest(method: .post, target: "/body", body: Array("12345".utf8)))
            #expect(post.bodyText == "5")
            #expect(client.connectionsOpened == 1)
        }
    }

    @Test func concurrentCallersGetTheirOwnAnswers() throws {
        try withServer({ $0.workerThreads = 8 }) { server in
            let client = HTTPClient(host: "127.0.0.1", port: server.port)
            let results = ConditionLock([Int: String]())
            var threads: [ThreadHandle] = []
            for t in 0..<8 {
                threads.append(ThreadHandle.start(name: "caller") {
                    for i in 0..<25 {
                        let r = try? client.send(HTTPRequest(method: .get, target: "/t/\(t)/\(i)"))
                        results.withLock { $0[t * 100 + i] = r?.bodyText }
                    }
                })
            }
            threads.forEach { $0.join() }
            let all = results.withLock { $0 }
            #expect(all.count == 200)
            for (key, value) in all { #expect(value == "/t/\(key / 100)/\(key % 100)") }
            #expect(client.connectionsOpened <= 8)
        }
    }

    @Test func upstreamDownIsAClearErrorWithoutWaiting() throws {
        // Bind and close to find a port where nothing listens.
        var port = 0
        try withServer { port = $0.port }
        let client = HTTPClient(host: "127.0.0.1", port: port)
        let start = monotonicMillis()
        do {
            _ = try client.send(HTTPRequest(method: .get, target: "/"))
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .connectFailed)
            #expect(error.description.contains("unreachable"))
        }
        #expect(monotonicMillis() - start < 1000)
    }

    @Test func slowUpstreamTimesOut() throws {
        try withServer { server in
            let client = HTTPClient(host: "127.0.0.1", port: server.port)
            let start = monotonicMillis()
            do {
                _ = try client.send(HTTPRequest(method: .get, target: "/slow?ms=2000"), timeout: .milliseconds(300))
                Issue.record("expected a timeout")
            } catch let error as HTTPClientError {
                #expect(error.kind == .timeout)
            }
            #expect(monotonicMillis() - start < 1500)
        }
    }

    /// Without a per-call timeout the client waits in a blocking recv bounded by the socket's receive timeout (the
    /// configured request timeout): a silent upstream still ends in `.timeout`, close to that bound.
    @Test func configuredRequestTimeoutBoundsTheBlockingReceive() throws {
        try withServer { server in
            var configuration = HTTPClientConfiguration()
            configuration.requestTimeout = .milliseconds(300)
            let client = HTTPClient(host: "127.0.0.1", port: server.port, configuration: configuration)
            let warm = try client.send(HTTPRequest(method: .get, target: "/warm"))
            #expect(warm.bodyText == "/warm")
            let start = monotonicMillis()
            do {
                _ = try client.send(HTTPRequest(method: .get, target: "/slow?ms=2000"))
                Issue.record("expected a timeout")
            } catch let error as HTTPClientError {
                #expect(error.kind == .timeout)
            }
            let waited = monotonicMillis() - start
            #expect(waited >= 250 && waited < 1500, "waited \(waited) ms")
        }
    }

    /// Idempotent requests skip the liveness probe of pooled connections: one the server closed is retried.
    @Test func idempotentRequestOnAClosedPooledConnectionIsRetried() throws {
        try withServer({ $0.idleTimeout = .seconds(1) }) { server in
            let client = HTTPClient(host: "127.0.0.1", port: server.port)
            let first = try client.send(HTTPRequest(method: .get, target: "/one"))
            #expect(first.bodyText == "/one")
            sleepMillis(1600)  // the server closes the pooled connection
            let second = try client.send(HTTPRequest(method: .get, target: "/two"))
            #expect(second.bodyText == "/two")
            #expect(client.connectionsOpened == 2)
        }
    }

    @Test func retriesWhenTheServerClosedAnIdleConnection() throws {
        try withServer({ $0.idleTimeout = .seconds(1) }) { server in
            let client = HTTPClient(host: "127.0.0.1", port: server.port)
            let first = try client.send(HTTPRequest(method: .get, target: "/one"))
            #expect(first.bodyText == "/one")
            sleepMillis(1600)  // the server closes the pooled connection
            let second = try client.send(HTTPRequest(method: .post, target: "/body", body: [1, 2]))
            #expect(second.bodyText == "2")
            #expect(client.connectionsOpened == 2)
        }
    }
}
