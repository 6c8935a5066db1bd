/// Percent-decoding and `application/x-www-form-urlencoded` query parsing (RFC 3986, WHATWG URL §5).
public enum PercentEncoding {
    /// Decodes `%XX` escapes; with `plusAsSpace`, `+` becomes a space (query strings).
    /// Malformed escapes are kept literally: IdPs send odd encodings and rejecting them helps nobody.
    /// Returns nil only when the decoded bytes are not valid UTF-8.
    public static func decode<S: StringProtocol>(_ s: S, plusAsSpace: Bool) -> String? {
        var needsWork = false
        for b in s.utf8 where b == 0x25 || (plusAsSpace && b == 0x2B) {
            needsWork = true
            break
        }
        if !needsWork { return String(s) }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == 0x25, it.count >= 2, let h = hex(it[it.startIndex]), let l = hex(it[it.startIndex + 1]) {
                out.append(h << 4 | l)
                it = it.dropFirst(2)
            } else if plusAsSpace && b == 0x2B {
                out.append(0x20)
            } else {
                out.append(b)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// Encodes everything except unreserved characters (RFC 3986 §2.3).
    public static func encode(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E:
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let digits = Array("0123456789ABCDEF".utf8)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(digits[Int(b >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(digits[Int(b & 0xF)]))
            }
        }
        return out
    }

    @inline(__always)
    static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }
}

/// Decoded query parameters in order. Lookup ignores the case of names (IdPs vary: `startIndex`, `startindex`).
public struct QueryParameters: Sendable, Sequence {
    public private(set) var items: [(name: String, value: String)] = []

    /// Parses a raw query. Empty pieces (a trailing `&`, as OneLogin sends) are skipped.
    /// A piece that does not decode to valid UTF-8 makes the whole parse fail (nil).
    public init?<S: StringProtocol>(_ raw: S?) {
        guard let raw else { return }
        for piece in Substring(raw).split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring, value: Substring
            if let eq = piece.firstIndex(of: "=") {
                name = piece[..<eq]
                value = piece[piece.index(after: eq)...]
            } else {
                name = piece
                value = ""
            }
            guard let n = PercentEncoding.decode(name, plusAsSpace: true),
                  let v = PercentEncoding.decode(value, plusAsSpace: true) else { return nil }
            if n.isEmpty { continue }
            items.append((n, v))
        }
    }

    public init(_ items: [(name: String, value: String)]) { self.items = items }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { items.makeIterator() }

    /// The first value for `name` (case-insensitive), or nil.
    public subscript(name: String) -> String? {
        for item in items where asciiCaseInsensitiveEquals(item.name, name) { return item.value }
        return nil
    }

    /// How many times `name` occurs.
    public func count(of name: String) -> Int {
        items.reduce(0) { $0 + (asciiCaseInsensitiveEquals($1.name, name) ? 1 : 0) }
    }

    /// Re-encodes the parameters as a query string.
    public var encoded: String {
        items.map { PercentEncoding.encode($0.name) + "=" + PercentEncoding.encode($0.value) }.joined(separator: "&")
    }
}

/// Plain-HTTP URLs of backends and admin listeners.
public enum HTTPURL {
    /// `http://host:port[/…]` → (host, port); `[::1]` literals; port 80 when absent. nil for anything else.
    public static func hostAndPort(_ url: String) -> (String, Int)? {
        guard url.hasPrefix("http://") else { return nil }
        var rest = url.dropFirst(7)
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            let host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()) else { return (host, 80) }
            return (host, port)
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            return (String(rest[..<colon]), port)
        }
        return rest.isEmpty ? nil : (String(rest), 80)
    }
}
