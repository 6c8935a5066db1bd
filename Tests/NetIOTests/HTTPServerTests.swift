#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import NetIO
import Telemetry
import TestSupport
import Locking
import Lifecycle

/// A responder for server tests: `/echo/...` answers the target, `/slow?ms=N` sleeps, `/body` answers the body size.
struct TestResponder: HTTPResponder {
    func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse {
        if request.path.hasPrefix("/slow") {
            let ms = Int(request.query?.split(separator: "=").last ?? "100") ?? 100
            sleepMillis(ms)
            return HTTPResponse(status: .ok, contentType: "text/plain", body: "slow done")
        }
        if request.path == "/body" {
            return HTTPResponse(status: .ok, contentType: "text/plain", body: "\(request.body.count)")
        }
        if request.path == "/close" {
            return HTTPResponse(status: .ok, headers: ["Connection": "close"], body: Array("bye".utf8))
        }
        return HTTPResponse(status: .ok, contentType: "text/plain", body: request.target)
    }
}

/// Starts a server on an ephemeral loopback port and stops it after `body`.
func withServer(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in },
                _ body: (HTTPServer) throws -> Void) throws {
    var config = HTTPServerConfiguration()
    config.name = "test"
    config.workerThreads = 4
    configure(&config)
    let server = HTTPServer(configuration: config, responder: TestResponder(),
                            logger: Logger(label: "test", level: .warning))
    try server.start()
    defer { server.shutdown(gracePeriod: .seconds(2)) }
    try body(server)
}

@Suite(.serialized) struct HTTPServerTests {
    @Test func keepAliveServesManyRequestsOnOneConnection() throws {
        try withServer { server in
            let c = try RawConnection(port: server.port)
            for i in 0..<100 {
                try c.send("GET /echo/\(i) HTTP/1.1\r\nHost: t\r\n\r\n")
                let r = try #require(try c.readResponse())
                #expect(r.status.code == 200)
                #expect(r.bodyText == "/echo/\(i)")
                #expect(r.headers["Date"] != nil)
            }
            #expect(server.stats.snapshot.connectionsAccepted == 1)
            #expect(server.stats.snapshot.requestsServed == 100)
        }
    }

    @Test func thousandPipelinedRequestsAreAnsweredInOrder() throws {
        try withServer { server in
            let c = try RawConnection(port: server.port)
            var burst = ""
            for i in 0..<1000 { burst += "GET /p/\(i) HTTP/1.1\r\nHost: t\r\n\r\n" }
            try c.send(burst)
            for i in 0..<1000 {
                let r = try #require(try c.readResponse(), "response \(i) missing")
                #expect(r.bodyText == "/p/\(i)")
            }
        }
    }

