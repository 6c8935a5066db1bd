#if canImport(Glibc)
import Glibc
#endif
public import HTTPCore
public import JSON
import NetIO
public import Postgres
import RegionLink

/// A whole deployment for integration tests: a fresh control-plane database and one database per region on the
/// test cluster, a keyring, `scim-region` processes (one per region, or a replica set: `replicas`) and one or more
/// `scim-gateway` processes on ephemeral loopback ports, and the bootstrap admin credential. The gateways read a
/// regions directory of this deployment (`regionsDirectory`) whose files list each region's replicas; replicas
/// added or removed later are written there (the gateways re-read it). Everything is stopped (by PID) and dropped
/// on `stop()`.
public final class Deployment: @unchecked Sendable {
    // @unchecked: used from one test thread at a time.
    public let directory: String
    public let control: TestDatabase
    public let regionDatabases: [String: TestDatabase]
    /// Each region's replicas, by index (a stopped one keeps its place and port; `nil` once removed).
    public private(set) var replicas: [String: [(process: ChildProcess, port: Int)?]] = [:]
    /// The first replica of each region (the only one, unless `replicas` asked for more).
    public var regionProcesses: [String: ChildProcess] { replicas.compactMapValues { $0.first??.process } }
    public var regionPorts: [String: Int] { replicas.compactMapValues { $0.first??.port } }
    public private(set) var gateways: [(process: ChildProcess, port: Int, adminPort: Int)] = []
    /// The regions directory the gateways read (written from the repository's, with this deployment's backends).
    public var regionsDirectory: String { directory + "/regions" }
    public private(set) var adminToken = ""
    public let regionIDs = ["us", "eu2"]

    /// Extra `scim-gateway` flags for every gateway started (later flags override the defaults above them).
    public let gatewayArguments: [String]

    public var keyringPath: String { directory + "/keyring" }
    public let multiHostURLs: Bool

    /// The URL a process is given for `database` (see `multiHostURLs`).
    public func databaseURL(_ database: TestDatabase) -> String {
        let url = database.appURL
        guard multiHostURLs, let at = url.firstIndex(of: "@") else { return url }
        let rest = url[url.index(after: at)...]
        return String(url[...at]) + "127.0.0.1:1," + rest + "?target_session_attrs=read-write&connect_timeout=2"
    }
    /// Extra `scim-region` arguments (e.g. webhook timings for delivery tests).
    public let regionArguments: [String]

    /// `cluster`: where the databases live (default: the shared test cluster; a scratch cluster for tests that
    /// restart PostgreSQL).
    /// `regionClusters` puts a region's database on a cluster of its own (tests that pause one region's PostgreSQL);
    /// `controlCluster` does the same for the control plane.
    /// `replicas`: `scim-region` processes per region (default 1), all on the region's one database.
    /// `multiHostURLs`: every process gets its database as a multi-host URL whose first host refuses connections
    /// (`postgresql://scim@127.0.0.1:1,127.0.0.1:<port>/<db>?target_session_attrs=read-write`), as behind a
    /// Patroni pair.
    public init(_ label: String, gateways count: Int = 1, cluster: PostgresCluster? = nil, gatewayArguments: [String] = [],
                regionArguments: [String] = [], regionClusters: [String: PostgresCluster] = [:],
                controlCluster: PostgresCluster? = nil, replicas: [String: Int] = [:], multiHostURLs: Bool = false) throws {
        self.multiHostURLs = multiHostURLs
        self.gatewayArguments = gatewayArguments
        self.regionArguments = regionArguments
        directory = makeTemporaryDirectory("deploy-\(label)")
        control = try TestDatabase.create("\(label)_ctl", on: controlCluster ?? cluster)
        var dbs: [String: TestDatabase] = [:]
        for id in regionIDs { dbs[id] = try TestDatabase.create("\(label)_\(id)", on: regionClusters[id] ?? cluster) }
        regionDatabases = dbs
        _ = try KeyringFile(path: keyringPath, createIfMissing: true)
        mkdir(regionsDirectory, 0o755)
        for id in regionIDs {
            for index in 0..<max(1, replicas[id] ?? 1) { try startReplica(id, index: index) }
        }
        try writeRegionFiles()
        for _ in 0..<count { try startGateway() }
        guard let token = readTextFile(directory + "/admin-token")?.trimmingWhitespace(), !token.isEmpty else {
            throw RawError.failed("gateway did not write the admin token")
        }
        adminToken = token
    }

