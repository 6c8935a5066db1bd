// Compact JSON encoding to bytes.

/// Compact RFC 8259 encoding: `"`, `\` and control characters escaped, `/` and non-ASCII passed through as UTF-8.
public enum JSONEncoder {
    /// Encodes a value to UTF-8 bytes.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        // One traversal with amortised growth measured faster than an exact-size pre-pass.
        out.reserveCapacity(1024)
        encode(value, into: &out)
        return out
    }

    /// Appends the encoding of a value to `out`.
    public static func encode(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: append("null", to: &out)
        case .bool(let b): append(b ? "true" : "false", to: &out)
        case .number(let n): out.append(contentsOf: n.text.utf8)
        case .string(let s): encodeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for i in a.indices {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                encode(a[i], into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for i in 0..<o.count {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                encodeString(o.keyStorage[i], into: &out)
                out.append(UInt8(ascii: ":"))
                encode(o.valueStorage[i], into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The exact number of bytes `encode` produces.
    public static func encodedSize(_ value: JSONValue) -> Int {
        switch value {
        case .null: return 4
        case .bool(let b): return b ? 4 : 5
        case .number(let n): return n.text.utf8.count
        case .string(let s): return stringSize(s)
        case .array(let a):
            var n = 2 + max(0, a.count - 1)
            for e in a { n += encodedSize(e) }
            return n
        case .object(let o):
            var n = 2 + max(0, o.count - 1) + o.count  // braces, commas, colons
            for i in 0..<o.count { n += stringSize(o.keyStorage[i]) + encodedSize(o.valueStorage[i]) }
            return n
        }
    }

    static func stringSize(_ s: String) -> Int {
        var n = 2
        for c in s.utf8 {
            if c >= 0x20 && c != 0x22 && c != 0x5C {
                n += 1
            } else {
                switch c {
                case 0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x08, 0x0C: n += 2
                default: n += 6
                }
            }
        }
        return n
    }

    @inline(__always)
    static func append(_ s: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends a quoted, escaped string.
    public static func encodeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        if let done = s.utf8.withContiguousStorageIfAvailable({ appendEscaped($0, into: &out) }), done {
            out.append(UInt8(ascii: "\""))
            return
        }
        let bytes = Array(s.utf8)  // only strings without contiguous UTF-8 (bridged) get here
        _ = bytes.withUnsafeBufferPointer { appendEscaped($0, into: &out) }
        out.append(UInt8(ascii: "\""))
    }

    /// True when any byte of the word is a control character, `"` or `\` (SWAR test on 8 bytes at once).
    @inline(__always)
    static func needsEscape(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        let lessThanSpace = (w &- ones &* 0x20) & ~w
        let zeroQuote = (quote &- ones) & ~quote
        let zeroBackslash = (backslash &- ones) & ~backslash
        return (lessThanSpace | zeroQuote | zeroBackslash) & high != 0
    }

    @discardableResult
    static func appendEscaped(_ buf: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        guard let base = buf.baseAddress else { return true }
        let n = buf.count
        var runStart = 0
        var i = 0
        while i < n {
            // Skip 8 clean bytes at a time; the byte loop below handles the rest and every hit.
            if i + 8 <= n, !needsEscape(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) {
                i += 8
                continue
            }
            let c = base[i]
            if c >= 0x20 && c != 0x22 && c != 0x5C {
                i += 1
                continue
            }
            if i > runStart { out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i - runStart)) }
            switch c {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
            default:
                out.append(0x5C); out.append(UInt8(ascii: "u")); out.append(0x30); out.append(0x30)
                out.append(hex[Int(c >> 4)]); out.append(hex[Int(c & 0xF)])
            }
            i += 1
            runStart = i
        }
        if n > runStart { out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: n - runStart)) }
        return true
    }
}

extension JSONValue {
    /// Compact JSON bytes of this value.
    public func encoded() -> [UInt8] { JSONEncoder.encode(self) }
}
