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
