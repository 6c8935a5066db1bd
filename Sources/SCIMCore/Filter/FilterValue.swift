public import JSON

/// A literal in a comparison. Dates are string literals, compared as instants when the attribute is a dateTime.
public enum FilterValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case number(JSONNumber)
    case bool(Bool)
    case null

    public var description: String {
        switch self {
        case .string(let s): return JSONValue.string(s).description
        case .number(let n): return n.text
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }
}
