/// The pool's bookkeeping as a pure state machine: no locks, no sockets, no clocks.
///
/// Generic over the connection type so it can be unit-tested with plain values. `PostgresPool`
/// keeps one inside a mutex, performs the returned actions outside the lock, and blocks threads
/// on per-waiter semaphores. Waiters are served first-in first-out; a freed connection (or a freed
/// slot to open one) is handed directly to the oldest waiter, so no thread can starve.
struct PoolState<Connection> {
    /// What a waiter receives when woken.
    enum Grant {
        /// Use this (idle) connection.
        case connection(Connection)
        /// A slot was reserved for you: open a new connection.
        case connect
        /// The pool closed while you waited.
        case closed
    }

    enum CheckoutAction {
        case use(Connection)
        case connect
        case wait(id: Int)
        case fail(PostgresError)
    }

    enum WaitOutcome {
        /// Still queued when the deadline passed: removed from the queue.
        case timedOut
        /// The grant arrived just as the deadline passed: use it.
        case granted(Grant)
    }

    enum ReleaseAction {
        case none
        /// Wake waiter `id`: its grant is ready.
        case wake(id: Int)
    }

    let maxConnections: Int
    private(set) var idle: [Connection] = []
    /// Connections that exist or are being opened (idle + leased + connecting).
    private(set) var open = 0
    /// Connections handed out to callers.
    private(set) var leased = 0
    private(set) var waiting: [Int] = []
    private var grants: [Int: Grant] = [:]
    private var nextWaiterID = 0
    private(set) var isClosed = false
    private(set) var totalCheckouts = 0
    private(set) var timeouts = 0
    private(set) var connects = 0
    private(set) var discarded = 0

    init(maxConnections: Int) {
        precondition(maxConnections > 0, "maxConnections must be positive")
        self.maxConnections = maxConnections
    }

    mutating func checkout() -> CheckoutAction {
        if isClosed { return .fail(.poolClosed()) }
        if let connection = idle.popLast() {
            // LIFO: the most recently used connection is the warmest and least likely to be stale.
            leased += 1
            totalCheckouts += 1
            return .use(connection)
        }
        if open < maxConnections {
            open += 1
            return .connect
        }
        let id = nextWaiterID
        nextWaiterID += 1
        waiting.append(id)
        return .wait(id: id)
    }

    /// The waiter was woken: take its grant (counts the checkout if it is a connection).
    mutating func takeGrant(id: Int) -> Grant {
        guard let grant = grants.removeValue(forKey: id) else {
            preconditionFailure("waiter woken without a grant")
        }
        if case .connection = grant {
            leased += 1
            totalCheckouts += 1
        }
        return grant
    }

    mutating func waitTimedOut(id: Int) -> WaitOutcome {
        if let index = waiting.firstIndex(of: id) {
            waiting.remove(at: index)
            timeouts += 1
            return .timedOut
        }
        return .granted(takeGrant(id: id))
    }

    /// A connection was opened for a `.connect` action or grant.
    mutating func connected() {
        leased += 1
        connects += 1
        totalCheckouts += 1
    }

    /// Opening a connection failed: free its slot (and pass the slot on to a waiter).
    mutating func connectFailed() -> ReleaseAction {
        open -= 1
        return passSlotToWaiter()
    }

    /// A connection checked out with `.use` turned out dead before use: forget it.
    /// The caller then checks out again (it still holds no slot).
    mutating func discardStaleIdle() {
        leased -= 1
        totalCheckouts -= 1
        open -= 1
        discarded += 1
    }

    /// A caller is done with a connection. `reusable` is false when it broke or its session state
    /// is unknown; then the connection is dropped and its slot goes to a waiter, if any.
    mutating func checkin(_ connection: Connection, reusable: Bool) -> (ReleaseAction, drop: Connection?) {
        leased -= 1
        if !reusable || isClosed {
            open -= 1
            discarded += 1
            return (passSlotToWaiter(), connection)
        }
        if !waiting.isEmpty {
            let id = waiting.removeFirst()
            grants[id] = .connection(connection)
            return (.wake(id: id), nil)
        }
        idle.append(connection)
        return (.none, nil)
    }

    private mutating func passSlotToWaiter() -> ReleaseAction {
        guard !isClosed, !waiting.isEmpty, open < maxConnections else { return .none }
        let id = waiting.removeFirst()
        open += 1
        grants[id] = .connect
        return .wake(id: id)
    }

    /// Closes the pool: returns the idle connections to drop and the waiters to wake (with `.closed`).
    mutating func close() -> (drop: [Connection], wake: [Int]) {
        isClosed = true
        let dropped = idle
        idle.removeAll()
        open -= dropped.count
        discarded += dropped.count
        let woken = waiting
        waiting.removeAll()
        for id in woken { grants[id] = .closed }
        return (dropped, woken)
    }
}
