public import JSON

/// RFC 7643 §2.3 attribute data types.
public enum AttributeType: String, Sendable, Hashable {
    case string, boolean, decimal, integer, dateTime, reference, complex, binary
}
