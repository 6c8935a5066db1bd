public import JSON

/// A per-attribute value check (e.g. ISO 639-1 for a tenant's `preferredLanguage`).
public struct ValueValidator: Sendable, Hashable {
    /// Name used in error details and for equality.
    public let name: String
    let check: @Sendable (JSONValue) -> Bool

    /// Creates a validator; `check` returns true when the value is acceptable.
    public init(name: String, check: @escaping @Sendable (JSONValue) -> Bool) {
        self.name = name
        self.check = check
    }

    /// Runs the check.
    public func accepts(_ value: JSONValue) -> Bool { check(value) }

    public static func == (a: ValueValidator, b: ValueValidator) -> Bool { a.name == b.name }
    public func hash(into h: inout Hasher) { h.combine(name) }

    /// ISO 639-1: exactly two ASCII letters (`en`), optionally with a region (`en-US`, `en_US`) when `allowRegion`.
    public static func iso639_1(allowRegion: Bool = false) -> ValueValidator {
        ValueValidator(name: allowRegion ? "ISO 639-1 language tag" : "ISO 639-1 language code") { value in
            guard let s = value.string else { return false }
            let b = Array(s.utf8)
            func letter(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
            guard b.count >= 2, letter(b[0]), letter(b[1]) else { return false }
            if b.count == 2 { return true }
            guard allowRegion, b.count == 5, b[2] == UInt8(ascii: "-") || b[2] == UInt8(ascii: "_") else { return false }
            return letter(b[3]) && letter(b[4])
        }
    }
}
