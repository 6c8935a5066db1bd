/// Incremental HTTP/1.1 request parser: a pure state machine over bytes (RFC 9112).
///
/// Feed bytes with `append`, then call `next()` until it answers `.needMoreData`. Several pipelined requests in
/// one read come out one by one. After `.failed` the connection must be closed: the byte stream cannot be
/// resynchronised.
public struct RequestParser: Sendable {
    public enum Event: Sendable {
        /// A complete request, body included.
        case request(HTTPRequest)
        /// The client sent `Expect: 100-continue` and waits for `HTTP/1.1 100 Continue` before the body.
        case sendContinue
        /// Nothing complete yet.
        case needMoreData
        /// Malformed or over a limit: answer `error.status` and close.
        case failed(HTTPParseError)
    }

    private struct Head: Sendable {
        var method: HTTPMethod
        var target: String
        var version: HTTPVersion
        var headers: HTTPHeaders
    }

    private enum State: Sendable {
        /// Looking for the end of the header block; `scanned` bytes after `readIndex` hold no terminator.
        case head(scanned: Int)
        /// Waiting to announce 100 Continue before the body.
        case continuePending(Head, Framing)
        case fixedBody(Head, length: Int)
        case chunkSize(Head)
        case chunkData(Head, remaining: Int)
        case chunkDataEnd(Head)
        case trailers(Head, consumed: Int)
        case failed(HTTPParseError)
    }

    private enum Framing: Sendable {
        case none
        case length(Int)
        case chunked
    }

    public let limits: HTTPLimits
    private var state: State = .head(scanned: 0)
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var body: [UInt8] = []

    public init(limits: HTTPLimits = .default) {
        self.limits = limits
    }

    /// True when no byte of a next request has arrived (the connection is idle between requests).
    public var isIdle: Bool {
        if case .head = state { return readIndex == buffer.count }
        return false
    }

    /// Bytes received but not yet consumed by a complete request.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfUseful()
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    public mutating func append(_ text: String) {
        append(Array(text.utf8))
    }

    /// Advances the state machine as far as the buffered bytes allow.
    public mutating func next() -> Event {
        while true {
            switch state {
            case .failed(let error):
                return .failed(error)

            case .head(let scanned):
                switch scanHead(scanned: scanned) {
                case .incomplete(let newScanned):
                    state = .head(scanned: newScanned)
                    return .needMoreData
                case .failed(let error):
                    return fail(error)
                case .complete(let head, let framing, let expectContinue):
                    body = []
                    switch framing {
                    case .none:
                        state = .head(scanned: 0)
                        return .request(finish(head))
                    case .length, .chunked:
                        if expectContinue && readIndex == buffer.count {
                            state = .continuePending(head, framing)
                            return .sendContinue
                        }
                        enterBody(head, framing)
                    }
                }

            case .continuePending(let head, let framing):
                enterBody(head, framing)

            case .fixedBody(let head, let length):
                guard buffer.count - readIndex >= length else { return .needMoreData }
                body = Array(buffer[readIndex..<(readIndex + length)])
                readIndex += length
                state = .head(scanned: 0)
                return .request(finish(head))

            case .chunkSize(let head):
                guard let lineEnd = findLF(from: readIndex) else {
                    if buffer.count - readIndex > limits.maxChunkLineBytes {
                        return fail(HTTPParseError(.badRequest, "chunk size line too long"))
                    }
                    return .needMoreData
                }
                if lineEnd - readIndex > limits.maxChunkLineBytes {
                    return fail(HTTPParseError(.badRequest, "chunk size line too long"))
                }
                guard let size = parseChunkSize(readIndex, lineEnd) else {
                    return fail(HTTPParseError(.badRequest, "invalid chunk size"))
                }
                readIndex = lineEnd + 1
                if size == 0 {
                    state = .trailers(head, consumed: 0)
                } else {
                    if size > limits.maxBodyBytes - body.count {
                        return fail(HTTPParseError(.contentTooLarge, "request body exceeds the limit"))
                    }
                    state = .chunkData(head, remaining: size)
                }

            case .chunkData(let head, let remaining):
                let available = buffer.count - readIndex
                guard available > 0 else { return .needMoreData }
                let take = min(available, remaining)
                body.append(contentsOf: buffer[readIndex..<(readIndex + take)])
                readIndex += take
                state = take == remaining ? .chunkDataEnd(head) : .chunkData(head, remaining: remaining - take)
                if take < remaining { return .needMoreData }

            case .chunkDataEnd(let head):
                let available = buffer.count - readIndex
                guard available >= 1 else { return .needMoreData }
                if buffer[readIndex] == 0x0A {
                    readIndex += 1
                } else if buffer[readIndex] == 0x0D {
                    guard available >= 2 else { return .needMoreData }
                    guard buffer[readIndex + 1] == 0x0A else {
                        return fail(HTTPParseError(.badRequest, "missing CRLF after chunk data"))
                    }
                    readIndex += 2
                } else {
                    return fail(HTTPParseError(.badRequest, "missing CRLF after chunk data"))
                }
                state = .chunkSize(head)

            case .trailers(let head, let consumed):
                // Trailer fields are read and discarded: nothing we serve depends on them.
                guard let lineEnd = findLF(from: readIndex) else {
                    if consumed + (buffer.count - readIndex) > limits.maxTrailerBytes {
                        return fail(HTTPParseError(.requestHeaderFieldsTooLarge, "trailer section too large"))
                    }
                    return .needMoreData
                }
                let lineLength = lineEnd - readIndex
                let isEmpty = lineLength == 0 || (lineLength == 1 && buffer[readIndex] == 0x0D)
                readIndex = lineEnd + 1
                if isEmpty {
                    state = .head(scanned: 0)
                    return .request(finish(head))
                }
                let total = consumed + lineLength + 1
                if total > limits.maxTrailerBytes {
                    return fail(HTTPParseError(.requestHeaderFieldsTooLarge, "trailer section too large"))
                }
                state = .trailers(head, consumed: total)
            }
        }
    }