    @Test func tenMebibyteBodyGets413AndTheServerKeepsServing() throws {
        try withServer { server in
            let big = RawConnection.self
            _ = big
            let c = try RawConnection(port: server.port)
            try c.send("POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: \(10 << 20)\r\n\r\n")
            // The answer comes before the body is sent: the limit is checked on the header.
            let r = try #require(try c.readResponse())
            #expect(r.status.code == 413)
            #expect(r.headers["Connection"] == "close")
            #expect(c.waitForClose())

            let chunked = try RawConnection(port: server.port)
            try chunked.send("POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = String(repeating: "x", count: 1 << 20)
            var sent = 0
            var answer: HTTPResponse? = nil
            while sent < 10 << 20 {
                do { try chunked.send("100000\r\n\(chunk)\r\n") } catch { break }
                sent += 1 << 20
                if let r = try chunked.readResponse(timeoutMillis: 10) { answer = r; break }
            }
            if answer == nil { answer = try chunked.readResponse() }
            #expect(answer?.status.code == 413)

            let ok = try RawConnection(port: server.port)
            try ok.send("POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
            #expect(try ok.readResponse()?.bodyText == "5")
        }
    }

    @Test func bodyAtTheConfiguredLimitIsAccepted() throws {
        try withServer({ $0.limits.maxBodyBytes = 1 << 20 }) { server in
            let c = try RawConnection(port: server.port)
            try c.send("POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: \(1 << 20)\r\n\r\n")
            try c.send([UInt8](repeating: 0x61, count: 1 << 20))
            #expect(try c.readResponse()?.bodyText == "\(1 << 20)")
        }
    }

    static let malformed: [String: (raw: String, status: Int)] = [
        "17 KiB header": ("GET / HTTP/1.1\r\nHost: t\r\nX: \(String(repeating: "a", count: 17000))\r\n\r\n", 431),
        "HTTP/2.0": ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        "unknown method": ("BREW / HTTP/1.1\r\nHost: t\r\n\r\n", 501),
        "no Host": ("GET / HTTP/1.1\r\n\r\n", 400),
        "garbage": ("garbage\r\n\r\n", 400),
    ]

    @Test(arguments: malformed.keys.sorted())
    func malformedRequestsGetTheirStatusAndClose(_ name: String) throws {
        let (raw, status) = Self.malformed[name]!
        try withServer { server in
            let c = try RawConnection(port: server.port)
            try c.send(raw)
            let r = try #require(try c.readResponse())
            #expect(r.status.code == status)
            #expect(c.waitForClose())
            #expect(server.stats.snapshot.requestsRejected == 1)
        }
    }

    @Test func errorAfterValidPipelinedRequestsComesLast() throws {
        try withServer { server in
            let c = try RawConnection(port: server.port)
            try c.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\nBAD\r\n\r\n")
            #expect(try c.readResponse()?.bodyText == "/a")
            #expect(try c.readResponse()?.bodyText == "/b")
            #expect(try c.readResponse()?.status.code == 400)
            #expect(c.waitForClose())
        }
    }

    @Test func slowlorisGets408AndIsClosed() throws {
        try withServer({ $0.requestTimeout = .seconds(1) }) { server in
            let c = try RawConnection(port: server.port)
            try c.send("GET / HTTP/1.1\r\nHost: t\r\n")
            let started = monotonicMillis()
            for _ in 0..<3 {
                sleepMillis(400)
                try? c.send("X-Drip: 1\r\n")
            }
            let r = try #require(try c.readResponse(timeoutMillis: 3000))
            #expect(r.status.code == 408)
            #expect(c.waitForClose())
            #expect(monotonicMillis() - started < 2500)
            #expect(server.stats.snapshot.timeouts == 1)
        }
    }

    @Test func idleKeepAliveConnectionIsClosedSilently() throws {
        try withServer({ $0.idleTimeout = .seconds(1) }) { server in
            let c = try RawConnection(port: server.port)
            try c.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try c.readResponse()?.status.code == 200)
            #expect(c.waitForClose(timeoutMillis: 3000))
            #expect(try c.readResponse(timeoutMillis: 10) == nil)
        }
    }

    @Test func slowHandlerDoesNotStallOtherConnections() throws {
        try withServer({ $0.workerThreads = 4 }) { server in
            let slow = try RawConnection(port: server.port)
            try slow.send("GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n")
            sleepMillis(50)
            let fast = try RawConnection(port: server.port)
            let start = monotonicMillis()
            for _ in 0..<20 {
                try fast.send("GET /fast HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try fast.readResponse()?.status.code == 200)
            }
            // All twenty fast answers arrive while the slow handler is still sleeping.
            #expect(monotonicMillis() - start < 1200)
            #expect(try slow.readResponse()?.bodyText == "slow done")
        }
    }

    @Test func connectionCapAppliesBackPressure() throws {
        try withServer({ $0.maxConnections = 2 }) { server in
            let a = try RawConnection(port: server.port)
            let b = try RawConnection(port: server.port)
            try a.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
            try b.send("GET /b HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try a.readResponse()?.status.code == 200)
            #expect(try b.readResponse()?.status.code == 200)
            let c = try RawConnection(port: server.port)  // completes in the kernel backlog
            try c.send("GET /c HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try c.readResponse(timeoutMillis: 500) == nil)
            #expect(server.stats.snapshot.connectionsOpen == 2)
            try a.send("GET /bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            _ = try a.readResponse()
            #expect(try c.readResponse(timeoutMillis: 3000)?.bodyText == "/c")
        }
    }

    @Test func expectContinueOverTheWire() throws {
        try withServer { server in
            let c = try RawConnection(port: server.port)
            try c.send("POST /body HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            // The parser below skips 1xx, so read the interim line raw.
            var buffer = [UInt8](repeating: 0, count: 64)
            var pfd = pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)
            #expect(poll(&pfd, 1, 2000) == 1)
            let n = recv(c.fd, &buffer, 64, 0)
            #expect(String(decoding: buffer[0..<max(0, n)], as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
            try c.send("abcd")
            #expect(try c.readResponse()?.bodyText == "4")
        }
    }

    @Test func handlerCanCloseAndClientHalfCloseIsAnswered() throws {
        try withServer { server in
            let c = try RawConnection(port: server.port)
            try c.send("GET /close HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try c.readResponse()?.headers["Connection"] == "close")
            #expect(c.waitForClose())

            let h = try RawConnection(port: server.port)
            try h.send("GET /half HTTP/1.1\r\nHost: t\r\n\r\n")
            h.shutdownWrite()
            #expect(try h.readResponse()?.bodyText == "/half")
            #expect(h.waitForClose())
        }
    }

    @Test func headAnswersWithoutBody() throws {
        try withServer { server in
            let c = try RawConnection(port: server.port)
            try c.send("HEAD /abc HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n")
            let r = try #require(try c.readResponse(head: true))
            #expect(r.headers["Content-Length"] == "4")
            #expect(r.body.isEmpty)
            #expect(try c.readResponse()?.bodyText == "/next")
        }
    }

    @Test func gracefulShutdownFinishesInFlightRequests() throws {
        var config = HTTPServerConfiguration()
        config.workerThreads = 2
        let server = HTTPServer(configuration: config, responder: TestResponder(), logger: Logger(label: "t", level: .warning))
        try server.start()
        let port = server.port
        let busy = try RawConnection(port: port)
        let idle = try RawConnection(port: port)
        try idle.send("GET /warm HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try idle.readResponse()
        try busy.send("GET /slow?ms=600 HTTP/1.1\r\nHost: t\r\n\r\n")
        sleepMillis(100)
        let started = monotonicMillis()
        let done = ShutdownFlag()
        let t = ThreadHandle.start(name: "stopper") {
            server.shutdown(gracePeriod: .seconds(5))
            done.set()
        }
        #expect(idle.waitForClose(timeoutMillis: 1000))
        let r = try #require(try busy.readResponse(timeoutMillis: 3000))
        #expect(r.bodyText == "slow done")
        #expect(r.headers["Connection"] == "close")
        #expect(busy.waitForClose())
        t.join()
        #expect(done.value)
        #expect(monotonicMillis() - started < 3000)
        #expect(throws: (any Error).self) { _ = try RawConnection(port: port) }
    }

    @Test func tlsServesHTTPSToCurl() throws {
        let dir = makeTemporaryDirectory("tls")
        let (code, output) = runShell("openssl req -x509 -newkey rsa:2048 -nodes -keyout \(dir)/key.pem -out \(dir)/cert.pem -days 1 -subj /CN=localhost 2>&1")
        #expect(code == 0, "openssl: \(output)")
        try withServer({ $0.tls = TLSConfiguration(certificateChainPath: "\(dir)/cert.pem", privateKeyPath: "\(dir)/key.pem") }) { server in
            let (rc, body) = runShell("curl -sk --max-time 5 https://127.0.0.1:\(server.port)/tls/one https://127.0.0.1:\(server.port)/tls/two")
            #expect(rc == 0)
            #expect(body == "/tls/one/tls/two")
            // Plain HTTP on the TLS port is not answered as HTTP.
            let (_, plain) = runShell("curl -s --max-time 3 http://127.0.0.1:\(server.port)/x")
            #expect(!plain.contains("/x"))
            let (tls11, _) = runShell("curl -sk --max-time 3 --tls-max 1.1 https://127.0.0.1:\(server.port)/old")
            #expect(tls11 != 0)
        }
        _ = runShell("rm -rf \(dir)")
    }
}

final class ShutdownFlag: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = ConditionLock(false)
    func set() { lock.withLock { $0 = true } }
    var value: Bool { lock.withLock { $0 } }
}
