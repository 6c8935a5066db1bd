#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import NetIO
import Postgres
import TestSupport

extension Reliability {
    /// Tokens and admin credentials are never logged and never stored in plaintext; secret files are private; the
    /// public listener's TLS refuses TLS ≤ 1.1 and ciphers without forward secrecy or AEAD.
    @Suite struct SecretHandlingTests {
        /// Hex of the UTF-8 bytes (how a `bytea` column holding the text would print).
        static func hex(_ text: String) -> String {
            let digits = Array("0123456789abcdef")
            return String(text.utf8.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
        }

        @Test func secretsAreNeitherLoggedNorStoredInPlaintext() throws {
            let d = try Deployment.reliability("secretstore")
            defer { d.stop() }
            let t = try d.createTenant("secretive", region: "us")
            var tokens = [t.token]
            var extra: [String] = []
            // Every way a credential is issued: a second token, a rotation, replacing the integration's tokens.
            let (_, second) = try d.admin(.post, "/admin/v1/tenants/\(t.id)/tokens", ["label": "second"])
            tokens.append(try #require(second?["token"]?.string))
            extra.append(try #require(second?["scimKey"]?.string))
            let secondID = try #require(second?["id"]?.string)
            let (_, rotated) = try d.admin(.post, "/admin/v1/tenants/\(t.id)/tokens/\(secondID)/rotate", ["graceSeconds": 60])
            tokens.append(try #require(rotated?["token"]?["token"]?.string))
            let other = try d.createTenant("secretive-2", region: "eu2")
            tokens.append(other.token)
            #expect(try d.admin(.post, "/admin/v1/tenants/\(other.id)/integration/deactivate").0 == 200)
            let (_, replaced) = try d.admin(.post, "/admin/v1/tenants/\(other.id)/integration/token")
            tokens.append(try #require(replaced?["token"]?["token"]?.string))
            #expect(try d.admin(.post, "/admin/v1/tenants/\(other.id)/integration/reactivate").0 == 200)
            // ... and every way one is presented: valid, key-pair form, doubled scheme, revoked, in a query, in a filter,
            // in a refused body, with a wrong secret, on a deactivated integration; a wrong admin token; a pepper rotation.
            let keyPair = String(t.token.split(separator: "_")[1]) + ":" + String(t.token.split(separator: "_")[2].prefix(32))
            extra.append(keyPair)
            let client = SCIMClient(port: d.gateways[0].port, token: t.token)
            #expect(client.send(.get, "/scim/v2/Users").1.status == 200)
            #expect(SCIMClient(port: d.gateways[0].port, token: keyPair).send(.get, "/scim/v2/Users").1.status == 200)
            #expect(SCIMClient(port: d.gateways[0].port, token: "Bearer " + tokens[1]).send(.get, "/scim/v2/Users").1.status == 200)
            #expect(client.send(.get, "/scim/v2/Users?access_token=\(tokens[1])&filter=" + PercentEncoding.encode("userName eq \"\(tokens[2])\"")).1.status == 200)
            #expect(client.send(.post, "/scim/v2/Users", body: ["userName": 5, "password": .string(tokens[3])]).1.status == 400)
            let wrongSecret = String(t.token.dropLast(8)) + "AAAAAAAA"
            extra.append(wrongSecret)
            #expect(SCIMClient(port: d.gateways[0].port, token: wrongSecret).send(.get, "/scim/v2/Users").1.status == 401)
            #expect(SCIMClient(port: d.gateways[0].port, token: tokens[3]).send(.get, "/scim/v2/Users").1.status == 401)
            let wrongAdmin = "scimadm_" + String(d.adminToken.dropFirst(8).reversed())
            extra.append(wrongAdmin)
            #expect(SCIMClient(port: d.gateways[0].adminPort, token: wrongAdmin).send(.get, "/admin/v1/tenants").1.status == 401)
            #expect(try d.admin(.post, "/admin/v1/keys/pepper/rotate").0 == 200)
            #expect(client.send(.get, "/scim/v2/Users").1.status == 200)  // re-hashed under the new pepper

            // The keyring's secrets (link keys, peppers) belong to no log and no database either.
            let keyring = readTextFile(d.keyringPath) ?? ""
            let keySecrets = keyring.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line -> String? in
                let fields = line.split(separator: " ")
                return fields.count >= 3 ? String(fields[2]) : nil
            }
            #expect(keySecrets.count >= 3)
            let secrets = secretForms(tokens + extra.filter { $0.hasPrefix("scim") }, admin: d.adminToken) + extra + keySecrets
            expectNoSecrets(secrets, in: d.logs, place: "gateway and region logs")
            if let pgLog = Reliability.cluster?.logFile.flatMap(readTextFile) {
                expectNoSecrets(secrets, in: pgLog, place: "the PostgreSQL server log")
            }
            // Stored: every row of every table, as text (bytea prints as hex, so hex forms are checked as well).
            var stored = try allRowsText(d, region: "us") + (try allRowsText(d, region: "eu2"))
            let control = try PostgresConnection(configuration: d.control.adminConfiguration)
            let tables = try control.query("SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
            for i in 0..<tables.rowCount {
                let rows = try control.query("SELECT t::text FROM \(tables.string(row: i, column: 0)!) t")
                for row in 0..<rows.rowCount { stored += (rows.string(row: row, column: 0) ?? "") + "\n" }
            }
            #expect(stored.contains("secretive"), "the dump is empty")
            expectNoSecrets(secrets + secrets.map(Self.hex), in: stored, place: "the databases")
            // What is stored per token is a 32-byte HMAC and the id of the pepper it was made with.
            let hashes = try control.query("SELECT length(hash), pepper_id FROM tokens")
            #expect(hashes.rowCount == tokens.count)
            for row in 0..<hashes.rowCount { #expect(hashes.int(row: row, column: 0) == 32) }
            // Secret files are readable by their owner only.
            for path in [d.keyringPath, d.directory + "/admin-token"] {
                var info = stat()
                #expect(stat(path, &info) == 0)
                #expect(info.st_mode & 0o077 == 0, "\(path) mode \(String(info.st_mode & 0o777, radix: 8))")
            }
            report("secrets: \(secrets.count) secret strings (and their hex forms) checked against all process logs, the PostgreSQL log "
                   + "and every row of the control and region databases: none found")
        }

        /// A free loopback port (bound and released; good enough for a test that starts its own server right away).
        static func freePort() -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                    _ = bind(fd, p, length)
                    return getsockname(fd, p, &length)
                }
            }
            return Int(UInt16(bigEndian: addr.sin_port))
        }

        /// `openssl s_client` against a port; the negotiated protocol (nil when the handshake failed). Judged from
        /// the session it prints, not its exit code: after a TLS 1.3 handshake the server's close can race the
        /// client's read of session tickets and make a completed handshake exit non-zero.
        static func handshake(port: Int, _ options: String) -> String? {
            let (_, output) = runShell("echo | timeout 20 openssl s_client -connect 127.0.0.1:\(port) \(options) 2>&1")
            guard !output.contains("Cipher is (NONE)"), output.contains("New, TLSv") else { return nil }
            let lines = output.split(separator: "\n")
            // The session block names the protocol, but for TLS 1.3 it is only printed once a session ticket arrived;
            // the "New, <version>, Cipher is …" line is always there (for TLS ≤ 1.1 it names the cipher's version).
            if let line = lines.first(where: { $0.contains("Protocol  :") || $0.contains("Protocol :") }) {
                return String(line.split(separator: ":").last ?? "").trimmingWhitespace()
            }
            return lines.first { $0.hasPrefix("New, TLSv") }.map { String($0.split(separator: ",")[1]).trimmingWhitespace() }
        }

        @Test func tlsRefusesOldProtocolsAndWeakCiphers() throws {
            let dir = makeTemporaryDirectory("tls")
            let (made, output) = runShell("openssl req -x509 -newkey rsa:2048 -nodes -keyout \(dir)/key.pem -out \(dir)/cert.pem -days 1 -subj /CN=localhost 2>&1")
            try #require(made == 0, "openssl: \(output)")
            let d = try Deployment.reliability("tls", gatewayArguments: ["--tls-cert", "\(dir)/cert.pem", "--tls-key", "\(dir)/key.pem"])
            defer { d.stop() }
            let t = try d.createTenant("tls", region: "us")
            let port = d.gateways[0].port
            // The old protocols need security level 0 on the client; a control server proves this client can speak them.
            let legacy = "-cipher 'DEFAULT:@SECLEVEL=0'"
            let controlPort = Self.freePort()
            let control = try ChildProcess(executable: "/usr/bin/openssl", arguments: [
                "s_server", "-accept", "127.0.0.1:\(controlPort)", "-cert", "\(dir)/cert.pem", "-key", "\(dir)/key.pem",
                "-cipher", "DEFAULT:@SECLEVEL=0", "-tls1_1", "-www"], logPath: dir + "/s_server.log")
            defer { _ = control.stop() }
            var controlProtocol: String? = nil
            for _ in 0..<50 where controlProtocol == nil {
                sleepMillis(100)
                controlProtocol = Self.handshake(port: controlPort, "-tls1_1 \(legacy)")
            }
            #expect(controlProtocol == "TLSv1.1", "the control server did not speak TLS 1.1 with this client")

            var refused = 0
            for (name, options) in [("TLS 1.0", "-tls1 \(legacy)"), ("TLS 1.1", "-tls1_1 \(legacy)"),
                                    ("TLS 1.2, RSA key exchange", "-tls1_2 -cipher 'AES128-GCM-SHA256:@SECLEVEL=0'"),
                                    ("TLS 1.2, CBC with ECDHE", "-tls1_2 -cipher 'ECDHE-RSA-AES128-SHA:@SECLEVEL=0'"),
                                    ("TLS 1.2, 3DES", "-tls1_2 -cipher 'DES-CBC3-SHA:@SECLEVEL=0'")] {
                let negotiated = Self.handshake(port: port, options)
                #expect(negotiated == nil, "\(name) was accepted")
                if negotiated == nil { refused += 1 }
            }
            #expect(Self.handshake(port: port, "-tls1_2") == "TLSv1.2")
            #expect(Self.handshake(port: port, "-tls1_3") == "TLSv1.3")
            let (_, cipher) = runShell("echo | openssl s_client -connect 127.0.0.1:\(port) -tls1_2 2>&1 | grep 'Cipher is'")
            #expect(cipher.contains("ECDHE") && (cipher.contains("GCM") || cipher.contains("CHACHA20")), "\(cipher)")
            // SCIM over HTTPS works end to end.
            let (code, body) = runShell("curl -sk --max-time 10 -H 'Authorization: Bearer \(t.token)' https://127.0.0.1:\(port)/scim/v2/Users")
            #expect(code == 0 && body.contains("ListResponse"), "\(body.prefix(200))")
            report("TLS: \(refused)/5 legacy handshakes refused (TLS 1.0, 1.1, RSA key exchange, CBC, 3DES; a control server accepted TLS 1.1 from the same client); TLS 1.2 negotiates \(cipher.split(separator: " ").last.map { String($0).trimmingWhitespace() } ?? "?"), TLS 1.3 accepted")
            expectNoSecrets(secretForms([t.token], admin: d.adminToken), in: d.logs, place: "process logs")
        }
    }
}
