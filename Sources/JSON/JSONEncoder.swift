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
        var s = s
        s.withUTF8 { buf in
            var runStart = 0
            var i = 0
            let n = buf.count
            while i < n {
                let c = buf[i]
                if c >= 0x20 && c != 0x22 && c != 0x5C {
                    i += 1
                    continue
                }
                if i > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<i])) }
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
            if n > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<n])) }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension JSONValue {
    /// Compact JSON bytes of this value.
    public func encoded() -> [UInt8] { JSONEncoder.encode(self) }
}
