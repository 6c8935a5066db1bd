import Postgres
import Synchronization
import TestSupport
import Testing

/// Restarts a PostgreSQL server under a live pool and listener. Runs on its own scratch cluster
/// (`.pg/restart-test`, created by scripts/pg.sh on first use) so suites using the shared test
/// cluster at the same time are not disturbed.
@Suite(.serialized) struct ServerRestartTests {
    @Test func poolAndListenerRecoverAfterServerRestart() throws {
        let cluster = try PostgresCluster.scratch(named: "restart-test")
        defer { try? cluster.stop() }
        try TestDatabase.with("restart", on: cluster) { database in
            let pool = PostgresPool(configuration: database.appConfiguration, maxConnections: 2)
            let reconnects = Atomic<Int>(0)
            let received = Collected<String>()
            let listener = PostgresListener(
                configuration: database.appConfiguration, channels: ["cache"], initialBackoff: .milliseconds(50),
                onReconnect: { reconnects.add(1, ordering: .relaxed) }, onNotification: { received.append($0.payload) })
            listener.start()
            defer { listener.stop() }
            #expect(listener.waitUntilListening(timeout: .seconds(10)))
            try pool.withConnection { a in
                try pool.withConnection { b in
                    try a.query("SELECT 1")
                    try b.query("SELECT 1")
                }
            }
            #expect(pool.statistics.open == 2)

            try cluster.restart()

            // The idle connections died with the old server. The pool may surface at most one
            // transient error for the first call; after that every call must succeed.
            var failures: [PostgresError] = []
            for attempt in 0..<5 {
                do {
                    let value = try pool.withConnection { try $0.query("SELECT $1::int8", [.int(Int64(attempt))]) }
                    #expect(value.int(row: 0, column: 0) == Int64(attempt))
                } catch let error as PostgresError {
                    failures.append(error)
                }
            }
            #expect(failures.count <= 1)
            #expect(failures.allSatisfy { $0.isTransient })
            #expect(pool.statistics.discarded >= 2)

            // The listener noticed, reconnected, LISTENs again and delivers.
            #expect(eventually(timeout: .seconds(15)) { reconnects.load(ordering: .relaxed) >= 1 && listener.isListening })
            try pool.withConnection { try $0.query("SELECT pg_notify($1, $2)", ["cache", "after-restart"]) }
            #expect(eventually { received.all.contains("after-restart") })
        }
    }
}
