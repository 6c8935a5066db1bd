public import JSON

/// An attribute path as written: optional schema URN, attribute name, optional sub-attribute.
public struct AttributePath: Sendable, Hashable, CustomStringConvertible {
    /// The schema URN prefix, if the path was URN-qualified.
    public var schemaURN: String?
    /// The attribute name as written.
    public var name: String
    /// The sub-attribute name as written.
    public var subAttribute: String?

    /// Creates a path.
    public init(schemaURN: String? = nil, name: String, subAttribute: String? = nil) {
        self.schemaURN = schemaURN
        self.name = name
        self.subAttribute = subAttribute
    }

    public var description: String {
        var s = ""
        if let u = schemaURN { s += u + ":" }
        s += name
        if let sub = subAttribute { s += "." + sub }
        return s
    }

    /// Parses `[URI ":"] ATTRNAME ["." ATTRNAME]`; nil if malformed.
    public init?(parsing text: Substring) {
        var rest = text
        var urn: String? = nil
        if let colon = text.lastIndex(of: ":") {
            urn = String(text[..<colon])
            rest = text[text.index(after: colon)...]
            guard let u = urn, !u.isEmpty else { return nil }
        }
        let parts = rest.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count <= 2, AttributePath.isAttributeName(parts[0]) else { return nil }
        if parts.count == 2 { guard AttributePath.isAttributeName(parts[1]) else { return nil } }
        self.schemaURN = urn
        self.name = String(parts[0])
        self.subAttribute = parts.count == 2 ? String(parts[1]) : nil
    }

    /// `ATTRNAME = ALPHA *(ALPHA / DIGIT / "-" / "_")`, plus `$ref`.
    static func isAttributeName(_ s: Substring) -> Bool {
        let u = s.utf8
        guard let first = u.first else { return false }
        if first == UInt8(ascii: "$") { return asciiCaseInsensitiveEquals(String(s), "$ref") }
        func alpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
        guard alpha(first) else { return false }
        for c in u.dropFirst() where !(alpha(c) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")) {
            return false
        }
        return true
    }
}
