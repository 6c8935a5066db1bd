public import Glibc
public import Postgres
import Synchronization

/// Why a test could not get its PostgreSQL database.
public struct TestDatabaseError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A local PostgreSQL cluster started by `scripts/pg.sh` (its `DIR/env` values).
public struct PostgresCluster: Sendable {
    /// Superuser URL (`postgres` role, `postgres` database).
    public let adminURL: String
    /// App role URL (`scim`: not a superuser, so row-level security applies).
    public let appURL: String
    /// Server bin dir (pg_ctl, psql…).
    public let binDirectory: String
    /// Data directory, for pg_ctl.
    public let dataDirectory: String
    /// Server log file.
    public let logFile: String?
    /// OS user that must run pg_ctl (set when the tests run as root).
    public let owner: String?

    /// The shared test cluster, from the environment set by `make test` / `source .pg/test/env`.
    public static func fromEnvironment() throws -> PostgresCluster {
        func require(_ name: String) throws -> String {
            guard let value = getenv(name).map({ String(cString: $0) }), !value.isEmpty else {
                throw TestDatabaseError(
                    "\(name) is not set: run `make test` (or `scripts/pg.sh start .pg/test && source .pg/test/env`)")
            }
            return value
        }
        return PostgresCluster(
            adminURL: try require("SCIM_PG_ADMIN_URL"), appURL: try require("SCIM_PG_APP_URL"),
            binDirectory: (try? require("SCIM_PG_BIN")) ?? "", dataDirectory: (try? require("SCIM_PG_DATA")) ?? "",
            logFile: try? require("SCIM_PG_LOG"), owner: try? require("SCIM_PG_OWNER"))
    }

