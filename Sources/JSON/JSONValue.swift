// JSONValue: an exact, order-preserving JSON value.

/// A JSON value; numbers keep their literal text, objects keep member order.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

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

/// An ordered JSON object: members keep insertion order; lookup is exact or ASCII case-insensitive.
public struct JSONObject: Sendable, Hashable, RandomAccessCollection {
    public typealias Element = (key: String, value: JSONValue)
    public typealias Index = Int

    @usableFromInline var keyStorage: [String]
    @usableFromInline var valueStorage: [JSONValue]

    /// An empty object.
    public init() { keyStorage = []; valueStorage = [] }

    /// An object with the given members in order (later duplicates replace earlier ones in place).
    public init(_ members: [(String, JSONValue)]) {
        self.init()
        keyStorage.reserveCapacity(members.count)
        valueStorage.reserveCapacity(members.count)
        for (k, v) in members { self[k] = v }
    }

    init(uncheckedKeys: [String], values: [JSONValue]) {
        keyStorage = uncheckedKeys
        valueStorage = values
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { keyStorage.count }
    public subscript(position: Int) -> Element { (keyStorage[position], valueStorage[position]) }

    /// The member keys in order.
    public var keys: [String] { keyStorage }
    /// The member values in order.
    public var values: [JSONValue] { valueStorage }

    /// Index of the member with exactly this key (same UTF-8 bytes; no Unicode normalisation).
    public func index(forKey key: String) -> Int? {
        let n = key.utf8.count
        for i in keyStorage.indices where keyStorage[i].utf8.count == n && utf8Equal(keyStorage[i], key) { return i }
        return nil
    }

    /// Index of the first member whose key equals `key` ignoring ASCII case (RFC 7643 §2.1 attribute names).
    public func index(forCaseInsensitiveKey key: String) -> Int? {
        for i in keyStorage.indices where asciiCaseInsensitiveEquals(keyStorage[i], key) { return i }
        return nil
    }

    /// Exact-key access; assigning `nil` removes the member, assigning a new key appends it.
    public subscript(key: String) -> JSONValue? {
        get { index(forKey: key).map { valueStorage[$0] } }
        set {
            if let i = index(forKey: key) {
                if let v = newValue { valueStorage[i] = v } else {
                    keyStorage.remove(at: i)
                    valueStorage.remove(at: i)
                }
            } else if let v = newValue {
                keyStorage.append(key)
                valueStorage.append(v)
            }
        }
    }

    /// Case-insensitive lookup (first match).
    public subscript(caseInsensitive key: String) -> JSONValue? {
        index(forCaseInsensitiveKey: key).map { valueStorage[$0] }
    }

    /// Replaces the value at an index.
    public mutating func setValue(_ value: JSONValue, at index: Int) { valueStorage[index] = value }

    /// Removes the member at an index.
    public mutating func remove(at index: Int) {
        keyStorage.remove(at: index)
        valueStorage.remove(at: index)
    }

    /// Appends a member without checking for an existing key (caller guarantees uniqueness).
    public mutating func appendUnchecked(key: String, value: JSONValue) {
        keyStorage.append(key)
        valueStorage.append(value)
    }

    /// Reserves room for members.
    public mutating func reserveCapacity(_ n: Int) {
        keyStorage.reserveCapacity(n)
        valueStorage.reserveCapacity(n)
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.keyStorage == rhs.keyStorage && lhs.valueStorage == rhs.valueStorage
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(keyStorage)
        hasher.combine(valueStorage)
    }
}

/// Byte-exact UTF-8 equality (no Unicode canonical equivalence), with a contiguous-buffer fast path for native
/// strings (the generic `elementsEqual` over UTF8View was a visible share of a GET's instructions).
@usableFromInline
func utf8Equal(_ a: String, _ b: String) -> Bool {
    if let r = a.utf8.withContiguousStorageIfAvailable({ pa in
        b.utf8.withContiguousStorageIfAvailable { pb -> Bool in
            guard pa.count == pb.count else { return false }
            for i in 0..<pa.count where pa[i] != pb[i] { return false }
            return true
        }
    }), let result = r {
        return result
    }
    return a.utf8.elementsEqual(b.utf8)
}

/// ASCII case-insensitive string equality (non-ASCII bytes must match exactly; no Unicode normalisation).
@inlinable
public func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    // Native strings know their UTF-8 count in O(1): most mismatches end here, and most matches are exact.
    guard a.utf8.count == b.utf8.count else { return false }
    return asciiCaseInsensitiveEqualsSlow(a, b)
}

@usableFromInline
func asciiCaseInsensitiveEqualsSlow(_ a: String, _ b: String) -> Bool {
    // Native and small strings expose contiguous UTF-8, so this is a tight loop over two buffers.
    if let r = a.utf8.withContiguousStorageIfAvailable({ pa in
        b.utf8.withContiguousStorageIfAvailable { pb in asciiCaseInsensitiveEquals(pa, pb) }
    }), let result = r {
        return result
    }
    let x = Array(a.utf8), y = Array(b.utf8)  // bridged strings only
    return x.withUnsafeBufferPointer { pa in y.withUnsafeBufferPointer { pb in asciiCaseInsensitiveEquals(pa, pb) } }
}

@inline(__always)
func asciiCaseInsensitiveEquals(_ pa: UnsafeBufferPointer<UInt8>, _ pb: UnsafeBufferPointer<UInt8>) -> Bool {
    guard pa.count == pb.count else { return false }
    for i in 0..<pa.count {
        let x = pa[i], y = pb[i]
        if x == y { continue }
        let lx = x | 0x20
        guard lx == y | 0x20, lx >= 0x61, lx <= 0x7A else { return false }
    }
    return true
}

// MARK: - Accessors

extension JSONValue {
    /// The string payload, if this is a string.
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The boolean payload, if this is a boolean.
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    /// The number payload, if this is a number.
    public var number: JSONNumber? { if case .number(let n) = self { return n } else { return nil } }
    /// The value as Int64, if this is an integer number that fits.
    public var int64: Int64? { number?.int64 }
    /// The value as Int, if this is an integer number that fits.
    public var int: Int? { number?.int }
    /// The value as Double, if this is a number.
    public var double: Double? { number?.double }
    /// The array payload, if this is an array.
    public var array: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    /// The object payload, if this is an object.
    public var object: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    /// True when this is `null`.
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// Exact-key member lookup on objects (nil for non-objects or missing keys).
    public subscript(key: String) -> JSONValue? {
        get { object?[key] }
        set {
            guard case .object(var o) = self else { return }
            self = .null  // drop the reference so `o` is uniquely owned and mutates in place
            o[key] = newValue
            self = .object(o)
        }
    }

    /// Case-insensitive member lookup on objects.
    public subscript(caseInsensitive key: String) -> JSONValue? { object?[caseInsensitive: key] }

    /// Element access on arrays (nil when out of range or not an array).
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .number(JSONNumber(value)) }
    public init(floatLiteral value: Double) { self = .number(JSONNumber(value)) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text of the value.
    public var description: String { String(decoding: JSONEncoder.encode(self), as: UTF8.self) }
}

extension JSONObject {
    /// Sets `key` (replacing the value of an existing exact key, else appending it).
    public mutating func set(_ key: String, _ value: JSONValue) {
        if let i = index(forKey: key) { setValue(value, at: i) } else { appendUnchecked(key: key, value: value) }
    }
}
