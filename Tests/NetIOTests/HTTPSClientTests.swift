import HTTPCore
import NetIO
import Telemetry
import TestSupport
import Testing

/// The HTTPS client against our own TLS server with a throwaway CA: the chain and the host name (or IP) are
/// verified; keep-alive works over TLS.
@Suite struct HTTPSClientTests {
    func withTLSServer(certificate: String, key: String, _ body: (HTTPServer) throws -> Void) throws {
        var config = HTTPServerConfiguration()
        config.name = "tls-test"
        config.workerThreads = 2
        config.tls = TLSConfiguration(certificateChainPath: certificate, privateKeyPath: key)
        let server = HTTPServer(configuration: config, responder: TestResponder(), logger: Logger(label: "test", level: .error))
        try server.start()
        defer { server.shutdown(gracePeriod: .seconds(2)) }
        try body(server)
    }

    func client(_ host: String, _ port: Int, ca: String?, system: Bool = false) -> HTTPClient {
        var configuration = HTTPClientConfiguration()
        configuration.requestTimeout = .seconds(5)
        configuration.tls = TLSClientConfiguration(trustedCAFile: ca, useSystemTrustStore: system)
        return HTTPClient(host: host, port: port, configuration: configuration)
    }

    @Test func trustedCertificateWithMatchingNameOrAddressIsAcceptedAndReused() throws {
        let certs = try TestCertificates.get()
        try withTLSServer(certificate: certs.serverCertificateFile, key: certs.serverKeyFile) { server in
            for host in ["localhost", "127.0.0.1"] {
                let c = client(host, server.port, ca: certs.caFile)
                for i in 0..<5 {
                    var request = HTTPRequest(method: .post, target: "/body")
                    request.body = Array(repeating: UInt8(ascii: "x"), count: 100_000 + i)
                    let response = try c.send(request)
                    #expect(response.status.code == 200)
                    #expect(response.bodyText == "\(100_000 + i)")
                }
                #expect(c.connectionsOpened == 1)
            }
        }
    }

    @Test func untrustedCertificateIsRefused() throws {
        let certs = try TestCertificates.get()
        try withTLSServer(certificate: certs.serverCertificateFile, key: certs.serverKeyFile) { server in
            // The system store does not know the test CA.
            let c = client("localhost", server.port, ca: nil, system: true)
            do throws(HTTPClientError) {
                _ = try c.send(HTTPRequest(method: .get, target: "/echo"))
                Issue.record("an untrusted certificate was accepted")
            } catch {
                #expect(error.kind == .tlsFailed)
                #expect(error.description.contains("certificate"), "\(error)")
            }
        }
    }

    @Test func certificateForAnotherHostIsRefused() throws {
        let certs = try TestCertificates.get()
        try withTLSServer(certificate: certs.otherHostCertificateFile, key: certs.otherHostKeyFile) { server in
            for host in ["localhost", "127.0.0.1"] {
                let c = client(host, server.port, ca: certs.caFile)
                #expect(throws: HTTPClientError.self) { _ = try c.send(HTTPRequest(method: .get, target: "/echo")) }
            }
            // The right name (sent as SNI and verified) is accepted.
            var configuration = HTTPClientConfiguration()
            configuration.tls = TLSClientConfiguration(trustedCAFile: certs.caFile, useSystemTrustStore: false, serverName: "other.example")
            let named = HTTPClient(host: "127.0.0.1", port: server.port, configuration: configuration)
            let answer = try named.send(HTTPRequest(method: .get, target: "/echo/ok"))
            #expect(answer.bodyText == "/echo/ok")
        }
    }

    @Test func plainHTTPServerFailsWithinTheDeadline() throws {
        try withServer { server in
            let c = client("127.0.0.1", server.port, ca: nil)
            let started = monotonicMillis()
            // The server waits for a request line that never comes: the handshake deadline ends it.
            #expect(throws: HTTPClientError.self) { _ = try c.send(HTTPRequest(method: .get, target: "/echo"), timeout: .seconds(1)) }
            #expect(monotonicMillis() - started < 3000)
        }
    }

    @Test func missingCAFileIsReportedOnUse() {
        let c = client("127.0.0.1", 9, ca: "/nonexistent/ca.pem")
        do throws(HTTPClientError) {
            _ = try c.send(HTTPRequest(method: .get, target: "/"))
            Issue.record("expected a TLS configuration error")
        } catch {
            #expect(error.kind == .tlsFailed)
        }
    }
}
