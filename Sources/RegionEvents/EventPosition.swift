import Crypto
import JSON
import Postgres
import SCIMCore
import RegionSCIM

/// A position in a tenant's event stream: the writing transaction's id and the event's sequence value. Events are
/// ordered by `(xid, seq)`; see `EventSchema` for why no committed event can ever appear behind a position.
package struct EventPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The transaction id (`xid8`).
    package var xid: UInt64
    /// The sequence value within the region (orders events of one transaction).
    package var seq: Int64

    /// A position.
    package init(xid: UInt64, seq: Int64) {
        self.xid = xid
        self.seq = seq
    }

    /// Before every event.
    package static let start = EventPosition(xid: 0, seq: 0)

    package static func < (a: EventPosition, b: EventPosition) -> Bool {
        a.xid != b.xid ? a.xid < b.xid : a.seq < b.seq
    }

    /// The opaque cursor: base64url of xid and seq (big-endian, 8 bytes each), behind a version letter.
    package var cursor: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: xid >> UInt64(shift))) }
        let s = UInt64(bitPattern: seq)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: s >> UInt64(shift))) }
        return "e" + Base64.encode(bytes, urlSafe: true)
    }

    /// Parses a cursor made by `cursor`; nil for anything else.
    package init?(cursor: String) {
        guard cursor.utf8.count == 23, cursor.hasPrefix("e"),
              let bytes = Base64.decode(String(cursor.dropFirst())), bytes.count == 16 else { return nil }
        var x: UInt64 = 0, s: UInt64 = 0
        for i in 0..<8 { x = x << 8 | UInt64(bytes[i]) }
        for i in 8..<16 { s = s << 8 | UInt64(bytes[i]) }
        guard s <= UInt64(Int64.max) else { return nil }
        xid = x
        seq = Int64(s)
    }

    /// The event id this position names (`evt_<xid>_<seq>`): unique within the region, stable across redeliveries.
    package var eventID: String { "evt_\(xid)_\(seq)" }

    /// The position as a number that increases along a tenant's feed: xid · 10^20 + seq, written as 40 decimal
    /// digits (JSON numbers cannot hold it exactly), so that comparing two sequences as strings compares them as
    /// numbers.
    package var sequence: String { Self.padded(xid) + Self.padded(UInt64(seq)) }

    static func padded(_ n: UInt64) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    package var description: String { "\(xid).\(seq)" }

    /// The xid as SQL text (`xid8` input).
    var xidText: String { String(xid) }
}
