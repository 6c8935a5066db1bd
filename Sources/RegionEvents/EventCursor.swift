import Crypto

/// Where a reader of the events feed stands: a position, and — for a reader that resumes from a reconciliation
/// snapshot — that snapshot, whose transactions the feed skips (the snapshot already holds their effects) until the
/// reader has passed every transaction it could have seen (`xmax`). From then on it is a plain position.
///
/// Wire forms: `e…` (a position, `EventPosition.cursor`) and `s` + base64url(position xid, seq, xmin, xmax,
/// in-progress xids; 8 bytes each, big-endian).
package struct EventCursor: Sendable, Hashable {
    package var position: EventPosition
    package var snapshot: EventSnapshot?

    /// A cursor; the snapshot is dropped once the position is past it.
    package init(position: EventPosition, snapshot: EventSnapshot?) {
        self.position = position
        if let snapshot, position < EventPosition(xid: snapshot.xmax, seq: 0) {
            self.snapshot = snapshot
        } else {
            self.snapshot = nil
        }
    }

    /// The cursor a reconciliation snapshot hands out: before every transaction the snapshot did not see.
    package init(after snapshot: EventSnapshot) {
        self.init(position: EventPosition(xid: snapshot.xmin, seq: 0), snapshot: snapshot)
    }

    /// Parses either wire form; nil for anything else.
    package init?(text: String) {
        if let position = EventPosition(cursor: text) {
            self.init(position: position, snapshot: nil)
            return
        }
        guard text.hasPrefix("s"), text.utf8.count <= 12_000, let bytes = Base64.decode(String(text.dropFirst())),
              bytes.count >= 32, bytes.count % 8 == 0 else { return nil }
        var words: [UInt64] = []
        for start in stride(from: 0, to: bytes.count, by: 8) {
            var w: UInt64 = 0
            for i in start..<(start + 8) { w = w << 8 | UInt64(bytes[i]) }
            words.append(w)
        }
        guard words[1] <= UInt64(Int64.max), let snapshot = EventSnapshot(xmin: words[2], xmax: words[3], xip: Array(words[4...])) else {
            return nil
        }
        self.init(position: EventPosition(xid: words[0], seq: Int64(words[1])), snapshot: snapshot)
    }

    /// The wire form.
    package var text: String {
        guard let snapshot else { return position.cursor }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32 + 8 * snapshot.xip.count)
        for w in [position.xid, UInt64(bitPattern: position.seq), snapshot.xmin, snapshot.xmax] + snapshot.xip {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: w >> UInt64(shift))) }
        }
        return "s" + Base64.encode(bytes, urlSafe: true)
    }
}
