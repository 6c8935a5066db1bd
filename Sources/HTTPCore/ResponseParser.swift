/// Incremental HTTP/1.1 response parser for the client side (RFC 9112 §6.3 message length rules).
public struct ResponseParser: Sendable {
    public enum Event: Sendable {
        case response(HTTPResponse, keepAlive: Bool)
        case needMoreData
        case failed(HTTPParseError)
    }

    private enum State: Sendable {
        case head(scanned: Int)
        case fixedBody(HTTPResponse, keepAlive: Bool, length: Int)
        case chunkSize(HTTPResponse, keepAlive: Bool)
        case chunkData(HTTPResponse, keepAlive: Bool, remaining: Int)
        case chunkDataEnd(HTTPResponse, keepAlive: Bool)
        case trailers(HTTPResponse, keepAlive: Bool)
        case untilClose(HTTPResponse)
        case failed(HTTPParseError)
    }

    public var maxHeaderBytes: Int
    public var maxBodyBytes: Int
    private var state: State = .head(scanned: 0)
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var body: [UInt8] = []
    /// Set before parsing the response to a HEAD request: such responses never carry a body.
    public var expectingHeadResponse = false

    /// The longest chunk-size line (size, extensions, CRLF) accepted.
    static let maxChunkLine = 1024

    public init(maxHeaderBytes: Int = 64 * 1024, maxBodyBytes: Int = 64 << 20) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }

    public var bufferedByteCount: Int { buffer.count - readIndex }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if readIndex > 0 && (readIndex == buffer.count || readIndex >= 4096) {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    /// Resets to expect a new response on a fresh connection.
    public mutating func reset() {
        state = .head(scanned: 0)
        buffer = []
        readIndex = 0
        body = []
    }

    /// The peer closed the connection: completes a read-until-close body, otherwise fails if mid-message.
    public mutating func endOfStream() -> Event {
        switch state {
        case .untilClose(var response):
            response.body = body
            body = []
            state = .head(scanned: 0)
            return .response(response, keepAlive: false)
        case .head where readIndex == buffer.count:
            return .needMoreData
        case .failed(let e):
            return .failed(e)
        default:
            return fail(HTTPParseError(.badGateway, "connection closed mid-response"))
        }
    }

    public mutating func next() -> Event {
        while true {
            switch state {
            case .failed(let e):
                return .failed(e)
            case .head(let scanned):
                switch scanHead(scanned) {
                case .incomplete(let s):
                    state = .head(scanned: s)
                    return .needMoreData
                case .failed(let e):
                    return fail(e)
                case .informational:
                    // The interim response is consumed: the final one's head starts afresh at `readIndex`.
                    state = .head(scanned: 0)
                    continue
                case .complete(let response, let keepAlive, let framing):
                    body = []
                    switch framing {
                    case .none:
                        state = .head(scanned: 0)
                        return .response(response, keepAlive: keepAlive)
                    case .length(let n):
                        state = .fixedBody(response, keepAlive: keepAlive, length: n)
                    case .chunked:
                        state = .chunkSize(response, keepAlive: keepAlive)
                    case .untilClose:
                        state = .untilClose(response)
                    }
                }
            case .fixedBody(var response, let keepAlive, let length):
                guard buffer.count - readIndex >= length else { return .needMoreData }
                response.body = Array(buffer[readIndex..<(readIndex + length)])
                readIndex += length
                state = .head(scanned: 0)
                return .response(response, keepAlive: keepAlive)
            case .chunkSize(let response, let keepAlive):
                guard let lf = findLF(readIndex) else {
                    if buffer.count - readIndex > Self.maxChunkLine { return fail(HTTPParseError(.badGateway, "bad chunk line")) }
                    return .needMoreData
                }
                // The same limit when the whole line arrived at once, so the answer does not depend on packet sizes.
                if lf - readIndex > Self.maxChunkLine { return fail(HTTPParseError(.badGateway, "bad chunk line")) }
                var end = lf
                if end > readIndex && buffer[end - 1] == 0x0D { end -= 1 }
                var size = 0, digits = 0, i = readIndex
                while i < end, let d = hexValue(buffer[i]) {
                    // Checked before multiplying: a 16th hex digit would overflow Int and trap the process.
                    if digits == 15 { return fail(HTTPParseError(.badGateway, "bad chunk size")) }
                    size = size * 16 + d
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return fail(HTTPParseError(.badGateway, "bad chunk size")) }
                readIndex = lf + 1
                if size == 0 {
                    state = .trailers(response, keepAlive: keepAlive)
                } else {
                    if body.count + size > maxBodyBytes { return fail(HTTPParseError(.badGateway, "response too large")) }
                    state = .chunkData(response, keepAlive: keepAlive, remaining: size)
                }
            case .chunkData(let response, let keepAlive, let remaining):
                let available = buffer.count - readIndex
                guard available > 0 else { return .needMoreData }
                let take = min(available, remaining)
                body.append(contentsOf: buffer[readIndex..<(readIndex + take)])
                readIndex += take
                if take < remaining {
                    state = .chunkData(response, keepAlive: keepAlive, remaining: remaining - take)
                    return .needMoreData
                }
                state = .chunkDataEnd(response, keepAlive: keepAlive)
            case .chunkDataEnd(let response, let keepAlive):
                guard let lf = findLF(readIndex) else {
                    if buffer.count - readIndex > 2 { return fail(HTTPParseError(.badGateway, "bad chunk end")) }
                    return .needMoreData
                }
                guard lf - readIndex <= 1 else { return fail(HTTPParseError(.badGateway, "bad chunk end")) }
                readIndex = lf + 1
                state = .chunkSize(response, keepAlive: keepAlive)
            case .trailers(var response, let keepAlive):
                // A trailer line is bounded like the head, whether it arrives whole or in pieces.
                guard let lf = findLF(readIndex) else {
                    if buffer.count - readIndex > maxHeaderBytes { return fail(HTTPParseError(.badGateway, "response trailer too large")) }
                    return .needMoreData
                }
                let length = lf - readIndex
                if length > maxHeaderBytes { return fail(HTTPParseError(.badGateway, "response trailer too large")) }
                let empty = length == 0 || (length == 1 && buffer[readIndex] == 0x0D)
                readIndex = lf + 1
                if empty {
                    response.body = body
                    body = []
                    state = .head(scanned: 0)
                    return .response(response, keepAlive: keepAlive)
                }
            case .untilClose:
                let available = buffer.count - readIndex
                if available > 0 {
                    if body.count + available > maxBodyBytes { return fail(HTTPParseError(.badGateway, "response too large")) }
                    body.append(contentsOf: buffer[readIndex...])
                    readIndex = buffer.count
                }
                return .needMoreData
            }
        }
    }

    private mutating func fail(_ e: HTTPParseError) -> Event {
        state = .failed(e)
        return .failed(e)
    }

    private func findLF(_ from: Int) -> Int? {
        var i = from
        while i < buffer.count {
            if buffer[i] == 0x0A { return i }
            i += 1
        }
        return nil
    }

    private func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: Int(b - 0x30)
        case 0x41...0x46: Int(b - 0x41 + 10)
        case 0x61...0x66: Int(b - 0x61 + 10)
        default: nil
        }
    }

    private enum Framing { case none, length(Int), chunked, untilClose }
    private enum HeadScan {
        case incomplete(Int)
        case failed(HTTPParseError)
        case informational
        case complete(HTTPResponse, Bool, Framing)
    }

    private mutating func scanHead(_ scanned: Int) -> HeadScan {
        let start = readIndex
        var lineStart = start + scanned
        var end: Int? = nil
        var pos = lineStart
        while pos < buffer.count {
            if buffer[pos] == 0x0A {
                let length = pos - lineStart
                if lineStart != start && (length == 0 || (length == 1 && buffer[lineStart] == 0x0D)) {
                    end = pos
                    break
                }
                lineStart = pos + 1
            }
            pos += 1
        }
        guard let headerEnd = end else {
            if buffer.count - start > maxHeaderBytes {
                return .failed(HTTPParseError(.badGateway, "response header section too large"))
            }
            return .incomplete(lineStart - start)
        }
        // The same limit when the whole head arrived in one read, so the answer does not depend on packet sizes.
        if headerEnd + 1 - start > maxHeaderBytes {
            return .failed(HTTPParseError(.badGateway, "response header section too large"))
        }
        // Parse from bytes: the status line, then `name: value` lines (no intermediate line strings).
        readIndex = headerEnd + 1
        var headers = HTTPHeaders()
        var code = 0
        var reason = ""
        var http10 = false
        var malformed: HTTPParseError? = nil
        buffer.withUnsafeBufferPointer { buf in
            var lineStart = start
            var first = true
            var i = start
            while i < headerEnd && malformed == nil {
                if buf[i] == 0x0A {
                    var lineEnd = i
                    if lineEnd > lineStart && buf[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                    if first {
                        first = false
                        // HTTP/1.x SP 3DIGIT [SP reason]
                        let n = lineEnd - lineStart
                        guard n >= 12, buf[lineStart] == 0x48, buf[lineStart + 4] == 0x2F, buf[lineStart + 5] == 0x31,
                              buf[lineStart + 6] == 0x2E, buf[lineStart + 8] == 0x20 else {
                            malformed = HTTPParseError(.badGateway, "malformed status line")
                            break
                        }
                        http10 = buf[lineStart + 7] == 0x30
                        for k in 9..<12 {
                            let d = buf[lineStart + k]
                            guard d >= 0x30 && d <= 0x39 else { malformed = HTTPParseError(.badGateway, "malformed status line"); break }
                            code = code * 10 + Int(d - 0x30)
                        }
                        if n > 13 { reason = String(decoding: UnsafeBufferPointer(rebasing: buf[(lineStart + 13)..<lineEnd]), as: UTF8.self) }
                    } else {
                        var colon = lineStart
                        while colon < lineEnd && buf[colon] != 0x3A { colon += 1 }
                        guard colon < lineEnd, colon > lineStart else {
                            malformed = HTTPParseError(.badGateway, "malformed response header")
                            break
                        }
                        var vs = colon + 1, ve = lineEnd
                        while vs < ve && (buf[vs] == 0x20 || buf[vs] == 0x09) { vs += 1 }
                        while ve > vs && (buf[ve - 1] == 0x20 || buf[ve - 1] == 0x09) { ve -= 1 }
                        headers.add(String(decoding: UnsafeBufferPointer(rebasing: buf[lineStart..<colon]), as: UTF8.self),
                                    String(decoding: UnsafeBufferPointer(rebasing: buf[vs..<ve]), as: UTF8.self))
                    }
                    lineStart = i + 1
                }
                i += 1
            }
            if first && malformed == nil { malformed = HTTPParseError(.badGateway, "missing status line") }
        }
        if let malformed { return .failed(malformed) }
        guard (100...999).contains(code) else { return .failed(HTTPParseError(.badGateway, "malformed status line")) }
        if code >= 100 && code < 200 { return .informational }
        let response = HTTPResponse(status: HTTPStatus(code: code, reason: reason.isEmpty ? HTTPStatus.standardReason(code) : reason),
                                    headers: headers)
        var keepAlive = !headers.hasToken("close", in: "Connection")
        if http10 { keepAlive = headers.hasToken("keep-alive", in: "Connection") }
        if expectingHeadResponse || code == 204 || code == 304 {
            return .complete(response, keepAlive, .none)
        }
        if let te = headers["Transfer-Encoding"] {
            if te.lowercased().contains("chunked") { return .complete(response, keepAlive, .chunked) }
            return .complete(response, false, .untilClose)
        }
        if let cl = headers["Content-Length"] {
            guard let n = Int(trimOWS(cl)), n >= 0 else {
                return .failed(HTTPParseError(.badGateway, "invalid Content-Length"))
            }
            if n > maxBodyBytes { return .failed(HTTPParseError(.badGateway, "response too large")) }
            return .complete(response, keepAlive, n == 0 ? .none : .length(n))
        }
        return .complete(response, false, .untilClose)
    }
}
