import Testing
@testable import HTTPCore

@Suite struct EncodingTests {
    @Test func responseEncoding() {
        var out: [UInt8] = []
        let response = HTTPResponse(status: .created, headers: ["Content-Type": "application/scim+json", "Location": "/x"],
                                    body: Array("{}".utf8))
        HTTPEncoder.encode(response, keepAlive: true, date: "Sun, 06 Nov 1994 08:49:37 GMT", into: &out)
        #expect(String(decoding: out, as: UTF8.self) ==
            "HTTP/1.1 201 Created\r\nContent-Type: application/scim+json\r\nLocation: /x\r\nContent-Length: 2\r\n"
            + "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n{}")
    }

    @Test func closeAndHeadAndNoContent() {
        var out: [UInt8] = []
        HTTPEncoder.encode(HTTPResponse(status: .ok, body: Array("abc".utf8)), keepAlive: false, headOnly: true, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n")
        out = []
        HTTPEncoder.encode(HTTPResponse(status: .noContent, body: Array("x".utf8)), keepAlive: true, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "HTTP/1.1 204 No Content\r\n\r\n")
    }

    @Test func headerValuesCannotInjectLines() {
        var out: [UInt8] = []
        HTTPEncoder.encode(HTTPResponse(status: .ok, headers: ["X": "a\r\nSet-Cookie: evil"]), keepAlive: true, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "HTTP/1.1 200 OK\r\nX: a  Set-Cookie: evil\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func requestEncodingRoundTripsThroughTheParser() {
        var out: [UInt8] = []
        let request = HTTPRequest(method: .patch, target: "/scim/v2/Users/1", headers: ["X-Tenant": "t"], body: Array("{}".utf8))
        HTTPEncoder.encode(request, host: "127.0.0.1:8080", into: &out)
        var parser = RequestParser()
        parser.append(out)
        guard case .request(let parsed) = parser.next() else { Issue.record("did not parse"); return }
        #expect(parsed.method == .patch)
        #expect(parsed.headers["Host"] == "127.0.0.1:8080")
        #expect(parsed.headers["X-Tenant"] == "t")
        #expect(parsed.body == Array("{}".utf8))
    }
}

@Suite struct ResponseParserTests {
    private func parse(_ chunks: [String], head: Bool = false) -> [ResponseParser.Event] {
        var p = ResponseParser()
        p.expectingHeadResponse = head
        var events: [ResponseParser.Event] = []
        for c in chunks {
            p.append(Array(c.utf8))
            while true {
                let e = p.next()
                if case .needMoreData = e { break }
                events.append(e)
                if case .failed = e { return events }
            }
        }
        return events
    }

    @Test func contentLengthAndChunkedAndInterim() {
        let events = parse(["HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab", "c",
                            "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"])
        #expect(events.count == 2)
        if case .response(let r, let ka) = events[0] {
            #expect(r.status.code == 200)
            #expect(r.bodyText == "abc")
            #expect(ka)
        } else { Issue.record("first not a response") }
        if case .response(let r, _) = events[1] {
            #expect(r.status.code == 201)
            #expect(r.bodyText == "hi")
        } else { Issue.record("second not a response") }
    }

    @Test func untilCloseBody() {
        var p = ResponseParser()
        p.append(Array("HTTP/1.0 200 OK\r\n\r\nhello".utf8))
        guard case .needMoreData = p.next() else { Issue.record("expected more"); return }
        guard case .response(let r, let ka) = p.endOfStream() else { Issue.record("expected response"); return }
        #expect(r.bodyText == "hello")
        #expect(!ka)
    }

    @Test func headResponseHasNoBody() {
        let events = parse(["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"], head: true)
        guard case .response(let r, _)? = events.first else { Issue.record("expected response"); return }
        #expect(r.body.isEmpty)
    }

    @Test func malformedStatusLine() {
        guard case .failed(let e)? = parse(["SMTP ready\r\n\r\n"]).first else { Issue.record("expected failure"); return }
        #expect(e.status.code == 502)
    }
}

@Suite struct URLTests {
    @Test(arguments: [
        ("filter=userName+eq+%22jane.doe%40example.com%22&startIndex=1&count=100", "userName eq \"jane.doe@example.com\""),
        ("filter=userName%20eq%20%22test.user%40okta.local%22", "userName eq \"test.user@okta.local\""),
        ("filter=userName+eq+%22x%22&", "userName eq \"x\""),
        ("filter=displayName+eq+\"raw quotes\"", "displayName eq \"raw quotes\""),
        ("filter=a%ZZb", "a%ZZb"),
    ])
    func idpFilterEncodings(query: String, filter: String) {
        #expect(QueryParameters(query)?["filter"] == filter)
    }

    @Test func caseInsensitiveNamesAndEmptyPieces() {
        let q = QueryParameters("&startindex=6&&COUNT=5&")
        #expect(q?["startIndex"] == "6")
        #expect(q?["count"] == "5")
        #expect(q?.items.count == 2)
    }

    @Test func invalidUTF8IsRejected() {
        #expect(QueryParameters("filter=%FF%FE") == nil)
    }

    @Test func router() {
        var router = Router<String>()
        router.add(.get, "/scim/v2/Users", "list")
        router.add(.post, "/scim/v2/Users", "create")
        router.add(.get, "/scim/v2/Users/:id", "get")
        router.add(.post, "/scim/v2/Users/.search", "search")
        guard case .found(let h, let p, let template) = router.match(.get, path: "/scim/v2/users/abc%20d") else {
            Issue.record("no match"); return
        }
        #expect(h == "get")
        #expect(p["id"] == "abc d")
        // The template is the pattern as registered: never the client's spelling, never the id.
        #expect(template == "/scim/v2/Users/:id")
        if case .found(let h2, _, _) = router.match(.post, path: "/scim/v2/Users/.search") { #expect(h2 == "search") }
        else { Issue.record("search not matched") }
        if case .found(let h3, _, let t3) = router.match(.head, path: "/scim/v2/Users") {
            #expect(h3 == "list")
            #expect(t3 == "/scim/v2/Users")
        } else { Issue.record("HEAD fallback") }
        guard case .methodNotAllowed(let allowed, let t4) = router.match(.delete, path: "/scim/v2/Users") else {
            Issue.record("expected 405"); return
        }
        #expect(allowed == [.get, .post])
        #expect(t4 == "/scim/v2/Users")
        guard case .notFound = router.match(.get, path: "/nope") else { Issue.record("expected 404"); return }
        #expect(router.match(.get, path: "/nope").template == nil)
    }

    @Test func percentEncodeRoundTrip() {
        let s = "a b&c=d/é"
        #expect(PercentEncoding.decode(PercentEncoding.encode(s), plusAsSpace: false) == s)
    }
}
