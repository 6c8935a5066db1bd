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
