public import JSON

/// A group member reference, as it is stored in membership rows.
public struct MemberRef: Sendable, Hashable {
    /// The member's id (required).
    public var value: String
    /// "User" or "Group", when given.
    public var type: String?
    /// Display name, when given.
    public var display: String?
    /// `$ref`, when given.
    public var ref: String?

    /// Creates a reference.
    public init(value: String, type: String? = nil, display: String? = nil, ref: String? = nil) {
        self.value = value
        self.type = type
        self.display = display
        self.ref = ref
    }

    /// Parses normalised member objects; each must carry a non-empty `value`.
    public static func list(from value: JSONValue?) throws(SCIMError) -> [MemberRef] {
        guard let value else { return [] }
        guard case .array(let elements) = value else { throw .invalidValue("'members' must be an array of member objects") }
        var out: [MemberRef] = []
        out.reserveCapacity(elements.count)
        for e in elements {
            guard case .object(let o) = e, case .string(let v)? = o[caseInsensitive: "value"], !v.isEmpty else {
                throw .invalidValue("every member needs a non-empty 'value'")
            }
            out.append(MemberRef(value: v, type: o[caseInsensitive: "type"]?.string,
                                 display: o[caseInsensitive: "display"]?.string, ref: o[caseInsensitive: "$ref"]?.string))
        }
        return out
    }

    /// The member as a JSON object (`value`, then `$ref`, `type`, `display` when present).
    public var json: JSONValue {
        var o = JSONObject()
        o.appendUnchecked(key: "value", value: .string(value))
        if let ref { o.appendUnchecked(key: "$ref", value: .string(ref)) }
        if let type { o.appendUnchecked(key: "type", value: .string(type)) }
        if let display { o.appendUnchecked(key: "display", value: .string(display)) }
        return .object(o)
    }
}