    public static var repositoryRoot: String {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }

    /// (Re)starts region `id`'s first replica, on the port it had.
    public func startRegion(_ id: String) throws {
        try startReplica(id, index: 0)
    }

    /// (Re)starts replica `index` of region `id` on the port it had (a new one: an ephemeral port; add it to the
    /// gateways' view with `writeRegionFiles`).
    public func startReplica(_ id: String, index: Int) throws {
        let name = index == 0 ? "region-\(id)" : "region-\(id)-\(index)"
        let portFile = directory + "/\(name).port"
        unlink(portFile)
        let logPath = directory + "/\(name).log"
        let known = replicas[id].flatMap { index < $0.count ? $0[index] : nil }
        let process = try ChildProcess(
            executable: binaryDirectory() + "/scim-region",
            arguments: ["--region", id, "--regions-dir", Self.repositoryRoot + "/Regions", "--listen", "127.0.0.1:\(known?.port ?? 0)",
                        "--port-file", portFile, "--database-url", databaseURL(regionDatabases[id]!), "--keyring-file", keyringPath,
                        // No drain delay unless a test asks for one (replica sets do): stopping stays fast.
                        "--log-level", "info", "--drain-delay", "0s"] + regionArguments,
            logPath: logPath + (known == nil ? "" : ".\(monotonicMillis())"))
        guard let port = waitForPortFile(portFile) else {
            throw RawError.failed("scim-region \(name) did not start: \(process.log)")
        }
        var list = replicas[id] ?? []
        while list.count <= index { list.append(nil) }
        list[index] = (process, port)
        replicas[id] = list
    }

    /// Starts one more replica of region `id` (a new port) and lists it in the regions directory; returns its index.
    /// Gateways see it at their next check (`--regions-reload-interval`) or at once after `reloadGateways()`.
    @discardableResult
    public func addReplica(_ id: String) throws -> Int {
        let index = replicas[id]?.count ?? 0
        try startReplica(id, index: index)
        try writeRegionFiles()
        return index
    }

    /// Takes replica `index` of region `id` out of the regions directory (gateways stop sending to it once they
    /// re-read it); the process keeps running until `stopReplica`.
    public func unlistReplica(_ id: String, index: Int) throws {
        unlisted.insert("\(id)/\(index)")
        try writeRegionFiles()
    }
    private var unlisted: Set<String> = []

    /// Stops a replica: SIGTERM (graceful: it drains) or SIGKILL (crash). Its place and port are kept for a restart.
    public func stopReplica(_ id: String, index: Int, kill: Bool = false) {
        guard let replica = replicas[id].flatMap({ index < $0.count ? $0[index] : nil }) else { return }
        if kill { replica.process.signal(SIGKILL); replica.process.wait(timeoutMillis: 5000) } else { _ = replica.process.stop() }
    }

    /// Stops a region's first replica: SIGTERM (graceful) or SIGKILL (crash).
    public func stopRegion(_ id: String, kill: Bool = false) {
        stopReplica(id, index: 0, kill: kill)
    }

    /// The port of replica `index` of region `id`.
    public func replicaPort(_ id: String, index: Int) -> Int? {
        replicas[id].flatMap { index < $0.count ? $0[index]?.port : nil }
    }

    /// SIGHUP to every gateway: re-read the regions directory now.
    public func reloadGateways() {
        for g in gateways where g.process.isRunning { g.process.signal(SIGHUP) }
    }

