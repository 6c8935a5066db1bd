/// RFC 7643 §7 `uniqueness`.
public enum Uniqueness: String, Sendable, Hashable {
    case none, server, global
}
