/// Sort direction (RFC 7644 §3.4.2.3).
public enum SortOrder: String, Sendable, Hashable {
    case ascending, descending
}