    /// A private cluster under `<repo>/.pg/<name>`, started (and created on first use) with
    /// `scripts/pg.sh start`. For tests that restart or stop the server, which must not disturb
    /// the shared cluster other suites are using at the same time.
    public static func scratch(named name: String) throws -> PostgresCluster {
        let directory = repositoryRoot + "/.pg/" + name
        try run(["/bin/bash", repositoryRoot + "/scripts/pg.sh", "start", directory])
        let env = try readFile(directory + "/env")
        var values: [String: String] = [:]
        for line in env.split(separator: "\n") {
            let text = line.hasPrefix("export ") ? line.dropFirst(7) : line[...]
            guard let equals = text.firstIndex(of: "=") else { continue }
            values[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        guard let admin = values["SCIM_PG_ADMIN_URL"], let app = values["SCIM_PG_APP_URL"],
            let bin = values["SCIM_PG_BIN"], let data = values["SCIM_PG_DATA"]
        else { throw TestDatabaseError("\(directory)/env lacks SCIM_PG_* values") }
        return PostgresCluster(
            adminURL: admin, appURL: app, binDirectory: bin, dataDirectory: data, logFile: values["SCIM_PG_LOG"],
            owner: values["SCIM_PG_OWNER"])
    }

    /// `pg_ctl restart -m fast` (same port, same data); returns once the server accepts connections.
    public func restart() throws {
        try pgCtl(["restart", "-m", "fast", "-w", "-t", "30"] + (logFile.map { ["-l", $0] } ?? []))
    }

    /// Every process of the running server: the postmaster (first line of `postmaster.pid`) and its children.
    public func serverProcesses() -> [pid_t] {
        guard let text = try? Self.readFile(dataDirectory + "/postmaster.pid"),
              let first = text.split(separator: "\n").first, let postmaster = pid_t(first) else { return [] }
        var pids = [postmaster]
        for name in (try? listDirectory("/proc")) ?? [] {
            guard let pid = pid_t(name), let stat = try? Self.readFile("/proc/\(name)/stat"),
                  let close = stat.lastIndex(of: ")") else { continue }
            // "pid (comm) state ppid ...": the fields after the command name.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == postmaster { pids.append(pid) }
        }
        return pids
    }

    /// SIGSTOP to every server process: PostgreSQL hangs (connections stay open, nothing answers) — a paused VM
    /// or a dead disk, as far as its clients can tell. `resume()` sends SIGCONT.
    public func pause() {
        for pid in serverProcesses() { kill(pid, SIGSTOP) }
    }

    public func resume() {
        for pid in serverProcesses() { kill(pid, SIGCONT) }
    }

    /// `pg_ctl stop -m fast`.
    public func stop() throws {
        try pgCtl(["stop", "-m", "fast", "-w", "-t", "30"])
    }

    /// `pg_ctl start` (after `stop`).
    public func start() throws {
        try pgCtl(["start", "-w", "-t", "30"] + (logFile.map { ["-l", $0] } ?? []))
    }

    private func pgCtl(_ arguments: [String]) throws {
        guard !binDirectory.isEmpty, !dataDirectory.isEmpty else {
            throw TestDatabaseError("SCIM_PG_BIN / SCIM_PG_DATA not set: cannot run pg_ctl")
        }
        var command = [binDirectory + "/pg_ctl"] + arguments + ["-D", dataDirectory]
        // PostgreSQL refuses to run as root: pg.sh made `owner` own the cluster.
        if let owner, getuid() == 0 { command = ["/usr/sbin/runuser", "-u", owner, "--"] + command }
        try Self.run(command)
    }

    /// The repository root, derived from this file's location (Tests/TestSupport/…).
    static let repositoryRoot: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    /// Runs a command with output discarded; throws if it exits non-zero.
    static func run(_ command: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var arguments: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) }
        arguments.append(nil)
        defer { for argument in arguments { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, nil, arguments, environ)
        guard spawned == 0 else { throw TestDatabaseError("cannot start \(command[0]) (errno \(spawned))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED && WEXITSTATUS == 0, spelled out (the macros are not imported).
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw TestDatabaseError("\(command.joined(separator: " ")) failed (wait status \(status))")
        }
    }

    static func readFile(_ path: String) throws -> String {
        guard let file = fopen(path, "r") else { throw TestDatabaseError("cannot read \(path)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A fresh database owned by `scim`, unique to one test (or suite), on the test cluster.
///
/// Names are `scimtest_<label>_<pid>_<n>`. `drop()` removes it; databases left behind by a
/// crashed or killed run (their pid is gone) are dropped the next time a test database is created.
public struct TestDatabase: Sendable {
    /// The database name.
    public let name: String
    /// The cluster it lives on.
    public let cluster: PostgresCluster
    /// Connects as the app role `scim` (row-level security applies).
    public let appConfiguration: PostgresConfiguration
    /// Connects as the superuser `postgres`.
    public let adminConfiguration: PostgresConfiguration

    /// The app role's URL for this database.
    public var appURL: String { Self.replacingDatabase(in: cluster.appURL, with: name) }
    /// The superuser's URL for this database.
    public var adminURL: String { Self.replacingDatabase(in: cluster.adminURL, with: name) }

    private static let counter = Atomic<Int>(0)
    private static let cleanedUp = Mutex<Set<String>>([])

    /// Creates a database on `cluster` (default: the shared test cluster from the environment).
    public static func create(_ label: String = "t", on cluster: PostgresCluster? = nil) throws -> TestDatabase {
        let cluster = try cluster ?? PostgresCluster.fromEnvironment()
        let admin = try PostgresConfiguration(url: cluster.adminURL, applicationName: "scim-tests")
        let app = try PostgresConfiguration(url: cluster.appURL, applicationName: "scim-tests")
        let safeLabel = String(
            label.lowercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "_" }.prefix(24))
        let number = counter.add(1, ordering: .relaxed).newValue
        let name = "scimtest_\(safeLabel)_\(getpid())_\(number)"
        let connection = try PostgresConnection(configuration: admin)
        try dropAbandonedDatabases(connection, cluster: cluster)
        // The name is built from [a-z0-9_] only, so quoting it is enough (CREATE DATABASE takes no parameters).
        // FILE_COPY: one checkpoint instead of WAL-logging the whole template (about twice as fast here).
        try connection.executeScript("CREATE DATABASE \"\(name)\" OWNER scim STRATEGY FILE_COPY")
        return TestDatabase(
            name: name, cluster: cluster, appConfiguration: app.withDatabase(name),
            adminConfiguration: admin.withDatabase(name))
    }

    /// Creates a database, runs `body`, drops the database (also when `body` throws).
    public static func with<R>(_ label: String = "t", on cluster: PostgresCluster? = nil, _ body: (TestDatabase) throws -> R)
        throws -> R
    {
        let database = try create(label, on: cluster)
        defer { database.drop() }
        return try body(database)
    }

    /// Drops the database, terminating any session still connected to it.
    public func drop() {
        guard let admin = try? PostgresConfiguration(url: cluster.adminURL, applicationName: "scim-tests"),
            let connection = try? PostgresConnection(configuration: admin)
        else { return }
        try? connection.executeScript("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
    }

    /// Once per cluster and process: drop `scimtest_*` databases whose creating process is gone.
    private static func dropAbandonedDatabases(_ connection: PostgresConnection, cluster: PostgresCluster) throws {
        let first = cleanedUp.withLock { $0.insert(cluster.adminURL).inserted }
        guard first else { return }
        let rows = try connection.query("SELECT datname FROM pg_database WHERE datname LIKE 'scimtest\\_%'")
        for row in 0..<rows.rowCount {
            guard let name = rows.string(row: row, column: 0) else { continue }
            let parts = name.split(separator: "_")
            guard parts.count >= 4, let pid = Int32(parts[parts.count - 2]) else { continue }
            if pid == getpid() { continue }
            if kill(pid, 0) == 0 || errno != ESRCH { continue }
            guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { continue }
            try? connection.executeScript("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
        }
    }

    static func replacingDatabase(in url: String, with database: String) -> String {
        guard let scheme = url.firstRange(of: "://") else { return url }
        let afterScheme = url[scheme.upperBound...]
        let query = afterScheme.firstIndex(of: "?")
        let authorityEnd = afterScheme[..<(query ?? afterScheme.endIndex)].firstIndex(of: "/") ?? query ?? afterScheme.endIndex
        var result = String(url[..<authorityEnd]) + "/" + database
        if let query { result += String(afterScheme[query...]) }
        return result
    }
}