    /// Writes `regionsDirectory/<id>.json` for every region: the repository's file, with `backendURL` and
    /// `backendURLs` naming this deployment's listed replicas (written whole, then renamed: a gateway never reads
    /// half a file).
    public func writeRegionFiles() throws {
        for id in regionIDs {
            guard let text = readTextFile(Self.repositoryRoot + "/Regions/\(id).json"),
                  case .object(var file)? = try? JSONDecoder.decode(Array(text.utf8)) else {
                throw RawError.failed("cannot read Regions/\(id).json")
            }
            let ports = (replicas[id] ?? []).enumerated().compactMap { index, replica in
                unlisted.contains("\(id)/\(index)") ? nil : replica?.port
            }
            guard let first = ports.first else { throw RawError.failed("region \(id) would have no replica") }
            file.set("backendURL", .string("http://127.0.0.1:\(first)"))
            if ports.count > 1 {
                file.set("backendURLs", .array(ports.dropFirst().map { .string("http://127.0.0.1:\($0)") }))
            }
            let path = regionsDirectory + "/\(id).json"
            guard let f = fopen(path + ".tmp", "w") else { throw RawError.failed("cannot write \(path)") }
            fputs(JSONValue.object(file).description, f)
            fclose(f)
            guard rename(path + ".tmp", path) == 0 else { throw RawError.failed("cannot rename \(path)") }
        }
    }

    /// Starts one more gateway; `backendPorts` points a region at another port (a fake or broken backend);
    /// `extraArguments` go to this gateway only (after the deployment's own).
    @discardableResult
    public func startGateway(backendPorts: [String: Int] = [:], extraArguments: [String] = []) throws -> Int {
        let n = gateways.count
        let (process, port, admin) = try launchGateway(n, backendPorts: backendPorts, extraArguments: extraArguments, ports: nil)
        gateways.append((process, port, admin))
        return n
    }

    /// Kills gateway `n` with SIGKILL (a crash: no graceful shutdown, nothing released).
    public func killGateway(_ n: Int) {
        gateways[n].process.signal(SIGKILL)
        gateways[n].process.wait(timeoutMillis: 5000)
    }

    /// Starts gateway `n` again on the same ports (after `killGateway` or a stop), with the same arguments.
    public func restartGateway(_ n: Int, extraArguments: [String] = []) throws {
        let (process, port, admin) = try launchGateway(n, backendPorts: [:], extraArguments: extraArguments,
                                                       ports: (gateways[n].port, gateways[n].adminPort))
        gateways[n] = (process, port, admin)
    }

    private func launchGateway(_ n: Int, backendPorts: [String: Int], extraArguments: [String], ports: (Int, Int)?) throws
        -> (ChildProcess, Int, Int)
    {
        let portFile = directory + "/gateway-\(n).port", adminFile = directory + "/gateway-\(n).admin.port"
        unlink(portFile)
        unlink(adminFile)
        // The regions directory lists every replica; a fake or broken backend replaces a region's list.
        let overrides = backendPorts.map { "\($0.key)=http://127.0.0.1:\($0.value)" }.sorted().joined(separator: ",")
        let arguments = gatewayArguments + extraArguments
        let process = try ChildProcess(
            executable: binaryDirectory() + "/scim-gateway",
            arguments: ["--control-database-url", databaseURL(control), "--keyring-file", keyringPath,
                        "--admin-token-file", directory + "/admin-token", "--regions-dir", regionsDirectory]
                + (overrides.isEmpty ? [] : ["--region-backends", overrides])
                + ["--listen", "127.0.0.1:\(ports?.0 ?? 0)", "--port-file", portFile,
                        "--admin-listen", "127.0.0.1:\(ports?.1 ?? 0)", "--admin-port-file", adminFile, "--workers", "8",
                        "--tenant-rate", "0", "--log-level", "info"]
                        // Tests call 127.0.0.1; those that check region locking pass --strict-hosts instead.
                        + (arguments.contains("--strict-hosts") ? [] : ["--allow-any-host"]) + arguments,
            logPath: directory + "/gateway-\(n).log" + (ports == nil ? "" : ".\(monotonicMillis())"))
        guard let port = waitForPortFile(portFile), let admin = waitForPortFile(adminFile) else {
            throw RawError.failed("scim-gateway did not start: \(process.log)")
        }
        return (process, port, admin)
    }

