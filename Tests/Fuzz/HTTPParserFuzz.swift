// libFuzzer target: the HTTP/1.1 request parser (what every client byte meets first), the response parser (what
// the gateway reads back from a region) and query-string decoding.
// Properties:
// - Incremental parsing is independent of how the bytes are split: feeding the input all at once and in
//   fuzz-chosen pieces yields the same requests and the same failure (`100 Continue` aside: it depends on
//   whether body bytes arrived with the head, by design).
// - Every request respects the limits it was parsed under, and a failed parser stays failed.
// - A parsed request, encoded again by our client encoder, parses back to the same request.
// - Decoded query parameters re-encode to a query that decodes to the same parameters.
import HTTPCore

/// The first input byte picks the limits (small ones reach every limit branch quickly) and the split pattern.
func limits(_ selector: UInt8) -> HTTPLimits {
    if selector & 1 == 0 { return .default }
    var l = HTTPLimits()
    l.maxHeaderBytes = 256
    l.maxRequestLineBytes = 96
    l.maxHeaderCount = 6
    l.maxBodyBytes = 64
    l.maxChunkLineBytes = 16
    l.maxTrailerBytes = 48
    return l
}

/// What one parse of a byte stream produced, comparable across split patterns.
enum Outcome: Equatable {
    case request(method: String, target: String, version: String, headers: [String], body: [UInt8])
    case failed(status: Int, message: String)
}

func outcome(_ r: HTTPRequest) -> Outcome {
    .request(method: r.method.description, target: r.target, version: r.version.description,
             headers: r.headers.map { $0.name + ":" + $0.value }, body: r.body)
}

/// Feeds `pieces` one after another, draining events after each; stops at the first failure.
func parseRequests(_ pieces: [ArraySlice<UInt8>], limits: HTTPLimits) -> [Outcome] {
    var parser = RequestParser(limits: limits)
    var out: [Outcome] = []
    for piece in pieces {
        parser.append(Array(piece))
        loop: while true {
            switch parser.next() {
            case .request(let r):
                check(r, limits: limits)
                out.append(outcome(r))
            case .sendContinue:
                continue
            case .needMoreData:
                break loop
            case .failed(let e):
                out.append(.failed(status: e.status.code, message: e.message))
                // A failed parser must stay failed, whatever arrives next.
                parser.append([0x0D, 0x0A, 0x0D, 0x0A])
                guard case .failed(let again) = parser.next(), again == e else { fatalError("failed parser recovered") }
                return out
            }
        }
    }
    return out
}

func check(_ r: HTTPRequest, limits: HTTPLimits) {
    if r.body.count > limits.maxBodyBytes { fatalError("body over the limit") }
    if r.headers.count > limits.maxHeaderCount { fatalError("too many header fields") }
    if r.target.utf8.count > limits.maxRequestLineBytes { fatalError("target over the request-line limit") }
    if !r.method.isKnown { fatalError("unknown method let through") }
    if r.version.major != 1 { fatalError("HTTP version other than 1.x let through") }
    if r.version.minor >= 1 && r.headers.values("Host").count != 1 { fatalError("HTTP/1.1 without exactly one Host") }
    for field in r.headers {
        if field.name.isEmpty || field.value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) {
            fatalError("header field with an empty name or a control character")
        }
    }
}

/// Splits `bytes` into pieces whose sizes come from a small generator seeded by the input.
func split(_ bytes: ArraySlice<UInt8>, seed: UInt8) -> [ArraySlice<UInt8>] {
    var state = UInt32(seed) &* 2_654_435_761 | 1
    var pieces: [ArraySlice<UInt8>] = []
    var i = bytes.startIndex
    while i < bytes.endIndex {
        state ^= state << 13
        state ^= state >> 17
        state ^= state << 5
        let size = Int(state % 23) + 1
        let end = min(bytes.endIndex, i + size)
        pieces.append(bytes[i..<end])
        i = end
    }
    return pieces
}

func fuzzRequests(_ bytes: ArraySlice<UInt8>, selector: UInt8) {
    let l = limits(selector)
    let whole = parseRequests([bytes], limits: l)
    let pieces = parseRequests(split(bytes, seed: selector), limits: l)
    if whole != pieces { fatalError("request parse depends on how the bytes were split") }
    // Round trip through the client encoder, under roomy limits (the encoder may add Host and Content-Length).
    var roomy = HTTPLimits()
    roomy.maxHeaderBytes = 1 << 20
    roomy.maxRequestLineBytes = 1 << 20
    roomy.maxHeaderCount = 1000
    var parser = RequestParser(limits: l)
    parser.append(Array(bytes))
    while case .request(let r) = parser.next() {
        var encoded: [UInt8] = []
        HTTPEncoder.encode(r, host: "fuzz.example", into: &encoded)
        var again = RequestParser(limits: roomy)
        again.append(encoded)
        var event = again.next()
        if case .sendContinue = event { event = again.next() }
        guard case .request(let back) = event else { fatalError("an encoded request does not parse: \(event)") }
        let framing = ["content-length", "transfer-encoding"]
        let originalFields = r.headers.filter { !framing.contains($0.name.lowercased()) }.map { $0.name + ":" + $0.value }
        var backFields = back.headers.filter { !framing.contains($0.name.lowercased()) }.map { $0.name + ":" + $0.value }
        if !r.headers.contains("Host") { backFields.removeAll { $0 == "Host:fuzz.example" } }
        if back.method != r.method || back.target != r.target || back.body != r.body || backFields != originalFields {
            fatalError("request changed in an encode/parse round trip")
        }
    }
}

func responseOutcome(_ pieces: [ArraySlice<UInt8>], head: Bool) -> [String] {
    var parser = ResponseParser(maxHeaderBytes: 512, maxBodyBytes: 256)
    parser.expectingHeadResponse = head
    var out: [String] = []
    func drain(_ event: ResponseParser.Event) -> Bool {
        switch event {
        case .response(let r, let keepAlive):
            if r.body.count > 256 { fatalError("response body over the limit") }
            out.append("\(r.status.code) \(keepAlive) \(r.headers.count) \(r.body)")
            return true
        case .needMoreData:
            return false
        case .failed(let e):
            out.append("failed \(e.status.code) \(e.message)")
            return false
        }
    }
    for piece in pieces {
        parser.append(Array(piece))
        while drain(parser.next()) {}
        if out.last?.hasPrefix("failed") == true { return out }
    }
    _ = drain(parser.endOfStream())
    return out
}

func fuzzQuery(_ bytes: ArraySlice<UInt8>) {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let params = QueryParameters(text) else { return }
    guard let again = QueryParameters(params.encoded) else { fatalError("re-encoded query does not decode") }
    if again.items.map({ $0.name + "=" + $0.value }) != params.items.map({ $0.name + "=" + $0.value }) {
        fatalError("query parameters changed in a decode/encode round trip")
    }
    for item in params.items where PercentEncoding.decode(PercentEncoding.encode(item.value), plusAsSpace: false) != item.value {
        fatalError("percent-encoding round trip changed a value")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let all = Array(UnsafeBufferPointer(start: data, count: size))
    let selector = all[0]
    let bytes = all[1...]
    fuzzRequests(bytes, selector: selector)
    if selector & 2 != 0 {
        let head = selector & 4 != 0
        if responseOutcome([bytes], head: head) != responseOutcome(split(bytes, seed: selector), head: head) {
            fatalError("response parse depends on how the bytes were split")
        }
    }
    if let q = bytes.firstIndex(of: 0x3F) { fuzzQuery(bytes[(q + 1)...].prefix { $0 != 0x20 && $0 != 0x0D }) }
    return 0
}
