import Glibc
import Postgres
import TestSupport
import Testing

/// Not a pass/fail test: prints round-trip latencies. Enabled with SCIM_PG_BENCH=1, e.g.
/// `SCIM_PG_BENCH=1 swift test -c release --filter RoundTripBenchmark`.
@Suite(.enabled(if: getenv("SCIM_PG_BENCH") != nil)) struct RoundTripBenchmark {
    @Test func roundTrips() throws {
        try TestDatabase.with("bench") { database in
            let connection = try PostgresConnection(configuration: database.appConfiguration)
            // pgbench-like table: 100k accounts with a primary key.
            try connection.executeScript(
                """
                CREATE TABLE accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
                INSERT INTO accounts SELECT g, 1, 0, '' FROM generate_series(1, 100000) g;
                """)
            // A multi-statement script runs as one implicit transaction, which VACUUM refuses.
            try connection.executeScript("VACUUM ANALYZE accounts")
            let iterations = 20_000
            var seed: UInt64 = 42
            func nextAID() -> Int64 {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Int64(seed >> 33) % 100_000 + 1
            }
            func measure(_ label: String, _ body: () throws -> Void) rethrows {
                for _ in 0..<500 { try body() }  // warm-up
                let clock = ContinuousClock()
                let start = clock.now
                for _ in 0..<iterations { try body() }
                let elapsed = clock.now - start
                let micros = Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
                print("bench \(label): \(Int(micros / Double(iterations) * 10) / 10) µs/op")
            }
            let selectOne = PreparedStatement("SELECT 1")
            let byAID = PreparedStatement("SELECT abalance FROM accounts WHERE aid = $1")
            let setTenant = PreparedStatement("SELECT set_config('app.tenant_id', $1, true)")
            try measure("SELECT 1 (PQexecParams, unnamed)") { _ = try connection.query("SELECT 1") }
            try measure("SELECT 1 (prepared)") { _ = try connection.query(selectOne) }
            try measure("pk select (unnamed)") {
                _ = try connection.query("SELECT abalance FROM accounts WHERE aid = $1", [.int(nextAID())])
            }
            try measure("pk select (prepared)") { _ = try connection.query(byAID, [.int(nextAID())]) }
            try measure("empty transaction (BEGIN + COMMIT)") { try connection.transaction { _ in } }
            try measure("set_config + pk select, 2 round trips, in tx") {
                try connection.transaction { conn in
                    try conn.query(setTenant, ["t1"])
                    _ = try conn.query(byAID, [.int(nextAID())])
                }
            }
            try measure("transaction(setup: set_config) + pk select (3 round trips)") {
                try connection.transaction(setup: [.prepared(setTenant, ["t1"])]) { conn in
                    _ = try conn.query(byAID, [.int(nextAID())])
                }
            }
            try measure("set_config + pk select, pipeline (1 round trip)") {
                _ = try connection.pipeline([.prepared(setTenant, ["t1"]), .prepared(byAID, [.int(nextAID())])])
            }
            let pool = PostgresPool(configuration: database.appConfiguration, maxConnections: 2)
            try measure("pool.withConnection + pk select (prepared)") {
                _ = try pool.withConnection { try $0.query(byAID, [.int(nextAID())]) }
            }
        }
    }
}