    /// Everything the processes logged so far.
    public var logs: String {
        var text = ""
        for name in (try? listDirectory(directory)) ?? [] where name.contains(".log") {
            text += readTextFile(directory + "/" + name) ?? ""
        }
        return text
    }

    /// Calls the admin API of gateway `gateway`.
    public func admin(_ method: HTTPMethod, _ path: String, _ body: JSONValue? = nil, gateway: Int = 0) throws -> (Int, JSONValue?) {
        let client = HTTPClient(host: "127.0.0.1", port: gateways[gateway].adminPort)
        var request = HTTPRequest(method: method, target: path, headers: ["Authorization": "Bearer \(adminToken)"])
        if let body {
            request.headers.add("Content-Type", "application/json")
            request.body = body.encoded()
        }
        let response = try client.send(request, timeout: .seconds(60))
        return (response.status.code, response.body.isEmpty ? nil : try? JSONDecoder.decode(response.body))
    }

    /// A tenant with one token, through the admin API.
    public func createTenant(_ name: String, region: String, policy: String = "soft", rateLimit: Int? = nil) throws -> (id: String, token: String) {
        var body: JSONObject = ["name": .string(name), "region": .string(region), "deprovisionPolicy": .string(policy)]
        if let rateLimit {
            body.appendUnchecked(key: "rateLimit", value: ["perSecond": .number(JSONNumber(rateLimit)), "burst": .number(JSONNumber(rateLimit))])
        }
        let (status, json) = try admin(.post, "/admin/v1/tenants", .object(body))
        guard status == 201, let id = json?["tenant"]?["id"]?.string, let token = json?["token"]?["token"]?.string else {
            throw RawError.failed("tenant create answered \(status): \(json.map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "")")
        }
        return (id, token)
    }

    /// A SCIM call through gateway `gateway`.
    public func scim(_ method: HTTPMethod, _ target: String, token: String?, body: JSONValue? = nil, host: String? = nil,
                     gateway: Int = 0, timeout: Duration = .seconds(30)) throws -> HTTPResponse {
        let client = HTTPClient(host: "127.0.0.1", port: gateways[gateway].port)
        var request = HTTPRequest(method: method, target: target, headers: ["Accept": "application/scim+json"])
        if let host { request.headers.add("Host", host) }
        if let token { request.headers.add("Authorization", "Bearer \(token)") }
        if let body {
            request.headers.add("Content-Type", "application/scim+json")
            request.body = body.encoded()
        }
        return try client.send(request, timeout: timeout)
    }

    /// A superuser connection to a region's database (bypasses row-level security: for checking where data lives).
    public func regionAdmin(_ id: String) throws -> PostgresConnection {
        try PostgresConnection(configuration: regionDatabases[id]!.adminConfiguration)
    }

    public func stop() {
        // SIGTERM to every process first, so their graceful shutdowns overlap instead of adding up.
        let regionChildren = replicas.values.flatMap { $0.compactMap { $0?.process } }
        for p in gateways.map(\.process) + regionChildren where p.isRunning { p.signal(SIGTERM) }
        for g in gateways { _ = g.process.stop() }
        for p in regionChildren { _ = p.stop() }
        control.drop()
        for (_, db) in regionDatabases { db.drop() }
    }
}

public func listDirectory(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else { throw RawError.failed("cannot open \(path)") }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// A minimal user body.
public func userBody(_ userName: String, externalId: String? = nil, active: Bool = true) -> JSONValue {
    var o: JSONObject = ["schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": .string(userName),
                         "name": ["givenName": "Test", "familyName": "User"],
                         "emails": [["value": .string(userName), "type": "work", "primary": true]], "active": .bool(active)]
    if let externalId { o.appendUnchecked(key: "externalId", value: .string(externalId)) }
    return .object(o)
}
