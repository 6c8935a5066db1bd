#if canImport(Glibc)
import Glibc
#endif
public import Telemetry

/// A long-running part of a process (a listener, a background worker).
public protocol Service: Sendable {
    var name: String { get }
    func start() throws
    /// Stops within `gracePeriod`: no new work, in-flight work finished or abandoned at the deadline.
    func shutdown(gracePeriod: Duration)
}
