import Dispatch
import Synchronization

/// Counters for `/metrics`.
public struct PostgresPoolStatistics: Sendable, Equatable {
    /// Connections that exist or are being opened.
    public var open: Int
    /// Connections waiting in the pool.
    public var idle: Int
    /// Connections checked out by callers.
    public var inUse: Int
    /// Threads blocked waiting for a connection.
    public var waiters: Int
    /// Successful checkouts since the pool was created.
    public var totalCheckouts: Int
    /// Checkouts that gave up at the deadline.
    public var timeouts: Int
    /// Connections opened.
    public var connects: Int
    /// Connections dropped (broken, stale, or closed with the pool).
    public var discarded: Int
    /// Round trips to the server made on connections since they were returned to the pool (counted at check-in).
    public var roundTrips: Int = 0
}
