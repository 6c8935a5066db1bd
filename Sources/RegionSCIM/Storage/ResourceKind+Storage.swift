import SCIMCore

extension ResourceKind {
    /// The table that holds this kind's rows, and the alias queries give it.
    var table: String { self == .user ? "users" : "groups" }
    var alias: String { self == .user ? "u" : "g" }
}
