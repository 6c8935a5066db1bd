/// The transaction id of an events-feed cursor's position, read from its wire form (`e` or `s` + base64url, the
/// position's xid in the first 8 bytes), so that tests outside the region can tell when the feed has passed a
/// transaction. Nil for anything else.
public func eventCursorXID(_ cursor: String) -> UInt64? {
    guard let first = cursor.first, first == "e" || first == "s" else { return nil }
    var bits: UInt64 = 0, count = 0
    var bytes: [UInt8] = []
    for c in cursor.utf8.dropFirst() {
        let v: UInt8
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"), UInt8(ascii: "+"): v = 62
        case UInt8(ascii: "_"), UInt8(ascii: "/"): v = 63
        case UInt8(ascii: "="): continue
        default: return nil
        }
        bits = bits << 6 | UInt64(v)
        count += 6
        if count >= 8 {
            count -= 8
            bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(count)))
        }
        if bytes.count == 8 { break }
    }
    guard bytes.count == 8 else { return nil }
    return bytes.reduce(0) { $0 << 8 | UInt64($1) }
}
