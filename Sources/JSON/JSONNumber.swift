/// A JSON number kept as its validated literal text, so huge or precise values survive a round trip.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The literal text exactly as it appeared (RFC 8259 number grammar).
    public let text: String

    /// Wraps literal text that is already known to follow the RFC 8259 number grammar.
    init(validatedText: String) { self.text = validatedText }

    /// Creates a number from an integer.
    public init(_ value: Int64) { self.text = String(value) }
    /// Creates a number from an integer.
    public init(_ value: Int) { self.text = String(value) }
    /// Creates a number from a finite double (non-finite values become 0, which JSON cannot carry).
    public init(_ value: Double) {
        guard value.isFinite else { self.text = "0"; return }
        // Swift's shortest round-trip text is valid JSON once a trailing ".0" is dropped.
        let text = "\(value)"
        self.text = text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    /// Parses and validates `text` against the RFC 8259 number grammar.
    public init?(text: String) {
        var copy = text
        let ok = copy.withUTF8 { JSONNumber.isValidLiteral($0) }
        guard ok else { return nil }
        self.text = text
    }

    /// The value as a 64-bit integer, if the literal is an integer (no fraction or exponent) that fits.
    public var int64: Int64? {
        var copy = text
        return copy.withUTF8 { buf -> Int64? in
            var i = 0
            var negative = false
            if i < buf.count, buf[i] == UInt8(ascii: "-") { negative = true; i += 1 }
            guard i < buf.count else { return nil }
            var result: Int64 = 0
            while i < buf.count {
                let c = buf[i]
                guard c >= 0x30, c <= 0x39 else { return nil }
                let digit = Int64(c &- 0x30)
                let (m, o1) = result.multipliedReportingOverflow(by: 10)
                if o1 { return nil }
                let (s, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
                if o2 { return nil }
                result = s
                i += 1
            }
            return result
        }
    }

    /// The value as an `Int`, if it is an integer that fits.
    public var int: Int? { int64.map { Int($0) } }

    /// The value as a double (may round; huge exponents give infinity).
    public var double: Double { Double(text) ?? .nan }

    /// The exact decimal text of the literal.
    public var decimalText: String { text }

    /// True when the literal has no fraction and no exponent.
    public var isIntegerLiteral: Bool {
        !text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") })
    }

    public var description: String { text }

    /// RFC 8259: `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`
    static func isValidLiteral(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = b.count
        if i < n, b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n else { return false }
        if b[i] == UInt8(ascii: "0") {
            i += 1
        } else if b[i] >= UInt8(ascii: "1"), b[i] <= UInt8(ascii: "9") {
            while i < n, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
        } else {
            return false
        }
        if i < n, b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < n, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            if i == start { return false }
        }
        if i < n, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < n, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            let start = i
            while i < n, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            if i == start { return false }
        }
        return i == n
    }

    /// Compares two numbers by value (exactly for integers that fit in Int64, else as doubles).
    public func compare(_ other: JSONNumber) -> Int {
        if let a = int64, let b = other.int64 { return a < b ? -1 : (a > b ? 1 : 0) }
        let a = double, b = other.double
        return a < b ? -1 : (a > b ? 1 : 0)
    }
}
