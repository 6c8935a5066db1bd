import Crypto
import Locking
import Telemetry

/// UUIDs in their canonical text form (`8-4-4-4-12` lowercase hex): resource ids and tenant ids.
package enum UUIDText {
    /// The canonical lowercase form of `text`, or nil when it is not a UUID (either case is accepted).
    package static func canonical<S: StringProtocol>(_ text: S) -> String? {
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

    /// A new RFC 9562 version 7 UUID: 48 bits of Unix milliseconds, a 12-bit counter, then 62 random bits. Ids sort
    /// by creation time, so the primary key doubles as the stable default list order and inserts stay at the index's
    /// right edge. Within one process ids are strictly increasing (RFC 9562 §6.2, method 1): ids made in the same
    /// millisecond count up from a random start, and the clock never appears to go backwards. `nowMillis` (tests)
    /// bypasses that state.
    package static func version7(nowMillis: Int64? = nil) -> String {
        var bytes = SecureRandom.bytes(16)
        var ms = UInt64(max(0, nowMillis ?? Timestamp.nowEpochMillis()))
        var counter = UInt16(bytes[6] & 0x07) << 8 | UInt16(bytes[7])  // a random start below 0x800 leaves room to count
        if nowMillis == nil {
            (ms, counter) = lastVersion7.withLock { last in
                if ms > last.ms {
                    last = (ms, counter)
                } else if last.counter < 0x0FFF {
                    last.counter += 1
                } else {
                    last = (last.ms + 1, 0)  // 4,096 ids in one millisecond: borrow the next one
                }
                return last
            }
        }
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: ms >> (8 * (5 - UInt64(i)))) }
        bytes[6] = 0x70 | UInt8(counter >> 8)
        bytes[7] = UInt8(truncatingIfNeeded: counter)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return format(bytes)
    }

    private static let lastVersion7 = Lock<(ms: UInt64, counter: UInt16)>((0, 0))

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
