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
