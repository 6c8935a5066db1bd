#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// A TLS set-up failure; the message names the file or step, never key material.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "TLS: \(message)" }
}
