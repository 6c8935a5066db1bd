#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// Certificate and key for serving HTTPS.
public struct TLSConfiguration: Sendable, Equatable {
    public var certificateChainPath: String
    public var privateKeyPath: String
    public init(certificateChainPath: String, privateKeyPath: String) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }
}
