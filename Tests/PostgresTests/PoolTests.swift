import Glibc
import Postgres
import Synchronization
import TestSupport
import Testing

@Suite struct PoolTests {
    let database: TestDatabase

    init() throws {
        database = try SharedDatabase.pool.get()
    }

    func makePool(_ name: String, max: Int, timeout: Duration = .seconds(5), setup: PostgresPool.SessionSetup? = nil)
        -> PostgresPool
    {
        var configuration = database.appConfiguration
        configuration.applicationName = name
        return PostgresPool(configuration: configuration, maxConnections: max, checkoutTimeout: timeout, sessionSetup: setup)
    }

    /// Server pids of this pool's sessions (found by its unique application_name).
    func backendPIDs(_ name: String) throws -> [Int32] {
        let admin = try PostgresConnection(configuration: database.adminConfiguration)
        let rows = try admin.query(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 ORDER BY pid",
            [.text(database.name), .text(name)])
        return (0..<rows.rowCount).compactMap { rows.int(row: $0, column: 0).map { Int32($0) } }
    }

    @Test func connectsLazilyAndReusesIdleConnections() throws {
        let pool = makePool("pool_lazy", max: 3)
        #expect(pool.statistics.open == 0)
        for _ in 0..<5 {
            try pool.withConnection { try $0.query("SELECT 1") }
        }
        let stats = pool.statistics
        #expect(stats.open == 1 && stats.idle == 1 && stats.inUse == 0 && stats.connects == 1)
        #expect(stats.totalCheckouts == 5)
    }

    @Test func checkoutBeyondMaximumWaitsThenTimesOut() throws {
        let pool = makePool("pool_bounds", max: 2, timeout: .milliseconds(250))
        let clock = ContinuousClock()
        try pool.withConnection { first in
            try pool.withConnection { second in
                #expect(first !== second)
                #expect(pool.statistics.inUse == 2)
                let started = clock.now
                do {
                    try pool.withConnection { _ in Issue.record("a third connection was handed out") }
                    Issue.record("expected poolTimeout")
                } catch let error as PostgresError {
                    #expect(error.kind == .poolTimeout)
                    #expect(error.isTransient)
                }
                let waited = clock.now - started
                #expect(waited >= .milliseconds(240) && waited < .seconds(2))
            }
        }
        let stats = pool.statistics
        #expect(stats.open == 2 && stats.timeouts == 1 && stats.waiters == 0 && stats.idle == 2)
    }

    @Test func waiterGetsTheConnectionWhenOneIsReturned() throws {
        let pool = makePool("pool_handoff", max: 1, timeout: .seconds(5))
        let order = Collected<String>()
        onThreads(2) { index in
            if index == 0 {
                try? pool.withConnection { _ in
                    order.append("holder in")
                    // Hold the only connection until the other thread is queued behind it.
                    _ = eventually { pool.statistics.waiters == 1 }
                    order.append("holder out")
                }
            } else {
                _ = eventually { order.all.contains("holder in") }
                let value = try? pool.withConnection { try $0.query("SELECT 7").int(row: 0, column: 0) }
                order.append("waiter got \(value.map { String($0) } ?? "nothing")")
            }
        }
        #expect(order.all == ["holder in", "holder out", "waiter got 7"])
        #expect(pool.statistics.connects == 1)
    }

    @Test func manyThreadsShareABoundedPool() throws {
        let pool = makePool("pool_threads", max: 4, timeout: .seconds(20))
        try pool.withConnection { conn in
            try conn.executeScript(
                "DROP TABLE IF EXISTS pool_counter; CREATE TABLE pool_counter (n int); INSERT INTO pool_counter VALUES (0)")
        }
        let failures = Collected<String>()
        let peakOpen = Atomic<Int>(0)
        onThreads(16) { thread in
            for iteration in 0..<25 {
                do {
                    let expected = Int64(thread * 1_000 + iteration)
                    let echoed = try pool.withTransaction { conn in
                        try conn.execute("UPDATE pool_counter SET n = n + 1")
                        return try conn.query("SELECT $1::int8", [.int(expected)]).int(row: 0, column: 0)
                    }
                    if echoed != expected { failures.append("thread \(thread) got \(String(describing: echoed))") }
                    peakOpen.max(pool.statistics.open, ordering: .relaxed)
                } catch {
                    failures.append("\(error)")
                }
            }
        }
        #expect(failures.all.isEmpty)
        let total = try pool.withConnection { try $0.query("SELECT n FROM pool_counter").int(row: 0, column: 0) }
        #expect(total == 400)
        #expect(peakOpen.load(ordering: .relaxed) <= 4)
        let stats = pool.statistics
        #expect(stats.open <= 4 && stats.inUse == 0 && stats.waiters == 0 && stats.timeouts == 0)
        #expect(stats.totalCheckouts == 402)
    }

