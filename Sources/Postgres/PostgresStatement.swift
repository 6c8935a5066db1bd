/// One statement in a pipeline: plain SQL or a prepared statement, with its parameters.
public enum PostgresStatement: Sendable {
    /// Unnamed statement via the extended protocol (one statement, no string interpolation).
    case sql(String, [PostgresValue] = [])
    /// A prepared statement (prepared in the same round trip if this connection lacks it).
    case prepared(PreparedStatement, [PostgresValue] = [])
}
