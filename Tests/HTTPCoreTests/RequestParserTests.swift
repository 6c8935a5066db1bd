import Testing
@testable import HTTPCore

/// Feeds `raw` in one piece (or byte by byte) and collects every event until the parser needs more data.
private func parseAll(_ raw: String, limits: HTTPLimits = .default, byteByByte: Bool = false) -> [RequestParser.Event] {
    var parser = RequestParser(limits: limits)
    var events: [RequestParser.Event] = []
    func drain() {
        while true {
            let e = parser.next()
            if case .needMoreData = e { return }
            events.append(e)
            if case .failed = e { return }
        }
    }
    if byteByByte {
        for b in raw.utf8 {
            parser.append([b])
            drain()
            if case .failed? = events.last { break }
        }
    } else {
        parser.append(raw)
        drain()
    }
    return events
}

private func requests(_ events: [RequestParser.Event]) -> [HTTPRequest] {
    events.compactMap { if case .request(let r) = $0 { r } else { nil } }
}

private func failure(_ events: [RequestParser.Event]) -> Int? {
    for e in events { if case .failed(let err) = e { return err.status.code } }
    return nil
}

@Suite struct RequestParserTests {
    @Test(arguments: [false, true])
    func simpleGet(byteByByte: Bool) {
        let events = parseAll("GET /scim/v2/Users?count=2 HTTP/1.1\r\nHost: a\r\nAccept: application/scim+json\r\n\r\n",
                              byteByByte: byteByByte)
        let reqs = requests(events)
        #expect(reqs.count == 1)
        #expect(reqs[0].method == .get)
        #expect(reqs[0].target == "/scim/v2/Users?count=2")
        #expect(reqs[0].path == "/scim/v2/Users")
        #expect(reqs[0].query == "count=2")
        #expect(reqs[0].headers["accept"] == "application/scim+json")
        #expect(reqs[0].body.isEmpty)
        #expect(reqs[0].keepAlive)
    }

    @Test(arguments: [false, true])
    func contentLengthBody(byteByByte: Bool) {
        let events = parseAll("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", byteByByte: byteByByte)
        let reqs = requests(events)
        #expect(reqs.count == 1)
        #expect(String(decoding: reqs[0].body, as: UTF8.self) == "hello")
    }

    @Test(arguments: [false, true])
    func chunkedBody(byteByByte: Bool) {
        let raw = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        let reqs = requests(parseAll(raw, byteByByte: byteByByte))
        #expect(reqs.count == 1)
        #expect(String(decoding: reqs[0].body, as: UTF8.self) == "hello world")
    }

    @Test func pipelinedRequestsComeOutInOrder() {
        var raw = ""
        for i in 0..<50 { raw += "GET /r/\(i) HTTP/1.1\r\nHost: a\r\n\r\n" }
        raw += "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok"
        let reqs = requests(parseAll(raw))
        #expect(reqs.count == 51)
        #expect(reqs.prefix(50).map(\.target) == (0..<50).map { "/r/\($0)" })
        #expect(reqs[50].body == Array("ok".utf8))
    }

