import Postgres
import TestSupport
import Testing

/// `PostgresConnection.sendAhead`: a transaction's BEGIN and checks ride with the next call; when a check fails with
/// its rejection SQLSTATE, nothing of the transaction can be committed, whatever the caller does with the error.
/// `SELECT 1/0` with `rejectedBy: ["22012"]` stands for a guard that says no (the region's is `scim_write_guard`).
@Suite struct SendAheadTests {
    let pool: PostgresPool

    init() throws {
        // One connection: the temporary table below lives in its session.
        pool = PostgresPool(configuration: try SharedDatabase.connection.get().appConfiguration, maxConnections: 1)
        try pool.withConnection { try $0.executeScript("CREATE TEMP TABLE IF NOT EXISTS ahead (v text)") }
    }

    func count(_ value: String) throws -> Int64 {
        try pool.withConnection { try $0.query("SELECT count(*) FROM ahead WHERE v = $1", [.text(value)]).int(row: 0, column: 0) ?? -1 }
    }

    @Test func anAcceptedPreludeGoesOutWithTheFirstCall() throws {
        try pool.withConnection { c in
            // A guard that holds for these parameters (41 - 40 ≠ 0).
            try c.sendAhead([.sql("BEGIN"), .sql("SELECT 1/($1::int - 40)", [.int(41)])], rejectedBy: ["22012"])
            // The first call's own result only; the prelude's BEGIN made it part of a transaction.
            let inserted = try c.query("INSERT INTO ahead VALUES ('accepted') RETURNING v, txid_current_if_assigned() IS NOT NULL")
            #expect(inserted.string(row: 0, column: 0) == "accepted")
            #expect(try c.query("SELECT now() = statement_timestamp()").bool(row: 0, column: 0) == false, "inside the prelude's transaction")
            #expect(try c.commit())
        }
        #expect(try count("accepted") == 1)
        // The prelude costs no round trip of its own: the INSERT (with it) and COMMIT are two.
        let before = pool.statistics.roundTrips
        try pool.withConnection { c in
            try c.sendAhead([.sql("BEGIN"), .sql("SELECT 1")], rejectedBy: ["22012"])
            _ = try c.query("INSERT INTO ahead VALUES ('counted')")
            #expect(try c.commit())
        }
        #expect(pool.statistics.roundTrips - before == 2)
    }

    /// `pipelineCommitting` with a server-checked prelude: one round trip for BEGIN, the prelude, the statement and
    /// COMMIT; `commit` then answers without another; nothing can be sent or queued after it in that transaction.
    @Test func aServerCheckedPreludeLetsCommitRideWithTheLastStatement() throws {
        try pool.withConnection { c in
            try c.sendAhead([.sql("BEGIN"), .sql("SELECT 1")], rejectedBy: ["SCW01"])
            let results = try c.pipelineCommitting([.sql("INSERT INTO ahead VALUES ('rode') RETURNING v")])
            #expect(results.count == 1 && results[0].string(row: 0, column: 0) == "rode")
            do {
                try c.sendAhead([.sql("INSERT INTO ahead VALUES ('late')")], rejectedBy: [])
                Issue.record("expected protocolViolation for a statement queued after COMMIT")
            } catch let error as PostgresError {
                #expect(error.kind == .protocolViolation)
            }
            do {
                _ = try c.query("INSERT INTO ahead VALUES ('late')")
                Issue.record("expected protocolViolation for a statement sent after COMMIT")
            } catch let error as PostgresError {
                #expect(error.kind == .protocolViolation)
            }
            #expect(try c.commit())
        }
        #expect(try count("rode") == 1)
        #expect(try count("late") == 0)
        #expect(pool.statistics.roundTrips >= 1)
    }

    /// A server-checked prelude that fails with its SQLSTATE is a rejection (nothing commits, `preludeRejected`), and
    /// a statement that fails in the same pipeline as COMMIT keeps COMMIT from running.
    @Test func aFailingGuardOrStatementKeepsTheRidingCommitFromRunning() throws {
        try pool.withConnection { c in
            try c.sendAhead([.sql("BEGIN"), .sql("SELECT 1/0")], rejectedBy: ["22012"])
            do {
                _ = try c.pipelineCommitting([.sql("INSERT INTO ahead VALUES ('guarded')")])
                Issue.record("expected preludeRejected")
            } catch let error as PostgresError {
                #expect(error.kind == .preludeRejected)
            }
        }
        try pool.withConnection { c in
            try c.sendAhead([.sql("BEGIN")], rejectedBy: [])
            do {
                _ = try c.pipelineCommitting([.sql("INSERT INTO ahead VALUES ('first')"), .sql("SELECT 1/0")])
                Issue.record("expected division by zero")
            } catch let error as PostgresError {
                #expect(error.sqlState == "22012")
            }
        }
        #expect(try count("guarded") == 0)
        #expect(try count("first") == 0, "COMMIT never ran after the failed statement")
    }

