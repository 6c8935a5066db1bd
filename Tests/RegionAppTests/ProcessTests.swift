import Crypto
import Glibc
import HTTPCore
import JSON
import NetIO
import Postgres
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import RegionLink
import Telemetry
import TestSupport
import Testing

/// The `scim-region` executable: configuration errors, the signature requirement over a real socket, key rotation
/// without restart, and development mode.
@Suite(.serialized) struct ProcessTests {
    static let binary = binaryDirectory() + "/scim-region"

    /// A regions directory with `test.json`.
    func regionsDirectory(_ json: String? = nil) -> String {
        let dir = makeTemporaryDirectory("regions")
        let file = json ?? """
            {"id":"test","publicBaseURL":"https://test.example.com/scim/v2","backendURL":"http://127.0.0.1:1",
             "listen":"127.0.0.1:0","database":{"url":"postgresql://scim@127.0.0.1:1/none","maxConnections":4}}
            """
        writeFile(dir + "/test.json", file)
        return dir
    }

    func writeFile(_ path: String, _ text: String) {
        let f = fopen(path + ".tmp", "w")!
        fputs(text, f)
        fclose(f)
        rename(path + ".tmp", path)
    }

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32?, String) {
        let dir = makeTemporaryDirectory("region-run")
        let child = try ChildProcess(executable: Self.binary, arguments: arguments, environment: environment, logPath: dir + "/log")
        let code = child.wait(timeoutMillis: 15000)
        if code == nil { _ = child.stop() }
        return (code, child.log)
    }

    @Test func configurationErrorsExitWithStatus2NamingFileAndField() throws {
        let dir = regionsDirectory()
        let (missing, missingLog) = try run(["--region", "nope", "--regions-dir", dir, "--dev-unsigned-tenants"])
        #expect(missing == 2)
        #expect(missingLog.contains("\(dir)/nope.json: no such region file"))
        let bad = regionsDirectory(#"{"id":"test","publicBaseURL":"ftp://x","backendURL":"http://h:1","listen":"a:1","database":{"url":"postgresql://h/d"}}"#)
        let (badCode, badLog) = try run(["--region", "test", "--regions-dir", bad, "--dev-unsigned-tenants"])
        #expect(badCode == 2)
        #expect(badLog.contains("\(bad)/test.json: publicBaseURL must start with https:// or http://"))
        let (badURL, badURLLog) = try run(["--region", "test", "--regions-dir", dir, "--dev-unsigned-tenants", "--database-url", "nonsense://x y"])
        #expect(badURL == 2)
        #expect(badURLLog.contains("\(dir)/test.json: database.url (or --database-url) is not a valid PostgreSQL URL"))
        // A multi-host URL whose port list does not match its hosts: refused at start, saying why (libpq itself would
        // only fail at every connection attempt).
        let (mismatch, mismatchLog) = try run(["--region", "test", "--regions-dir", dir, "--dev-unsigned-tenants", "--database-url",
                                               "postgresql://scim@h1,h2,h3/db?port=5432,5433&target_session_attrs=read-write"])
        #expect(mismatch == 2)
        #expect(mismatchLog.contains("is not a valid PostgreSQL URL: 3 hosts but 2 ports"))
        let keyring = dir + "/keyring"
        writeFile(keyring, "link k1 c2hvcnQ= current\n")
        let (badKeyring, badKeyringLog) = try run(["--region", "test", "--regions-dir", dir, "--keyring-file", keyring])
        #expect(badKeyring == 2)
        #expect(badKeyringLog.contains("keyring: line 1: secret must be base64 of at least 32 bytes"))
    }

    /// A running region on an ephemeral port; stopped (by pid) when the test ends.
    struct Running {
        let child: ChildProcess
        let client: HTTPClient
        func send(_ request: HTTPRequest) throws -> HTTPResponse { try client.send(request) }
    }

    func start(_ extra: [String], environment: [String: String] = [:]) throws -> Running {
        let database = try RegionTestDatabase.get()
        let dir = regionsDirectory()
        let portFile = dir + "/port"
        let child = try ChildProcess(executable: Self.binary, arguments: [
            "--region", "test", "--regions-dir", dir, "--listen", "127.0.0.1:0", "--port-file", portFile,
            "--workers", "4", "--db-pool-size", "4", "--drain-delay", "0s",
        ] + extra, environment: ["SCIM_REGION_DATABASE_URL": database.appURL].merging(environment) { $1 }, logPath: dir + "/log")
        guard let port = waitForPortFile(portFile) else {
            _ = child.stop()
            throw RawError.failed("scim-region did not start: \(child.log)")
        }
        return Running(child: child, client: HTTPClient(host: "127.0.0.1", port: port))
    }

    func signed(_ method: HTTPMethod, _ target: String, tenant: String, key: Key, body: String? = nil) -> HTTPRequest {
        var request = HTTPRequest(method: method, target: target, headers: ["Host": "region"], body: body.map { Array($0.utf8) } ?? [])
        if body != nil { request.headers.add("Content-Type", "application/scim+json") }
        LinkSignature.sign(&request, tenant: tenant, baseURL: "https://eu2-api.example.com/scim/v2", requestID: "proc-" + Base62.random(6),
                           key: key, nowSeconds: Int(Timestamp.nowEpochMillis() / 1000))
        return request
    }

    @Test func signedRequestsWorkUnsignedAreRefusedAndKeysRotateWithoutRestart() throws {
        let dir = makeTemporaryDirectory("keyring")
        let keyring = dir + "/keyring"
        let first = Key.generate(purpose: .link, id: "l-1", state: .current)
        writeFile(keyring, Keyring(keys: [first]).text)
        let region = try start(["--keyring-file", keyring])
        defer { _ = region.child.stop() }
        #expect(try region.send(HTTPRequest(method: .get, target: "/readyz", headers: ["Host": "r"])).status.code == 200)
        let tenant = SecureRandom.uuid()
        let unsigned = try region.send(HTTPRequest(method: .get, target: "/scim/v2/Users",
                                                   headers: ["Host": "r", "Authorization": "Bearer \(tenant)"]))
        #expect(unsigned.status.code == 401)
        #expect(unsigned.json["detail"] == "request is not signed by the gateway")
        let provisioned = try region.send(signed(.put, "/internal/v1/tenants/\(tenant)", tenant: tenant, key: first,
                                                 body: #"{"name":"proc","deprovisionPolicy":"hard"}"#))
        #expect(provisioned.status.code == 201)
        let created = try region.send(signed(.post, "/scim/v2/Users", tenant: tenant, key: first, body: #"{"userName":"p@example.com"}"#))
        #expect(created.status.code == 201)
        #expect(created.headers["Location"]?.hasPrefix("https://eu2-api.example.com/scim/v2/Users/") == true)
        #expect(created.headers["X-Request-Id"]?.hasPrefix("proc-") == true)
        // Rotate: a new current key; the old one is dropped. The region picks it up within a few seconds.
        let second = Key.generate(purpose: .link, id: "l-2", state: .current)
        writeFile(keyring, Keyring(keys: [second]).text)
        var rotated = false
        for _ in 0..<60 {
            if try region.send(signed(.get, "/scim/v2/Users", tenant: tenant, key: second)).status.code == 200 { rotated = true; break }
            usleep(100_000)
        }
        #expect(rotated)
        #expect(try region.send(signed(.get, "/scim/v2/Users", tenant: tenant, key: first)).json["detail"] == "unknown signing key id")
        // One JSON log line per request, with the route template.
        #expect(region.child.log.contains(#""route":"/scim/v2/Users","status":201"#))
        #expect(region.child.log.contains(#""msg":"keyring reloaded""#))
    }

    @Test func withoutAKeyringEverySCIMRequestIsRefused() throws {
        let region = try start([])
        defer { _ = region.child.stop() }
        #expect(try region.send(HTTPRequest(method: .get, target: "/healthz", headers: ["Host": "r"])).json["status"] == "ok")
        let response = try region.send(HTTPRequest(method: .get, target: "/scim/v2/Users",
                                                   headers: ["Host": "r", "Authorization": "Bearer \(SecureRandom.uuid())"]))
        #expect(response.status.code == 401)
        #expect(region.child.log.contains("no --keyring-file: every SCIM and tenant API request will be refused as unsigned"))
    }

    @Test func developmentModeWarnsAndAcceptsBearerTenants() throws {
        let region = try start(["--dev-unsigned-tenants"])
        defer { _ = region.child.stop() }
        let tenant = SecureRandom.uuid()
        let created = try region.send(HTTPRequest(method: .post, target: "/scim/v2/Users",
                                                  headers: ["Host": "127.0.0.1:9", "Authorization": "Bearer \(tenant)",
                                                            "Content-Type": "application/scim+json"],
                                                  body: Array(#"{"userName":"dev@example.com"}"#.utf8)))
        #expect(created.status.code == 201)
        #expect(created.headers["Location"]?.hasPrefix("http://127.0.0.1:9/scim/v2/Users/") == true)
        #expect(region.child.log.contains("DEVELOPMENT MODE"))
        // Errors the HTTP layer produces itself are SCIM errors too.
        let raw = try RawConnection(port: region.client.port)
        try raw.send("POST /scim/v2/Users HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n")
        let huge = try #require(try raw.readResponse())
        #expect(huge.status.code == 413)
        #expect(huge.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"])
    }

    /// A multi-host URL (the first host refuses connections, as a stopped node of a Patroni pair would): the region
    /// connects to the one that accepts writes and serves.
    @Test func aMultiHostDatabaseURLServes() throws {
        let database = try RegionTestDatabase.get()
        let plain = database.appURL
        let at = try #require(plain.firstIndex(of: "@"))
        let url = String(plain[...at]) + "127.0.0.1:1," + String(plain[plain.index(after: at)...]) + "?target_session_attrs=read-write"
        let region = try start(["--dev-unsigned-tenants"], environment: ["SCIM_REGION_DATABASE_URL": url])
        defer { _ = region.child.stop() }
        #expect(try region.send(HTTPRequest(method: .get, target: "/readyz", headers: ["Host": "h"])).status.code == 200)
        let created = try region.send(HTTPRequest(method: .post, target: "/scim/v2/Users",
                                                  headers: ["Host": "h", "Authorization": "Bearer \(SecureRandom.uuid())",
                                                            "Content-Type": "application/scim+json"],
                                                  body: Array(#"{"userName":"multi@example.com"}"#.utf8)))
        #expect(created.status.code == 201)
    }

    /// SIGTERM on a replica: `/readyz` answers 503 at once while every request is still served (the gateways' probes
    /// take the replica out of their sets), the listener closes only after `--drain-delay`, and the process exits 0.
    @Test func sigtermStopsAdvertisingReadinessThenStopsListening() throws {
        let region = try start(["--dev-unsigned-tenants", "--drain-delay", "1500ms"])
        defer { _ = region.child.stop() }
        let readyz = HTTPRequest(method: .get, target: "/readyz", headers: ["Host": "h"])
        let tenant = SecureRandom.uuid()
        let list = HTTPRequest(method: .get, target: "/scim/v2/Users", headers: ["Host": "h", "Authorization": "Bearer \(tenant)"])
        #expect(try region.send(readyz).status.code == 200)
        #expect(try region.send(list).status.code == 200)
        let signalled = monotonicMillis()
        region.child.signal(SIGTERM)
        var notReadyAfter: Int? = nil
        for _ in 0..<100 {
            if (try? region.send(readyz))?.status.code == 503 { notReadyAfter = monotonicMillis() - signalled; break }
            usleep(10_000)
        }
        #expect(notReadyAfter != nil && notReadyAfter! < 500, "readyz still 200 \(notReadyAfter ?? -1) ms after SIGTERM")
        #expect((try? region.send(readyz))?.json["reason"] == "shutting down")
        // Still serving, on a new connection too, well into the delay.
        usleep(500_000)
        #expect(try HTTPClient(host: "127.0.0.1", port: region.client.port).send(list).status.code == 200)
        // Then the listener closes and the process ends cleanly.
        var refusedAfter: Int? = nil
        for _ in 0..<300 {
            if (try? HTTPClient(host: "127.0.0.1", port: region.client.port).send(readyz, timeout: .milliseconds(500))) == nil {
                refusedAfter = monotonicMillis() - signalled
                break
            }
            usleep(20_000)
        }
        #expect(refusedAfter != nil && refusedAfter! >= 1400, "listener closed \(refusedAfter ?? -1) ms after SIGTERM")
        #expect(region.child.wait(timeoutMillis: 15000) == 0)
    }

    /// The region starts while its database is down (readyz 503, SCIM 503 with Retry-After), keeps retrying the
    /// migrations, and serves once the database is back, without a restart. Uses its own scratch cluster.
    @Test func startsWithTheDatabaseDownAndRecoversWhenItComesBack() throws {
        let cluster = try PostgresCluster.scratch(named: "region-db-down")
        let database = try TestDatabase.create("down", on: cluster)
        defer {
            try? cluster.start()
            database.drop()
            try? cluster.stop()
        }
        try cluster.stop()
        let region = try start(["--dev-unsigned-tenants"], environment: ["SCIM_REGION_DATABASE_URL": database.appURL])
        defer { _ = region.child.stop() }
        let tenant = SecureRandom.uuid()
        let create = HTTPRequest(method: .post, target: "/scim/v2/Users",
                                 headers: ["Host": "h", "Authorization": "Bearer \(tenant)", "Content-Type": "application/scim+json"],
                                 body: Array(#"{"userName":"back@example.com"}"#.utf8))
        #expect(try region.send(HTTPRequest(method: .get, target: "/readyz", headers: ["Host": "h"])).status.code == 503)
        let down = try region.send(create)
        #expect(down.status.code == 503)
        #expect(down.headers["Retry-After"] == "1")
        try cluster.start()
        var ready = false
        for _ in 0..<100 {
            if try region.send(HTTPRequest(method: .get, target: "/readyz", headers: ["Host": "h"])).status.code == 200 { ready = true; break }
            usleep(100_000)
        }
        #expect(ready)
        #expect(try region.send(create).status.code == 201)
    }
}