    // MARK: - Transitions

    private mutating func enterBody(_ head: Head, _ framing: Framing) {
        switch framing {
        case .none: state = .fixedBody(head, length: 0)
        case .length(let n): state = .fixedBody(head, length: n)
        case .chunked: state = .chunkSize(head)
        }
    }

    private mutating func fail(_ error: HTTPParseError) -> Event {
        state = .failed(error)
        return .failed(error)
    }

    private mutating func finish(_ head: Head) -> HTTPRequest {
        let request = HTTPRequest(method: head.method, target: head.target, version: head.version,
                                  headers: head.headers, body: body)
        body = []
        if readIndex == buffer.count {
            // Idle between requests: give back large buffers so idle keep-alive connections stay small.
            if buffer.capacity > 64 * 1024 { buffer = [] } else { buffer.removeAll(keepingCapacity: true) }
            readIndex = 0
        }
        return request
    }

    private mutating func compactIfUseful() {
        if readIndex > 0 && (readIndex == buffer.count || readIndex >= 4096) {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }

    // MARK: - Head

    private enum HeadScan {
        case incomplete(scanned: Int)
        case complete(Head, Framing, expectContinue: Bool)
        case failed(HTTPParseError)
    }

    private func findLF(from start: Int) -> Int? {
        buffer.withUnsafeBufferPointer { buf -> Int? in
            var i = start
            let end = buf.count
            while i < end {
                if buf[i] == 0x0A { return i }
                i += 1
            }
            return nil
        }
    }

    /// `scanned` is the offset (from the request's first byte) of the first line not yet known to be complete;
    /// every line before it is a complete, non-empty header line. Resuming there keeps slow clients O(n).
    private mutating func scanHead(scanned: Int) -> HeadScan {
        if scanned == 0 {
            // Skip empty lines before the request line (RFC 9112 §2.2: clients may send a stray CRLF).
            while readIndex < buffer.count {
                if buffer[readIndex] == 0x0A {
                    readIndex += 1
                } else if buffer[readIndex] == 0x0D, readIndex + 1 < buffer.count, buffer[readIndex + 1] == 0x0A {
                    readIndex += 2
                } else {
                    break
                }
            }
        }
        let start = readIndex
        var lineStart = start + scanned
        var end: Int? = nil
        var requestLineTooLong = false
        let maxRequestLine = limits.maxRequestLineBytes
        buffer.withUnsafeBufferPointer { buf in
            var pos = lineStart
            while pos < buf.count {
                if buf[pos] == 0x0A {
                    let length = pos - lineStart
                    if lineStart == start {
                        if length > maxRequestLine { requestLineTooLong = true; return }
                    } else if length == 0 || (length == 1 && buf[lineStart] == 0x0D) {
                        end = pos
                        return
                    }
                    lineStart = pos + 1
                }
                pos += 1
            }
        }
        if requestLineTooLong || (lineStart == start && buffer.count - start > maxRequestLine) {
            return .failed(HTTPParseError(.uriTooLong, "request line too long"))
        }
        guard let headerEnd = end else {
            if buffer.count - start > limits.maxHeaderBytes {
                return .failed(HTTPParseError(.requestHeaderFieldsTooLarge, "header section too large"))
            }
            return .incomplete(scanned: lineStart - start)
        }
        if headerEnd + 1 - start > limits.maxHeaderBytes {
            return .failed(HTTPParseError(.requestHeaderFieldsTooLarge, "header section too large"))
        }
        let result = parseHead(start, headerEnd)
        readIndex = headerEnd + 1
        return result
    }

    private func parseHead(_ start: Int, _ end: Int) -> HeadScan {
        buffer.withUnsafeBufferPointer { buf -> HeadScan in
            // Split into lines without their terminators.
            var lines: [Range<Int>] = []
            lines.reserveCapacity(16)
            var lineStart = start
            var i = start
            while i < end {
                if buf[i] == 0x0A {
                    var lineEnd = i
                    if lineEnd > lineStart && buf[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                    lines.append(lineStart..<lineEnd)
                    lineStart = i + 1
                }
                i += 1
            }
            guard let requestLine = lines.first else {
                return .failed(HTTPParseError(.badRequest, "missing request line"))
            }
            if lines.count - 1 > limits.maxHeaderCount {
                return .failed(HTTPParseError(.requestHeaderFieldsTooLarge, "too many header fields"))
            }

            // Request line: method SP request-target SP HTTP-version
            let rl = requestLine
            var sp1 = rl.lowerBound
            while sp1 < rl.upperBound && buf[sp1] != 0x20 { sp1 += 1 }
            guard sp1 < rl.upperBound, sp1 > rl.lowerBound else {
                return .failed(HTTPParseError(.badRequest, "malformed request line"))
            }
            var sp2 = sp1 + 1
            while sp2 < rl.upperBound && buf[sp2] != 0x20 { sp2 += 1 }
            guard sp2 < rl.upperBound, sp2 > sp1 + 1 else {
                return .failed(HTTPParseError(.badRequest, "malformed request line"))
            }
            for j in rl.lowerBound..<sp1 where !isTokenChar(buf[j]) {
                return .failed(HTTPParseError(.badRequest, "malformed method"))
            }
            for j in (sp1 + 1)..<sp2 where buf[j] <= 0x20 || buf[j] >= 0x7F {
                return .failed(HTTPParseError(.badRequest, "malformed request target"))
            }
            guard let version = parseVersion(buf, sp2 + 1, rl.upperBound) else {
                return .failed(HTTPParseError(.badRequest, "malformed HTTP version"))
            }
            if version.major != 1 {
                return .failed(HTTPParseError(.httpVersionNotSupported, "only HTTP/1.x is supported"))
            }
            let method = HTTPMethod(token: String(decoding: UnsafeBufferPointer(rebasing: buf[rl.lowerBound..<sp1]),
                                                  as: UTF8.self))
            var target = String(decoding: UnsafeBufferPointer(rebasing: buf[(sp1 + 1)..<sp2]), as: UTF8.self)

            // Header fields.
            var headers = HTTPHeaders()
            for line in lines.dropFirst() {
                if buf[line.lowerBound] == 0x20 || buf[line.lowerBound] == 0x09 {
                    return .failed(HTTPParseError(.badRequest, "obsolete line folding is not accepted"))
                }
                var colon = line.lowerBound
                while colon < line.upperBound && buf[colon] != 0x3A { colon += 1 }
                guard colon < line.upperBound, colon > line.lowerBound else {
                    return .failed(HTTPParseError(.badRequest, "malformed header field"))
                }
                for j in line.lowerBound..<colon where !isTokenChar(buf[j]) {
                    return .failed(HTTPParseError(.badRequest, "malformed header field name"))
                }
                var vs = colon + 1
                var ve = line.upperBound
                while vs < ve && (buf[vs] == 0x20 || buf[vs] == 0x09) { vs += 1 }
                while ve > vs && (buf[ve - 1] == 0x20 || buf[ve - 1] == 0x09) { ve -= 1 }
                for j in vs..<ve {
                    let b = buf[j]
                    if (b < 0x20 && b != 0x09) || b == 0x7F {
                        return .failed(HTTPParseError(.badRequest, "invalid character in header value"))
                    }
                }
                let name = String(decoding: UnsafeBufferPointer(rebasing: buf[line.lowerBound..<colon]), as: UTF8.self)
                let value = String(decoding: UnsafeBufferPointer(rebasing: buf[vs..<ve]), as: UTF8.self)
                headers.add(name, value)
            }

            // Absolute-form targets (RFC 9112 §3.2.2) are reduced to origin-form.
            if !target.hasPrefix("/") && target != "*" {
                if let reduced = originForm(ofAbsolute: target) {
                    target = reduced
                } else {
                    return .failed(HTTPParseError(.badRequest, "malformed request target"))
                }
            }
            if !method.isKnown {
                return .failed(HTTPParseError(.notImplemented, "method not implemented"))
            }

            // Host (RFC 9112 §3.2): exactly one in HTTP/1.1.
            let hostCount = headers.values("Host").count
            if hostCount > 1 || (hostCount == 0 && version.minor >= 1) {
                return .failed(HTTPParseError(.badRequest, "exactly one Host header is required"))
            }

            // Framing (RFC 9112 §6).
            let transferEncodings = headers.values("Transfer-Encoding")
            let contentLengths = headers.values("Content-Length")
            var framing = Framing.none
            if !transferEncodings.isEmpty {
                if !contentLengths.isEmpty {
                    // Both present is a request-smuggling vector; refuse rather than pick one.
                    return .failed(HTTPParseError(.badRequest, "both Transfer-Encoding and Content-Length"))
                }
                if version.minor == 0 {
                    return .failed(HTTPParseError(.badRequest, "Transfer-Encoding in HTTP/1.0"))
                }
                let codings = transferEncodings.flatMap { $0.split(separator: ",") }.map { trimOWS($0) }
                guard codings.count == 1, asciiCaseInsensitiveEquals(codings[0], "chunked") else {
                    return .failed(HTTPParseError(.notImplemented, "only chunked transfer coding is supported"))
                }
                framing = .chunked
            } else if !contentLengths.isEmpty {
                var length: Int? = nil
                for part in contentLengths.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
                    let digits = trimOWS(part)
                    guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                        return .failed(HTTPParseError(.badRequest, "invalid Content-Length"))
                    }
                    guard digits.utf8.count <= 18, let value = Int(digits) else {
                        return .failed(HTTPParseError(.contentTooLarge, "request body exceeds the limit"))
                    }
                    if let previous = length, previous != value {
                        return .failed(HTTPParseError(.badRequest, "conflicting Content-Length values"))
                    }
                    length = value
                }
                let n = length ?? 0
                if n > limits.maxBodyBytes {
                    return .failed(HTTPParseError(.contentTooLarge, "request body exceeds the limit"))
                }
                framing = n == 0 ? .none : .length(n)
            }

            var expectContinue = false
            if let expect = headers["Expect"] {
                guard asciiCaseInsensitiveEquals(trimOWS(expect), "100-continue") else {
                    return .failed(HTTPParseError(.expectationFailed, "unsupported expectation"))
                }
                expectContinue = version.minor >= 1
            }
            return .complete(Head(method: method, target: target, version: version, headers: headers),
                             framing, expectContinue: expectContinue)
        }
    }

