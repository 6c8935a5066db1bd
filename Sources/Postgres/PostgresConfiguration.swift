import CLibPQ

/// Where and how to connect: parsed from a `postgresql://` URL or a libpq `key=value` string.
///
/// Parsing goes through libpq's own `PQconninfoParse`, so every libpq parameter (`sslmode`,
/// `options`, `target_session_attrs`, several hosts…) works exactly as in `psql`. A URL may name several
/// servers, `postgresql://h1:5432,h2:5433/db?target_session_attrs=read-write`: libpq tries them in order and
/// keeps the first that accepts writes, which is how a client follows a failover (a pool that drops broken
/// connections reconnects to whichever server is primary now). See
/// https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-MULTIPLE-HOSTS.
/// `description` never shows the password.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// libpq keyword/value pairs, in libpq's order, without empty values.
    private var parameters: [(keyword: String, value: String)]

    /// Seconds libpq waits for a connection (libpq's `connect_timeout`, minimum 2). With several hosts it applies
    /// to each host in turn.
    public var connectTimeoutSeconds: Int
    /// Reported to the server as `application_name` (visible in `pg_stat_activity`).
    public var applicationName: String?

    /// The `target_session_attrs` values libpq 14+ understands.
    static let sessionAttributes: Set<String> = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"]

    /// TCP settings sent unless the URL sets them: a server that vanishes without closing its connections (power
    /// loss, a network partition during a failover) is given up on within about 25 s instead of the kernel's
    /// default of minutes (keepalive) to a quarter of an hour (unacknowledged data), so a pooled connection to a
    /// lost primary fails, is dropped, and the next one finds the new primary.
    /// https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-KEEPALIVES
    static let tcpDefaults: [(keyword: String, value: String)] = [
        ("keepalives", "1"), ("keepalives_idle", "10"), ("keepalives_interval", "5"), ("keepalives_count", "3"),
        ("tcp_user_timeout", "25000"),
    ]

    /// Parses a URL (`postgresql://user[:pass]@host[:port][,host[:port]…]/db[?param=value]`) or a conninfo string.
    /// Errors name what is wrong without quoting the input (it may hold a password).
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
        if let timeout = self.value(of: "connect_timeout") {
            guard let seconds = Int(timeout), seconds >= 0 else {
                throw PostgresError(.invalidConfiguration, context: "connect_timeout must be a whole number of seconds")
            }
            self.connectTimeoutSeconds = seconds
        }
        if let name = self.value(of: "application_name") { self.applicationName = name }
        // libpq checks these only when connecting, so a typo would surface as a failed connection on every
        // attempt, forever; here it stops the process at start with a clear message.
        _ = try Self.endpoints(hosts: value(of: "host"), addresses: value(of: "hostaddr"), ports: value(of: "port"))
        if let attributes = value(of: "target_session_attrs"), !Self.sessionAttributes.contains(attributes) {
            throw PostgresError(.invalidConfiguration, context: "target_session_attrs must be one of "
                                + Self.sessionAttributes.sorted().joined(separator: ", "))
        }
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
    /// The port of a single-server configuration, if given (nil when several servers are named: see `endpoints`).
    public var port: Int? {
        let all = endpoints
        return all.count == 1 ? all[0].port : nil
    }
    /// The database name, if given.
    public var database: String? { value(of: "dbname") }
    /// Every server named, in the order libpq tries them (empty: libpq's default, the local socket).
    public var endpoints: [PostgresEndpoint] {
        (try? Self.endpoints(hosts: value(of: "host"), addresses: value(of: "hostaddr"), ports: value(of: "port"))) ?? []
    }
    /// Which server libpq keeps when several are named (`read-write`: the primary), if given.
    public var targetSessionAttributes: String? { value(of: "target_session_attrs") }

    /// Pairs hosts with ports as libpq does: one port for all hosts, or one per host; an empty entry is the default.
    static func endpoints(hosts: String?, addresses: String?, ports: String?) throws(PostgresError) -> [PostgresEndpoint] {
        func list(_ text: String?) -> [String] {
            guard let text else { return [] }
            return text.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmedSpaces }
        }
        let hostList = list(hosts), addressList = list(addresses), portText = list(ports)
        if !hostList.isEmpty && !addressList.isEmpty && hostList.count != addressList.count {
            throw PostgresError(.invalidConfiguration,
                                context: "\(hostList.count) hosts but \(addressList.count) hostaddr values (need one each)")
        }
        let names = hostList.isEmpty ? addressList : hostList
        var portList: [Int?] = []
        for text in portText {
            if text.isEmpty { portList.append(nil); continue }
            guard let port = Int(text), (1...65535).contains(port) else {
                throw PostgresError(.invalidConfiguration, context: "a port is not a number from 1 to 65535")
            }
            portList.append(port)
        }
        let count = max(names.count, 1)
        if portList.count > 1 && portList.count != count {
            throw PostgresError(.invalidConfiguration,
                                context: "\(count) hosts but \(portList.count) ports (give one port for all, or one per host)")
        }
        if names.isEmpty { return portList.isEmpty ? [] : [PostgresEndpoint(host: "", port: portList[0])] }
        return names.enumerated().map { index, name in
            PostgresEndpoint(host: name, port: portList.isEmpty ? nil : portList[portList.count == 1 ? 0 : index])
        }
    }

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

    /// The keyword/value list handed to `PQconnectdbParams`, with timeout, application name and the TCP defaults
    /// applied.
    var connectionParameters: [(keyword: String, value: String)] {
        var copy = self
        copy.set("connect_timeout", String(max(2, connectTimeoutSeconds)))
        if let applicationName { copy.set("application_name", applicationName) }
        for (keyword, value) in Self.tcpDefaults where copy.value(of: keyword) == nil { copy.set(keyword, value) }
        return copy.parameters
    }

    /// `postgresql://user@h1:5432,h2:5433/db?target_session_attrs=read-write`: what a log line may show.
    public var description: String {
        var text = "postgresql://"
        if let user { text += user + "@" }
        let all = endpoints
        text += all.isEmpty ? "(default host)" : all.map { $0.host.isEmpty ? "(default host)" + ($0.port.map { ":\($0)" } ?? "") : $0.description }
            .joined(separator: ",")
        text += "/" + (database ?? "")
        if let attributes = targetSessionAttributes { text += "?target_session_attrs=" + attributes }
        return text
    }
}

extension String {
    /// Without leading and trailing spaces (libpq allows them around list entries).
    fileprivate var trimmedSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
