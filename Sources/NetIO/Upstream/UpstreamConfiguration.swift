#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
public import HTTPCore
import Telemetry
import Locking
import Lifecycle

/// Settings of one upstream pool (documented defaults; the gateway exposes each as a flag).
public struct UpstreamConfiguration: Sendable {
    /// Requests in flight at once (one per connection): the bulkhead's cap.
    public var maxConnections = 64
    /// Requests waiting for a free connection beyond that; more are refused at once.
    public var maxQueued = 64
    /// Longest wait in the queue before the request is refused.
    public var queueTimeout: Duration = .milliseconds(500)
    /// TCP connect.
    public var connectTimeout: Duration = .seconds(1)
    /// From the request being written to the first byte of the answer.
    public var firstByteTimeout: Duration = .seconds(10)
    /// From submission to the complete answer.
    public var totalTimeout: Duration = .seconds(20)
    /// Idle keep-alive connections kept; idle ones older than `idleTimeout` are closed (keep it below the
    /// upstream's own idle timeout).
    public var maxIdleConnections = 64
    public var idleTimeout: Duration = .seconds(20)
    public var maxResponseBytes = 64 << 20
    public init() {}
}
