public import JSON

/// RFC 7643 §7 `returned`.
public enum Returned: String, Sendable, Hashable {
    case always, never, `default`, request
}
