#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import Synchronization

/// How an HTTPS client verifies servers.
public struct TLSClientConfiguration: Sendable, Equatable {
    /// A PEM file of extra trusted CA certificates (a private CA, or a test CA), trusted besides the system store.
    public var trustedCAFile: String?
    /// Whether to trust the system CA store (OpenSSL's default paths, e.g. /etc/ssl/certs).
    public var useSystemTrustStore: Bool
    /// The name to verify and to send as SNI; nil means the host the client connects to.
    public var serverName: String?

    /// Verification against the system store (plus `trustedCAFile`) and the host name.
    public init(trustedCAFile: String? = nil, useSystemTrustStore: Bool = true, serverName: String? = nil) {
        self.trustedCAFile = trustedCAFile
        self.useSystemTrustStore = useSystemTrustStore
        self.serverName = serverName
    }
}
