/// A statement prepared once per connection (lazily, on first use) and then run with `PQexecPrepared`.
///
/// Declare hot-path statements once, e.g. as `static let`, and pass them to `query`/`execute`.
/// Parameter types are inferred by the server from the SQL and from the values of the first
/// execution on each connection; add casts (`$1::uuid`) where the SQL alone is ambiguous.
public struct PreparedStatement: Sendable, Hashable {
    /// The server-side statement name (unique per distinct SQL).
    public let name: String
    /// The SQL text with `$1`, `$2`… placeholders.
    public let sql: String

    /// A statement with an explicit name.
    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }

    /// A statement named after a 64-bit FNV-1a hash of its SQL, so equal SQL shares one name.
    public init(_ sql: String) {
        self.name = "scim_" + FNV1a.hex(sql)
        self.sql = sql
    }
}
