/// One server a connection string names: `postgresql://h1:5432,h2:5433/db` names two, which libpq tries in order
/// (keeping the first that matches `target_session_attrs`).
public struct PostgresEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// A host name, an IP address, or a Unix-socket directory (starts with `/`).
    public var host: String
    /// nil: libpq's default (5432, or `PGPORT`).
    public var port: Int?

    public init(host: String, port: Int?) {
        self.host = host
        self.port = port
    }

    public var description: String {
        let shown = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return port.map { "\(shown):\($0)" } ?? shown
    }
}
