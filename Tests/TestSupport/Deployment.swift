#if canImport(Glibc)
import Glibc
#endif
public import HTTPCore
public import JSON
import NetIO
public import Postgres
import RegionLink

/// A whole deployment for integration tests: a fresh control-plane database and one database per region on the
/// test cluster, a keyring, both `scim-region` processes and one or more `scim-gateway` processes on ephemeral
/// loopback ports, and the bootstrap admin credential. Everything is stopped (by PID) and dropped on `stop()`.
public final class Deployment: @unchecked Sendable {
    // @unchecked: used from one test thread at a time.
    public let directory: String
    public let control: TestDatabase
    public let regionDatabases: [String: TestDatabase]
    public private(set) var regionProcesses: [String: ChildProcess] = [:]
    public private(set) var regionPorts: [String: Int] = [:]
    public private(set) var gateways: [(process: ChildProcess, port: Int, adminPort: Int)] = []
    public private(set) var adminToken = ""
    public let regionIDs = ["us", "eu2"]

    /// Extra `scim-gateway` flags for every gateway started (later flags override the defaults above them).
    public let gatewayArguments: [String]

    public var keyringPath: String { directory + "/keyring" }
    /// Extra `scim-region` arguments (e.g. webhook timings for delivery tests).
    public let regionArguments: [String]

    /// `cluster`: where the databases live (default: the shared test cluster; a scratch cluster for tests that
    /// restart PostgreSQL).
    /// `regionClusters` puts a region's database on a cluster of its own (tests that pause one region's PostgreSQL);
    /// `controlCluster` does the same for the control plane.
    public init(_ label: String, gateways count: Int = 1, cluster: PostgresCluster? = nil, gatewayArguments: [String] = [],
                regionArguments: [String] = [], regionClusters: [String: PostgresCluster] = [:],
                controlCluster: PostgresCluster? = nil) throws {
        self.gatewayArguments = gatewayArguments
        self.regionArguments = regionArguments
        directory = makeTemporaryDirectory("deploy-\(label)")
        control = try TestDatabase.create("\(label)_ctl", on: controlCluster ?? cluster)
        var dbs: [String: TestDatabase] = [:]
        for id in regionIDs { dbs[id] = try TestDatabase.create("\(label)_\(id)", on: regionClusters[id] ?? cluster) }
        regionDatabases = dbs
        _ = try KeyringFile(path: keyringPath, createIfMissing: true)
        for id in regionIDs { try startRegion(id) }
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

    public func startRegion(_ id: String) throws {
        let portFile = directory + "/region-\(id).port"
        unlink(portFile)
        let logPath = directory + "/region-\(id).log"
        let process = try ChildProcess(
            executable: binaryDirectory() + "/scim-region",
            arguments: ["--region", id, "--regions-dir", Self.repositoryRoot + "/Regions", "--listen", "127.0.0.1:\(regionPorts[id] ?? 0)",
                        "--port-file", portFile, "--database-url", regionDatabases[id]!.appURL, "--keyring-file", keyringPath,
                        "--log-level", "info"] + regionArguments,
            logPath: logPath + (regionProcesses[id] == nil ? "" : ".\(monotonicMillis())"))
        guard let port = waitForPortFile(portFile) else {
            throw RawError.failed("scim-region \(id) did not start: \(process.log)")
        }
        regionProcesses[id] = process
        regionPorts[id] = port
    }

    /// Stops a region: SIGTERM (graceful) or SIGKILL (crash).
    public func stopRegion(_ id: String, kill: Bool = false) {
        guard let p = regionProcesses[id] else { return }
        if kill { p.signal(SIGKILL); p.wait(timeoutMillis: 5000) } else { _ = p.stop() }
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
        let backends = regionIDs.map { "\($0)=http://127.0.0.1:\(backendPorts[$0] ?? regionPorts[$0]!)" }.joined(separator: ",")
        let arguments = gatewayArguments + extraArguments
        let process = try ChildProcess(
            executable: binaryDirectory() + "/scim-gateway",
            arguments: ["--control-database-url", control.appURL, "--keyring-file", keyringPath,
                        "--admin-token-file", directory + "/admin-token", "--regions-dir", Self.repositoryRoot + "/Regions",
                        "--region-backends", backends, "--listen", "127.0.0.1:\(ports?.0 ?? 0)", "--port-file", portFile,
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
        for p in gateways.map(\.process) + Array(regionProcesses.values) where p.isRunning { p.signal(SIGTERM) }
        for g in gateways { _ = g.process.stop() }
        for (_, p) in regionProcesses { _ = p.stop() }
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
