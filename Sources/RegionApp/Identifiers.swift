import Crypto
import Telemetry

/// UUIDs in their canonical text form (`8-4-4-4-12` lowercase hex): resource ids and tenant ids.
public enum UUIDText {
    /// The canonical lowercase form of `text`, or nil when it is not a UUID (either case is accepted).
    public static func canonical<S: StringProtocol>(_ text: S) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, b) in bytes.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard b == UInt8(ascii: "-") else { return nil }
                out.append(b)
                continue
            }
            switch b {
            case 0x30...0x39, 0x61...0x66: out.append(b)
            case 0x41...0x46: out.append(b | 0x20)
            default: return nil
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A new RFC 9562 version 7 UUID: 48 bits of Unix milliseconds, then 74 random bits. Ids sort by creation
    /// time, so the primary key doubles as the stable default list order and inserts stay at the index's right edge.
    public static func version7(nowMillis: Int64? = nil) -> String {
        var bytes = SecureRandom.bytes(16)
        let ms = UInt64(max(0, nowMillis ?? Timestamp.nowEpochMillis()))
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: ms >> (8 * (5 - UInt64(i)))) }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return format(bytes)
    }

    /// Formats 16 bytes as canonical text.
    static func format(_ bytes: [UInt8]) -> String {
        let hex = Hex.encode(bytes)
        let h = Array(hex.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, c) in h.enumerated() {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Case folding for attributes compared case-insensitively (caseExact=false): the same rule the SCIMCore
/// evaluator uses (ASCII fast path, Unicode lowercasing otherwise), applied in Swift so stored keys and query
/// literals agree whatever the database's locale is.
public enum CaseFold {
    /// The folded form of `text`.
    public static func fold(_ text: String) -> String {
        var ascii = true
        var hasUpper = false
        for c in text.utf8 {
            if c >= 0x80 { ascii = false; break }
            if c >= 0x41 && c <= 0x5A { hasUpper = true }
        }
        if ascii && !hasUpper { return text }
        return text.lowercased()
    }
}

/// PostgreSQL array literals for `text[]` and `uuid[]` parameters (sent as one text value, never spliced into SQL).
enum ArrayLiteral {
    /// `{"a","b"}` with `"` and `\` escaped.
    static func text<S: Sequence<String>>(_ values: S) -> String {
        var out = "{"
        var first = true
        for v in values {
            if !first { out += "," }
            first = false
            out += "\""
            for ch in v.unicodeScalars {
                if ch == "\"" || ch == "\\" { out += "\\" }
                out.unicodeScalars.append(ch)
            }
            out += "\""
        }
        return out + "}"
    }
}
