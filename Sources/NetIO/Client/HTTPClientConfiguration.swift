#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import CLinuxIO
public import HTTPCore
import Telemetry
import Locking

/// Client settings for one upstream.
public struct HTTPClientConfiguration: Sendable {
    public var connectTimeout: Duration = .seconds(2)
    /// Whole-request deadline (write + wait + read) unless a call passes its own.
    public var requestTimeout: Duration = .seconds(30)
    /// Idle keep-alive connections kept for reuse.
    public var maxIdleConnections = 64
    /// Idle connections older than this are closed instead of reused. Keep it below the server's idle timeout.
    public var idleTimeout: Duration = .seconds(20)
    public var maxResponseBytes = 64 << 20
    /// HTTPS: verify the server against these settings. nil is plain HTTP.
    public var tls: TLSClientConfiguration? = nil
    public init() {}
}
