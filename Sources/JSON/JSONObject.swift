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
