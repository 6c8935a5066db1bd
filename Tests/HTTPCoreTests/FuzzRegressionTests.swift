import Testing
import HTTPCore

/// Inputs the libFuzzer targets (Tests/Fuzz) found, kept as plain tests so they stay fixed.
@Suite struct FuzzRegressionTests {
    /// fuzz-http: after an interim (1xx) response whose head arrived in pieces, the parser resumed scanning the final
    /// response's head at the interim head's offset, skipping bytes (here: the end of the head, so it never completed).
    @Test(arguments: [1, 2, 3, 7, 20])
    func interimResponseArrivingInPiecesDoesNotShiftTheNextHead(pieceSize: Int) throws {
        let bytes = Array("HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}".utf8)
        var parser = ResponseParser()
        var responses: [HTTPResponse] = []
        var start = 0
        while start < bytes.count {
            parser.append(Array(bytes[start..<min(bytes.count, start + pieceSize)]))
            start += pieceSize
            while case .response(let r, _) = parser.next() { responses.append(r) }
        }
        #expect(responses.count == 1)
        #expect(responses.first?.status.code == 201)
        #expect(responses.first?.body == Array("{}".utf8))
    }
}

extension FuzzRegressionTests {
    /// fuzz-http: a chunk size of 16 or more hex digits overflowed Int (a trap: the whole process died) before the
    /// digit count was checked. A 15-digit size is still read (and refused by the body limit).
    @Test(arguments: ["ffffffffffffffff", "1000000000000000", "fffffffffffffffffffff"])
    func overlongChunkSizeIsABadResponseNotACrash(size: String) {
        var parser = ResponseParser()
        parser.append(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\n".utf8))
        guard case .failed(let error) = parser.next() else { Issue.record("accepted chunk size \(size)"); return }
        #expect(error == HTTPParseError(.badGateway, "bad chunk size"))
    }

    @Test func fifteenDigitChunkSizeIsRefusedByTheBodyLimit() {
        var parser = ResponseParser(maxBodyBytes: 1024)
        parser.append(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n".utf8))
        guard case .failed(let error) = parser.next() else { Issue.record("accepted"); return }
        #expect(error == HTTPParseError(.badGateway, "response too large"))
    }
}

extension FuzzRegressionTests {
    /// Gives `parser` the response `pieceSize` bytes at a time, as the network might, until it answers.
    static func feed(_ bytes: [UInt8], in pieceSize: Int, to parser: ResponseParser) -> ResponseParser.Event {
        var parser = parser
        var outcome: ResponseParser.Event = .needMoreData
        var start = 0
        while start < bytes.count, case .needMoreData = outcome {
            parser.append(Array(bytes[start..<min(bytes.count, start + pieceSize)]))
            start += pieceSize
            outcome = parser.next()
        }
        return outcome
    }

    /// fuzz-http: a response head over `maxHeaderBytes` was refused when it arrived in pieces but parsed when it
    /// arrived in one read.
    @Test(arguments: [1, 7, 4096])
    func oversizeResponseHeadIsRefusedHoweverItArrives(pieceSize: Int) {
        let bytes = Array(("HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "b", count: 600) + "\r\nContent-Length: 0\r\n\r\n").utf8)
        let outcome = Self.feed(bytes, in: pieceSize, to: ResponseParser(maxHeaderBytes: 512))
        guard case .failed(let error) = outcome else { Issue.record("a \(bytes.count)-byte head was accepted"); return }
        #expect(error == HTTPParseError(.badGateway, "response header section too large"))
    }
}

extension FuzzRegressionTests {
    /// fuzz-http: a chunk-size line longer than the limit was refused as "bad chunk line" when it arrived in pieces
    /// (no LF yet, too many bytes) but parsed — and refused as "bad chunk size" — when it arrived whole: the answer
    /// depended on packet sizes. Now the length limit applies either way; trailer lines are bounded the same way.
    @Test(arguments: [1, 7, 23, 4096])
    func anOverlongChunkLineIsRefusedTheSameHoweverItArrives(pieceSize: Int) {
        let bytes = Array(("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: "C", count: 1500) + "\r\n").utf8)
        let outcome = Self.feed(bytes, in: pieceSize, to: ResponseParser())
        guard case .failed(let error) = outcome else { Issue.record("not refused: \(outcome)"); return }
        #expect(error == HTTPParseError(.badGateway, "bad chunk line"))
    }

    @Test(arguments: [1, 4096])
    func anOverlongTrailerIsRefusedHoweverItArrives(pieceSize: Int) {
        let bytes = Array(("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + String(repeating: "t", count: 600) + "\r\n\r\n").utf8)
        let outcome = Self.feed(bytes, in: pieceSize, to: ResponseParser(maxHeaderBytes: 512))
        guard case .failed(let error) = outcome else { Issue.record("not refused: \(outcome)"); return }
        #expect(error == HTTPParseError(.badGateway, "response trailer too large"))
    }
}
