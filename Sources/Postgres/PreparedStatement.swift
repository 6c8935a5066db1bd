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

/// One statement in a pipeline: plain SQL or a prepared statement, with its parameters.
public enum PostgresStatement: Sendable {
    /// Unnamed statement via the extended protocol (one statement, no string interpolation).
    case sql(String, [PostgresValue] = [])
    /// A prepared statement (prepared in the same round trip if this connection lacks it).
    case prepared(PreparedStatement, [PostgresValue] = [])
}

/// 64-bit FNV-1a: a stable, dependency-free fingerprint for statement names and migration checksums
/// (detects edits, not adversaries).
enum FNV1a {
    static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    static func hex(_ text: String) -> String {
        let digits = String(hash(text), radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
