#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
public import HTTPCore
public import Telemetry

/// Counters a server keeps about itself (for /metrics and tests).
public final class HTTPServerStats: Sendable {
    let connectionsOpen = Atomic<Int>(0)
    let connectionsAccepted = Atomic<Int>(0)
    let requestsServed = Atomic<Int>(0)
    let requestsRejected = Atomic<Int>(0)
    let timeouts = Atomic<Int>(0)
    init() {}

    /// A consistent-enough copy of the counters.
    public struct Snapshot: Sendable, Equatable {
        public var connectionsOpen: Int
        public var connectionsAccepted: Int
        /// Requests answered by a handler.
        public var requestsServed: Int
        /// Requests refused by the parser (400, 413, 431, 501, 505...).
        public var requestsRejected: Int
        /// Connections closed by the request or write timeout.
        public var timeouts: Int
    }

    public var snapshot: Snapshot {
        Snapshot(connectionsOpen: connectionsOpen.load(ordering: .relaxed),
                 connectionsAccepted: connectionsAccepted.load(ordering: .relaxed),
                 requestsServed: requestsServed.load(ordering: .relaxed),
                 requestsRejected: requestsRejected.load(ordering: .relaxed),
                 timeouts: timeouts.load(ordering: .relaxed))
    }
}