    @Test func aRejectedPreludeLetsNothingCommitEvenIfTheCallerSwallowsTheError() throws {
        try pool.withConnection { c in
            try c.sendAhead([.sql("BEGIN"), .sql("SELECT 1/0")], rejectedBy: ["22012"])
            do {
                _ = try c.query("INSERT INTO ahead VALUES ('rejected')")
                Issue.record("expected preludeRejected")
            } catch let error as PostgresError {
                #expect(error.kind == .preludeRejected)
            }
            _ = try? c.query("INSERT INTO ahead VALUES ('rejected')")
            #expect(throws: PostgresError.self) { try c.commit() }
            #expect(throws: PostgresError.self) { try c.pipeline([.sql("SELECT 1")]) }
        }
        // Back in the pool: rolled back, and the connection serves the next caller normally.
        #expect(try count("rejected") == 0)
        #expect(try pool.withConnection { try $0.query("SELECT 7").int(row: 0, column: 0) } == 7)
    }

    @Test func aPreludeThatFailsReportsItsOwnError() throws {
        try pool.withConnection { c in
            // Not a rejection code: the statement's own error.
            try c.sendAhead([.sql("BEGIN"), .sql("SELECT 1/0")], rejectedBy: ["SCW01"])
            do {
                _ = try c.query("INSERT INTO ahead VALUES ('after-failure')")
                Issue.record("expected division by zero")
            } catch let error as PostgresError {
                #expect(error.sqlState == "22012" && error.kind != .preludeRejected)
            }
            #expect(try c.commit() == false, "the server rolled back the failed transaction")
        }
        #expect(try count("after-failure") == 0)
    }

    @Test func queuedStatementsAddUpAndAnyCheckCanReject() throws {
        try pool.withConnection { c in
            try c.sendAhead([.sql("BEGIN"), .sql("SELECT 1")], rejectedBy: ["22012"])
            try c.sendAhead([.sql("INSERT INTO ahead VALUES ('queued-second')")], rejectedBy: [])
            let seen = try c.query("SELECT count(*) FROM ahead WHERE v = 'queued-second'")
            #expect(seen.int(row: 0, column: 0) == 1, "both went out, in order, before the call's own statement")
            #expect(try c.commit())
        }
        #expect(try count("queued-second") == 1)
        try pool.withConnection { c in
            // The first batch names no rejection code, the second does: the codes add up too.
            try c.sendAhead([.sql("BEGIN"), .sql("INSERT INTO ahead VALUES ('second-says-no')")], rejectedBy: [])
            try c.sendAhead([.sql("SELECT 1/0")], rejectedBy: ["22012"])
            do {
                _ = try c.query("SELECT 1")
                Issue.record("expected preludeRejected")
            } catch let error as PostgresError {
                #expect(error.kind == .preludeRejected)
            }
            #expect(throws: PostgresError.self) { try c.commit() }
        }
        #expect(try count("second-says-no") == 0)
    }

    @Test func commitAfterARejectingQueuedStatementCommitsNothing() throws {
        // Queued statements and nothing after them: `commit` sends them first and a rejection stops it there.
        try pool.withConnection { c in
            try c.sendAhead([.sql("BEGIN"), .sql("INSERT INTO ahead VALUES ('late-verdict')"), .sql("SELECT 1/0")],
                            rejectedBy: ["22012"])
            do {
                _ = try c.commit()
                Issue.record("expected preludeRejected")
            } catch let error as PostgresError {
                #expect(error.kind == .preludeRejected)
            }
        }
        #expect(try count("late-verdict") == 0)
    }

    @Test func aCommitSentAsSQLBehindARejectingQueuedStatementNeverRuns() throws {
        for commit in ["COMMIT", "  commit", "END"] {
            try pool.withConnection { c in
                try c.sendAhead([.sql("BEGIN"), .sql("INSERT INTO ahead VALUES ('sql-commit')"), .sql("SELECT 1/0")],
                                rejectedBy: ["22012"])
                #expect(throws: PostgresError.self) { try c.pipeline([.sql(commit)]) }
            }
        }
        #expect(try count("sql-commit") == 0)
        try pool.withConnection { c in
            try c.sendAhead([.sql("BEGIN"), .sql("SELECT 1/0")], rejectedBy: ["22012"])
            do {
                try c.flushAhead()
                Issue.record("expected preludeRejected")
            } catch let error as PostgresError {
                #expect(error.kind == .preludeRejected)
            }
        }
    }

    @Test func aCommitWithNothingBeforeItSendsThePreludeFirst() throws {
        try pool.withConnection { c in
            try c.sendAhead([.sql("BEGIN"), .sql("INSERT INTO ahead VALUES ('prelude-only')")], rejectedBy: ["22012"])
            #expect(try c.commit())
        }
        #expect(try count("prelude-only") == 1)
        // Queued but never sent (the caller threw before any call): nothing began, nothing is left behind.
        try pool.withConnection { c in
            try c.sendAhead([.sql("BEGIN"), .sql("INSERT INTO ahead VALUES ('never-sent')")], rejectedBy: [])
        }
        #expect(try count("never-sent") == 0)
    }
}
