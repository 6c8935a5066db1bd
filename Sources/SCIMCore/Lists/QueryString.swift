public import JSON

/// `application/x-www-form-urlencoded`-style query decoding as SCIM clients use it: `+` is a space, `%XX` a byte,
/// empty pairs (OneLogin's trailing `&` [docs/idp-behaviour.md#onelogin-overview]) are skipped, malformed escapes are kept literally.
public enum QueryString {
    /// Decodes `a=1&b=x+y` into ordered name/value pairs.
    public static func decode(_ query: String) -> [(name: String, value: String)] {
        var q = Substring(query)
        if q.first == "?" { q = q.dropFirst() }
        var out: [(name: String, value: String)] = []
        for pair in q.split(separator: "&", omittingEmptySubsequences: true) {
            if let eq = pair.firstIndex(of: "=") {
                out.append((unescape(pair[..<eq]), unescape(pair[pair.index(after: eq)...])))
            } else {
                out.append((unescape(pair), ""))
            }
        }
        return out
    }

    /// Percent-decodes one component (`+` → space); invalid UTF-8 is repaired with U+FFFD.
    public static func unescape(_ s: Substring) -> String {
        let u = Array(s.utf8)
        guard u.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return String(s) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(u.count)
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        while i < u.count {
            let c = u[i]
            if c == UInt8(ascii: "+") {
                bytes.append(0x20)
                i += 1
            } else if c == UInt8(ascii: "%"), i + 2 < u.count, let h = hex(u[i + 1]), let l = hex(u[i + 2]) {
                bytes.append(h << 4 | l)
                i += 3
            } else {
                bytes.append(c)
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~".
    static func isUnreserved(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39)
            || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "~")
    }
}
