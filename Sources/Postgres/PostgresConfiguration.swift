import CLibPQ

/// Where and how to connect: parsed from a `postgresql://` URL or a libpq `key=value` string.
///
/// Parsing goes through libpq's own `PQconninfoParse`, so every libpq parameter (`sslmode`,
/// `options`, `target_session_attrs`, several hosts…) works exactly as in `psql`.
/// `description` never shows the password.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// libpq keyword/value pairs, in libpq's order, without empty values.
    private var parameters: [(keyword: String, value: String)]

    /// Seconds libpq waits for a connection (libpq's `connect_timeout`, minimum 2).
    public var connectTimeoutSeconds: Int
    /// Reported to the server as `application_name` (visible in `pg_stat_activity`).
    public var applicationName: String?

    /// Parses a URL (`postgresql://user[:pass]@host[:port]/db[?param=value]`) or a conninfo string.
    public init(url: String, connectTimeoutSeconds: Int = 5, applicationName: String? = nil) throws(PostgresError) {
        var errorMessage: UnsafeMutablePointer<CChar>? = nil
        guard let options = PQconninfoParse(url, &errorMessage) else {
            // libpq's message can quote the input, which may hold a password: not surfaced.
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError(.invalidConfiguration, context: "connection string is not a valid URL or conninfo")
        }
        defer { PQconninfoFree(options) }
        var parameters: [(keyword: String, value: String)] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val, value.pointee != 0 {
                parameters.append((String(cString: keyword), String(cString: value)))
            }
            option += 1
        }
        self.parameters = parameters
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.applicationName = applicationName
        if let timeout = self.value(of: "connect_timeout"), let seconds = Int(timeout) {
            self.connectTimeoutSeconds = seconds
        }
        if let name = self.value(of: "application_name") { self.applicationName = name }
    }

    private func value(of keyword: String) -> String? {
        parameters.first { $0.keyword == keyword }?.value
    }

    private mutating func set(_ keyword: String, _ value: String) {
        if let index = parameters.firstIndex(where: { $0.keyword == keyword }) {
            parameters[index].value = value
        } else {
            parameters.append((keyword, value))
        }
    }

    /// The user name, if given.
    public var user: String? { value(of: "user") }
    /// The host (or comma-separated hosts), if given.
    public var host: String? { value(of: "host") ?? value(of: "hostaddr") }
    /// The port, if given.
    public var port: Int? { value(of: "port").flatMap { Int($0) } }
    /// The database name, if given.
    public var database: String? { value(of: "dbname") }

    /// The same server and credentials, another database.
    public func withDatabase(_ name: String) -> PostgresConfiguration {
        var copy = self
        copy.set("dbname", name)
        return copy
    }

    /// The same server, another user (drops the password: it belonged to the other user).
    public func withUser(_ name: String, password: String? = nil) -> PostgresConfiguration {
        var copy = self
        copy.set("user", name)
        copy.parameters.removeAll { $0.keyword == "password" }
        if let password { copy.set("password", password) }
        return copy
    }

    /// The keyword/value list handed to `PQconnectdbParams`, with timeout and application name applied.
    var connectionParameters: [(keyword: String, value: String)] {
        var copy = self
        copy.set("connect_timeout", String(max(2, connectTimeoutSeconds)))
        if let applicationName { copy.set("application_name", applicationName) }
        return copy.parameters
    }

    public var description: String {
        var text = "postgresql://"
        if let user { text += user + "@" }
        text += host ?? "(default host)"
        if let port { text += ":\(port)" }
        text += "/" + (database ?? "")
        return text
    }
}
