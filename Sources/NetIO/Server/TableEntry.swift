#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
import HTTPCore
import Telemetry

/// Something kept in a `ConnectionTable`: a socket with the table's key (fd and generation).
protocol TableEntry: AnyObject, Sendable {
    var fd: Int32 { get }
    var key: UInt64 { get }
}
