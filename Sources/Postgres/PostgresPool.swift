import Dispatch
import Synchronization
import Locking

/// A bounded pool of `PostgresConnection`s for worker threads: blocking checkout with a deadline,
/// lazy connect, and self-healing after the server restarts (broken connections are dropped and
/// replaced on a later checkout).
public final class PostgresPool: Sendable {
    /// Runs once on every new connection before first use (e.g. `SET statement_timeout`).
    public typealias SessionSetup = @Sendable (PostgresConnection) throws(PostgresError) -> Void

    private struct Locked: ~Copyable {
        var state: PoolState<PostgresConnection>
        var semaphores: [Int: DispatchSemaphore] = [:]
        /// Round trips of returned connections (`PostgresPoolStatistics.roundTrips`).
        var roundTrips = 0
    }

    private let locked: Lock<Locked>
    /// The server this pool connects to.
    public let configuration: PostgresConfiguration
    /// How long `withConnection` waits for a free connection before `poolTimeout`.
    public let checkoutTimeout: Duration
    private let sessionSetup: SessionSetup?

    /// A pool of at most `maxConnections` connections; none is opened until first needed.
    public init(
        configuration: PostgresConfiguration, maxConnections: Int = 10, checkoutTimeout: Duration = .seconds(5),
        sessionSetup: SessionSetup? = nil
    ) {
        self.configuration = configuration
        self.checkoutTimeout = checkoutTimeout
        self.sessionSetup = sessionSetup
        self.locked = Lock(Locked(state: PoolState(maxConnections: maxConnections)))
    }

    deinit { close() }

    /// The most connections this pool opens at once.
    public var maxConnections: Int { locked.withLock { $0.state.maxConnections } }

    /// Current counters.
    public var statistics: PostgresPoolStatistics {
        locked.withLock { locked in
            let state = locked.state
            return PostgresPoolStatistics(
                open: state.open, idle: state.idle.count, inUse: state.leased, waiters: state.waiting.count,
                totalCheckouts: state.totalCheckouts, timeouts: state.timeouts, connects: state.connects,
                discarded: state.discarded, roundTrips: locked.roundTrips)
        }
    }

    /// Checks out a connection (waiting up to `timeout`, default `checkoutTimeout`), runs `body`,
    /// and returns the connection. Throws `poolTimeout`, `poolClosed`, `connectionFailed`, or
    /// whatever `body` throws.
    @discardableResult
    public func withConnection<R>(timeout: Duration? = nil, _ body: (PostgresConnection) throws -> R) throws -> R {
        let connection = try checkout(timeout: timeout ?? checkoutTimeout)
        do {
            let value = try body(connection)
            checkin(connection)
            return value
        } catch {
            checkin(connection)
            throw error
        }
    }

    /// `withConnection` + `transaction`: COMMIT on return, ROLLBACK on throw; `setup` statements
    /// travel with BEGIN in one round trip.
    @discardableResult
    public func withTransaction<R>(
        isolation: IsolationLevel? = nil, readOnly: Bool = false, setup: [PostgresStatement] = [],
        timeout: Duration? = nil, _ body: (PostgresConnection) throws -> R
    ) throws -> R {
        try withConnection(timeout: timeout) { connection in
            try connection.transaction(isolation: isolation, readOnly: readOnly, setup: setup, body)
        }
    }

    /// Drops idle connections, fails current and future waiters with `poolClosed`. Connections in
    /// use are closed when they come back.
    public func close() {
        let (dropped, semaphores) = locked.withLock { locked in
            let (dropped, woken) = locked.state.close()
            return (dropped, woken.compactMap { locked.semaphores.removeValue(forKey: $0) })
        }
        for semaphore in semaphores { semaphore.signal() }
        _ = dropped  // PQfinish runs in each connection's deinit, here, outside the lock.
    }

    // MARK: Checkout and checkin

    func checkout(timeout: Duration) throws(PostgresError) -> PostgresConnection {
        let deadline = DispatchTime.now() + .nanoseconds(Self.nanoseconds(timeout))
        while true {
            // The semaphore is registered in the same critical section that queues the waiter,
            // so a checkin on another thread can always find it.
            let (action, semaphore) = locked.withLock { locked in
                let action = locked.state.checkout()
                guard case .wait(let id) = action else { return (action, DispatchSemaphore?.none) }
                let semaphore = DispatchSemaphore(value: 0)
                locked.semaphores[id] = semaphore
                return (action, semaphore)
            }
            switch action {
            case .use(let connection):
                if connection.isHealthyWhileIdle() { return connection }
                // Server restarted or the backend was terminated while idle: drop it, try the next.
                locked.withLock { $0.state.discardStaleIdle() }
            case .connect:
                return try openConnection()
            case .wait(let id):
                guard let semaphore else { preconditionFailure("wait without a semaphore") }
                let grant: PoolState<PostgresConnection>.Grant
                if semaphore.wait(timeout: deadline) == .timedOut {
                    let outcome = locked.withLock { locked in
                        let outcome = locked.state.waitTimedOut(id: id)
                        locked.semaphores[id] = nil
                        return outcome
                    }
                    switch outcome {
                    case .timedOut: throw .poolTimeout()
                    case .granted(let granted): grant = granted
                    }
                } else {
                    grant = locked.withLock { $0.state.takeGrant(id: id) }
                }
                switch grant {
                case .connection(let connection):
                    if connection.isHealthyWhileIdle() { return connection }
                    locked.withLock { $0.state.discardStaleIdle() }
                case .connect:
                    return try openConnection()
                case .closed:
                    throw .poolClosed()
                }
            case .fail(let error):
                throw error
            }
        }
    }

    /// Opens a connection in a slot already reserved by the state machine.
    private func openConnection() throws(PostgresError) -> PostgresConnection {
        do throws(PostgresError) {
            let connection = try PostgresConnection(configuration: configuration)
            if let sessionSetup { try sessionSetup(connection) }
            locked.withLock { $0.state.connected() }
            return connection
        } catch {
            let action = locked.withLock { $0.state.connectFailed() }
            wake(action)
            throw error
        }
    }

    func checkin(_ connection: PostgresConnection) {
        let reusable = connection.resetForReuse()
        let trips = connection.takeRoundTrips()
        let (action, dropped) = locked.withLock { locked in
            locked.roundTrips += trips
            return locked.state.checkin(connection, reusable: reusable)
        }
        wake(action)
        _ = dropped  // A dropped connection is finished here, outside the lock.
    }

    private func wake(_ action: PoolState<PostgresConnection>.ReleaseAction) {
        switch action {
        case .none:
            return
        case .wake(let id):
            let semaphore = locked.withLock { $0.semaphores.removeValue(forKey: id) }
            semaphore?.signal()
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let total = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if total.overflow || seconds < 0 { return seconds < 0 ? 0 : Int.max / 2 }
        return Int(total.partialValue + attoseconds / 1_000_000_000)
    }
}