    @Test func keepAliveRules() {
        let close = requests(parseAll("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))[0]
        #expect(!close.keepAlive)
        let http10 = requests(parseAll("GET / HTTP/1.0\r\n\r\n"))[0]
        #expect(!http10.keepAlive)
        let http10ka = requests(parseAll("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"))[0]
        #expect(http10ka.keepAlive)
        let mixed = requests(parseAll("GET / HTTP/1.1\r\nHost: a\r\nConnection: TE, Close\r\n\r\n"))[0]
        #expect(!mixed.keepAlive)
    }

    @Test func expectContinueIsAnnouncedBeforeTheBody() {
        var parser = RequestParser()
        parser.append("PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        guard case .sendContinue = parser.next() else { Issue.record("expected sendContinue"); return }
        guard case .needMoreData = parser.next() else { Issue.record("expected needMoreData"); return }
        parser.append("abc")
        guard case .request(let r) = parser.next() else { Issue.record("expected request"); return }
        #expect(r.body == Array("abc".utf8))
    }

    @Test func expectContinueWithBodyAlreadySentSkipsTheInterimResponse() {
        let events = parseAll("PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
        #expect(events.count == 1)
        #expect(requests(events).count == 1)
    }

    @Test func oversizedBodyWithExpectContinueIsRefusedBeforeContinue() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 10
        let events = parseAll("PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n", limits: limits)
        #expect(events.count == 1)
        #expect(failure(events) == 413)
    }

    @Test func leadingEmptyLinesAreIgnored() {
        #expect(requests(parseAll("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")).count == 1)
    }

    @Test func bareLineFeedsAreAccepted() {
        let reqs = requests(parseAll("GET /lf HTTP/1.1\nHost: a\nX: y\n\n"))
        #expect(reqs.first?.headers["x"] == "y")
    }

    @Test func absoluteFormIsReducedToOriginForm() {
        let reqs = requests(parseAll("GET http://example.com:8080/scim/v2/Users?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        #expect(reqs.first?.target == "/scim/v2/Users?x=1")
    }

    @Test func headerValuesAreTrimmed() {
        let r = requests(parseAll("GET / HTTP/1.1\r\nHost: a\r\nX-A: \t spaced \t\r\n\r\n"))[0]
        #expect(r.headers["X-A"] == "spaced")
    }

    /// Each malformed or over-limit input and the status the server must answer.
    static let rejections: [(String, String, Int)] = [
        ("no version", "GET /\r\nHost: a\r\n\r\n", 400),
        ("lowercase http", "GET / http/1.1\r\nHost: a\r\n\r\n", 400),
        ("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("bad method chars", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("unknown method", "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", 501),
        ("http 2", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("http 3", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
        ("missing host", "GET / HTTP/1.1\r\n\r\n", 400),
        ("two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        ("no colon", "GET / HTTP/1.1\r\nHost: a\r\nJunk\r\n\r\n", 400),
        ("obs fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
        ("ctl in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{01}b\r\n\r\n", 400),
        ("bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
        ("control in target", "GET /a\u{7F}b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
        ("TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ("TE gzip chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("CL not digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400),
        ("CL negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        ("CL conflicting", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        ("CL conflicting list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", 400),
        ("CL huge", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
        ("CL over limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", 413),
        ("bad chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400),
        ("chunk over limit", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", 413),
        ("chunk missing CRLF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc", 400),
        ("unknown expectation", "POST / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\nContent-Length: 1\r\n\r\na", 417),
    ]

    @Test(arguments: rejections.map(\.0))
    func rejectsWithTheRightStatus(_ name: String) {
        let (_, raw, status) = Self.rejections.first { $0.0 == name }!
        #expect(failure(parseAll(raw)) == status, "\(name)")
        #expect(failure(parseAll(raw, byteByByte: true)) == status, "\(name) byte by byte")
    }

    @Test func headerBlockOverLimitIs431() {
        let big = String(repeating: "a", count: 16 * 1024)
        #expect(failure(parseAll("GET / HTTP/1.1\r\nHost: a\r\nX: \(big)\r\n\r\n")) == 431)
        // Without a terminator too: the parser must not wait forever for the end of an endless header section.
        var parser = RequestParser()
        parser.append("GET / HTTP/1.1\r\nHost: a\r\n")
        var result: Int? = nil
        for _ in 0..<2000 {
            parser.append("X-Flood: 0123456789\r\n")
            if case .failed(let e) = parser.next() { result = e.status.code; break }
        }
        #expect(result == 431)
    }

    @Test func headerBlockAtTheLimitIsAccepted() {
        let prefix = "GET / HTTP/1.1\r\nHost: a\r\nX: "
        let suffix = "\r\n\r\n"
        let fill = String(repeating: "b", count: 16 * 1024 - prefix.utf8.count - suffix.utf8.count)
        #expect(requests(parseAll(prefix + fill + suffix)).count == 1)
        #expect(failure(parseAll(prefix + fill + "b" + suffix)) == 431)
    }

    @Test func tooManyHeadersIs431() {
        var raw = "GET / HTTP/1.1\r\nHost: a\r\n"
        for i in 0..<100 { raw += "X-\(i): v\r\n" }
        #expect(failure(parseAll(raw + "\r\n")) == 431)
    }

    @Test func longRequestLineIs414() {
        let target = "/" + String(repeating: "u", count: 9000)
        #expect(failure(parseAll("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n")) == 414)
        var parser = RequestParser()
        parser.append("GET /" + String(repeating: "u", count: 9000))
        guard case .failed(let e) = parser.next() else { Issue.record("expected failure"); return }
        #expect(e.status.code == 414)
    }

    @Test func bodyAtTheLimitIsAccepted() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 100
        let body = String(repeating: "z", count: 100)
        #expect(requests(parseAll("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n\(body)", limits: limits)).count == 1)
        let chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n\(body.prefix(50))\r\n33\r\n\(body.prefix(51))\r\n0\r\n\r\n"
        #expect(failure(parseAll(chunked, limits: limits)) == 413)
    }

    @Test func failedParserStaysFailed() {
        var parser = RequestParser()
        parser.append("BAD\r\n\r\n")
        guard case .failed = parser.next() else { Issue.record("expected failure"); return }
        parser.append("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        guard case .failed = parser.next() else { Issue.record("expected to stay failed"); return }
    }

    @Test func idleTracking() {
        var parser = RequestParser()
        #expect(parser.isIdle)
        parser.append("GET / HT")
        _ = parser.next()
        #expect(!parser.isIdle)
        parser.append("TP/1.1\r\nHost: a\r\n\r\n")
        guard case .request = parser.next() else { Issue.record("expected request"); return }
        #expect(parser.isIdle)
    }
}
