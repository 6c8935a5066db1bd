import Glibc
import Synchronization

/// A throwaway certificate authority and a server certificate it signed, made with the `openssl` command line once
/// per test process: the server certificate names `localhost` and `127.0.0.1` (DNS and IP subjectAltNames), and a
/// second certificate (`otherHost*`) names only `other.example` (for host-name mismatch tests).
public struct TestCertificates: Sendable {
    /// The CA certificate (PEM): trust it to accept the servers below.
    public let caFile: String
    /// The server chain and key for `localhost` / `127.0.0.1`.
    public let serverCertificateFile: String
    public let serverKeyFile: String
    /// A certificate from the same CA for `other.example` only.
    public let otherHostCertificateFile: String
    public let otherHostKeyFile: String

    private static let shared = Mutex<Result<TestCertificates, RawError>?>(nil)

    /// The process-wide test certificates (created on first use).
    public static func get() throws -> TestCertificates {
        try shared.withLock { cached in
            if let cached { return try cached.get() }
            let made = Result { () throws(RawError) in try make() }
            cached = made
            return try made.get()
        }
    }

    private static func make() throws(RawError) -> TestCertificates {
        let dir = makeTemporaryDirectory("certs")
        let curve = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        func leaf(_ name: String, _ san: String) -> String {
            """
            printf 'subjectAltName=\(san)\\nbasicConstraints=CA:FALSE\\nkeyUsage=digitalSignature\\nextendedKeyUsage=serverAuth\\n' > \(dir)/\(name).cnf &&
            openssl req \(curve) -keyout \(dir)/\(name).key -out \(dir)/\(name).csr -subj "/CN=\(name)" &&
            openssl x509 -req -in \(dir)/\(name).csr -CA \(dir)/ca.pem -CAkey \(dir)/ca.key -CAcreateserial -out \(dir)/\(name).pem -days 2 -extfile \(dir)/\(name).cnf
            """
        }
        let script = """
            set -e
            openssl req -x509 \(curve) -keyout \(dir)/ca.key -out \(dir)/ca.pem -days 2 -subj "/CN=scim test CA" \
                -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
            \(leaf("localhost", "DNS:localhost,IP:127.0.0.1"))
            \(leaf("other", "DNS:other.example"))
            """
        let (code, output) = runShell(script)
        guard code == 0 else { throw RawError.failed("openssl could not make test certificates: \(output)") }
        return TestCertificates(caFile: dir + "/ca.pem", serverCertificateFile: dir + "/localhost.pem",
                                serverKeyFile: dir + "/localhost.key", otherHostCertificateFile: dir + "/other.pem",
                                otherHostKeyFile: dir + "/other.key")
    }
}
