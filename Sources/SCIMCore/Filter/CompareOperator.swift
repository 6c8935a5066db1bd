/// Comparison operators (RFC 7644 Table 3).
public enum CompareOperator: String, Sendable, Hashable, CaseIterable {
    case eq, ne, co, sw, ew, gt, ge, lt, le
}
