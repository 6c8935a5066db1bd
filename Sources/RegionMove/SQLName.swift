/// An SQL identifier, always quoted: table and column names come from `pg_catalog` (never from a request) and are
/// spliced into generated statements only through this type.
struct SQLName: Sendable, Hashable, CustomStringConvertible {
    /// The name as the catalog spells it.
    let raw: String

    init(_ raw: String) { self.raw = raw }

    /// `"name"`, with embedded quotes doubled (PostgreSQL's rule for delimited identifiers).
    var quoted: String { "\"" + raw.replacing("\"", with: "\"\"") + "\"" }

    var description: String { raw }
}
