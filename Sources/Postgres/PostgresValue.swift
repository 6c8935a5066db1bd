/// A query parameter. Sent with `PQexecParams`/`PQexecPrepared`, never spliced into SQL.
///
/// `.text` is sent with type "unknown" so the server infers the type from context (a text value
/// works for a `uuid`, `citext` or `timestamptz` column); the other cases carry their type.
public enum PostgresValue: Sendable, Hashable {
    /// SQL NULL.
    case null
    /// A string; the server infers its type from context.
    case text(String)
    /// `int8`.
    case int(Int64)
    /// `float8`.
    case double(Double)
    /// `bool`.
    case bool(Bool)
    /// `bytea`, sent in binary.
    case bytes([UInt8])
    /// `uuid` in its text form (`0e3c…`).
    case uuid(String)
    /// `timestamptz`.
    case timestamp(PostgresTimestamp)
    /// `jsonb` in its text form.
    case jsonb(String)
}

extension PostgresValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(nilLiteral: ()) { self = .null }
}

extension PostgresValue {
    /// `.text`, or `.null` for nil.
    public init(_ value: String?) { self = value.map { .text($0) } ?? .null }
    /// `.int`, or `.null` for nil.
    public init(_ value: Int?) { self = value.map { .int(Int64($0)) } ?? .null }
    /// `.int`, or `.null` for nil.
    public init(_ value: Int64?) { self = value.map { .int($0) } ?? .null }
    /// `.bool`, or `.null` for nil.
    public init(_ value: Bool?) { self = value.map { .bool($0) } ?? .null }
}
