// Byte-level text helpers for HTTP's ASCII grammar (header names, tokens, OWS).

@inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 {
    (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
}

/// Case-insensitive equality for ASCII strings (header names and tokens).
public func asciiCaseInsensitiveEquals<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
    // Native strings and substrings expose contiguous UTF-8 and know its length: compare buffers (header lookups run
    // this for every field of every request; the iterator loop it replaced was a visible share of a request).
    guard a.utf8.count == b.utf8.count else { return false }
    if let result = a.utf8.withContiguousStorageIfAvailable({ pa in
        b.utf8.withContiguousStorageIfAvailable { pb -> Bool in
            for i in 0..<pa.count where pa[i] != pb[i] && asciiLower(pa[i]) != asciiLower(pb[i]) { return false }
            return true
        }
    }), let equal = result {
        return equal
    }
    return zip(a.utf8, b.utf8).allSatisfy { asciiLower($0) == asciiLower($1) }
}

/// Trims optional whitespace (SP / HTAB) from both ends.
public func trimOWS<S: StringProtocol>(_ s: S) -> Substring {
    var sub = Substring(s)
    while let f = sub.first, f == " " || f == "\t" { sub = sub.dropFirst() }
    while let l = sub.last, l == " " || l == "\t" { sub = sub.dropLast() }
    return sub
}
