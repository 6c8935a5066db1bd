import JSON
import Postgres
import SCIMCore

/// Parameters of one statement. `$1` is always the tenant id.
struct SQLBindings: Sendable {
    private(set) var values: [PostgresValue]

    init(tenant: String) { values = [.uuid(tenant)] }

    /// Appends a value and returns its placeholder.
    mutating func bind(_ value: PostgresValue) -> String {
        values.append(value)
        return "$\(values.count)"
    }

    /// A text placeholder with an explicit cast, so the server never has to guess the type.
    mutating func text(_ value: String) -> String { bind(.text(value)) + "::text" }
}
