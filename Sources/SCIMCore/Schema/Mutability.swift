/// RFC 7643 §7 `mutability`.
public enum Mutability: String, Sendable, Hashable {
    case readOnly, readWrite, immutable, writeOnly
}