    private func parseVersion(_ buf: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> HTTPVersion? {
        // "HTTP/" DIGIT "." DIGIT
        guard to - from == 8 else { return nil }
        let expected: [UInt8] = Array("HTTP/".utf8)
        for k in 0..<5 where buf[from + k] != expected[k] { return nil }
        let major = buf[from + 5], dot = buf[from + 6], minor = buf[from + 7]
        guard (0x30...0x39).contains(major), dot == 0x2E, (0x30...0x39).contains(minor) else { return nil }
        return HTTPVersion(major: Int(major - 0x30), minor: Int(minor - 0x30))
    }

    private func parseChunkSize(_ from: Int, _ lfIndex: Int) -> Int? {
        var end = lfIndex
        if end > from && buffer[end - 1] == 0x0D { end -= 1 }
        var value = 0
        var digits = 0
        var i = from
        while i < end {
            let b = buffer[i]
            let d: Int
            switch b {
            case 0x30...0x39: d = Int(b - 0x30)
            case 0x41...0x46: d = Int(b - 0x41 + 10)
            case 0x61...0x66: d = Int(b - 0x61 + 10)
            case 0x3B, 0x20, 0x09:
                // Chunk extensions (`;name=value`) are allowed and ignored; they must follow at least one digit.
                guard digits > 0 else { return nil }
                for j in i..<end where buffer[j] < 0x20 && buffer[j] != 0x09 { return nil }
                return value
            default: return nil
            }
            digits += 1
            if digits > 15 { return nil }
            value = value * 16 + d
            i += 1
        }
        return digits > 0 ? value : nil
    }
}

/// tchar (RFC 9110 §5.6.2).
@inline(__always)
func isTokenChar(_ b: UInt8) -> Bool {
    switch b {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
    case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
    default: return false
    }
}

/// `http://host:port/path?q` → `/path?q`; nil if not an absolute http(s) URI.
func originForm(ofAbsolute target: String) -> String? {
    let lower = target.lowercased()
    let schemeEnd: String.Index
    if lower.hasPrefix("http://") {
        schemeEnd = target.index(target.startIndex, offsetBy: 7)
    } else if lower.hasPrefix("https://") {
        schemeEnd = target.index(target.startIndex, offsetBy: 8)
    } else {
        return nil
    }
    let rest = target[schemeEnd...]
    guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
    let path = String(rest[slash...])
    return path.hasPrefix("?") ? "/" + path : path
}