    @Test func recoversAfterItsBackendsAreTerminated() throws {
        let name = "pool_recover"
        let pool = makePool(name, max: 3)
        // Warm up three connections at once.
        try pool.withConnection { a in
            try pool.withConnection { b in
                try pool.withConnection { c in
                    for conn in [a, b, c] { try conn.query("SELECT 1") }
                }
            }
        }
        let pids = try backendPIDs(name)
        #expect(pids.count == 3)
        try terminate(pids, database: database)
        // Idle connections are checked without a round trip on checkout: dead ones are dropped and
        // replaced, so even the first call after the termination succeeds.
        for _ in 0..<3 {
            #expect(try pool.withConnection { try $0.query("SELECT 42").int(row: 0, column: 0) } == 42)
        }
        let stats = pool.statistics
        #expect(stats.discarded == 3)
        #expect(Set(try backendPIDs(name)).isDisjoint(with: pids))
    }

    @Test func connectionLostWhileInUseIsDiscardedOnCheckin() throws {
        let pool = makePool("pool_inuse", max: 1)
        do {
            try pool.withConnection { conn in
                try terminate([conn.backendPID], database: database)
                try conn.query("SELECT 1")
            }
            Issue.record("expected connection loss")
        } catch let error as PostgresError {
            #expect(error.kind == .connectionLost && error.isTransient)
        }
        #expect(pool.statistics.open == 0)
        #expect(try pool.withConnection { try $0.query("SELECT 5").int(row: 0, column: 0) } == 5)
        #expect(pool.statistics.connects == 2)
    }

    @Test func openTransactionIsRolledBackOnCheckin() throws {
        let pool = makePool("pool_rollback", max: 1)
        try pool.withConnection { try $0.executeScript("DROP TABLE IF EXISTS pool_leak; CREATE TABLE pool_leak (n int)") }
        try pool.withConnection { conn in
            try conn.executeScript("BEGIN")
            try conn.execute("INSERT INTO pool_leak VALUES (1)")
            // Returned without COMMIT.
        }
        let count = try pool.withConnection { try $0.query("SELECT count(*) FROM pool_leak").int(row: 0, column: 0) }
        #expect(count == 0)
        #expect(pool.statistics.connects == 1)
    }

    @Test func withTransactionCommitsOrRollsBack() throws {
        let pool = makePool("pool_tx", max: 2)
        struct Refused: Error {}
        try pool.withConnection { try $0.executeScript("DROP TABLE IF EXISTS pool_tx; CREATE TABLE pool_tx (n int)") }
        try pool.withTransaction { try $0.execute("INSERT INTO pool_tx VALUES (1)") }
        #expect(throws: Refused.self) {
            try pool.withTransaction { conn in
                try conn.execute("INSERT INTO pool_tx VALUES (2)")
                throw Refused()
            }
        }
        let sum = try pool.withConnection { try $0.query("SELECT sum(n) FROM pool_tx").int(row: 0, column: 0) }
        #expect(sum == 1)
    }

    @Test func sessionSetupRunsOncePerNewConnection() throws {
        let calls = Atomic<Int>(0)
        let pool = makePool("pool_setup", max: 2) { conn throws(PostgresError) in
            calls.add(1, ordering: .relaxed)
            try conn.executeScript("SET statement_timeout = '1234ms'")
        }
        for _ in 0..<3 {
            let value = try pool.withConnection { try $0.query("SHOW statement_timeout").string(row: 0, column: 0) }
            #expect(value == "1234ms")
        }
        #expect(calls.load(ordering: .relaxed) == 1)
    }

    @Test func closeFailsWaitersAndLaterCheckouts() throws {
        let pool = makePool("pool_close", max: 1, timeout: .seconds(10))
        let outcome = Collected<String>()
        onThreads(2) { index in
            if index == 0 {
                try? pool.withConnection { _ in
                    _ = eventually { pool.statistics.waiters == 1 }
                    pool.close()
                }
            } else {
                _ = eventually { pool.statistics.inUse == 1 }
                do {
                    try pool.withConnection { _ in }
                    outcome.append("got a connection")
                } catch let error as PostgresError {
                    outcome.append("\(error.kind)")
                } catch {
                    outcome.append("other error")
                }
            }
        }
        #expect(outcome.all == ["poolClosed"])
        #expect(throws: PostgresError.self) { try pool.withConnection { _ in } }
        #expect(pool.statistics.open == 0)
    }
}
