import Postgres
import TestSupport
import Testing

@Suite struct ConnectionTests {
    let connection: PostgresConnection

    init() throws {
        connection = try PostgresConnection(configuration: try SharedDatabase.connection.get().appConfiguration)
    }

    static let texts = [
        "", "plain", "Zoë 😀 日本語 עברית", "'; DROP TABLE x; --", "back\\slash \"quoted\" $1 %s \n\t",
        "O'Brien", "ü𝄞\u{200B}end",
    ]

    @Test(arguments: texts)
    func textRoundTripsThroughATable(text: String) throws {
        try connection.executeScript("CREATE TEMP TABLE IF NOT EXISTS x (id serial, value text)")
        let inserted = try connection.query("INSERT INTO x (value) VALUES ($1) RETURNING id", [.text(text)])
        let id = try #require(inserted.int(row: 0, column: 0))
        let selected = try connection.query("SELECT value, length(value) FROM x WHERE id = $1", [.int(id)])
        #expect(selected.string(row: 0, column: 0) == text)
        #expect(selected.int(row: 0, column: 1) == Int64(text.count))
        // The metacharacters stayed data: the table is still there.
        #expect(try connection.query("SELECT count(*) FROM x WHERE value = $1", [.text(text)]).int(row: 0, column: 0) ?? 0 >= 1)
    }

    @Test func longTextRoundTrips() throws {
        let text = String(repeating: "ü-😀", count: 50_000)
        #expect(try connection.query("SELECT $1::text", [.text(text)]).string(row: 0, column: 0) == text)
    }

    @Test(arguments: [
        (PostgresValue.null, "text", String?.none),
        (.int(Int64.max), "int8", "9223372036854775807"),
        (.int(Int64.min), "int8", "-9223372036854775808"),
        (.int(42), "int4", "42"),
        (.double(1.5), "float8", "1.5"),
        (.double(-.infinity), "float8", "-Infinity"),
        (.bool(true), "bool", "t"),
        (.bool(false), "bool", "f"),
        (.bytes([0, 255, 39, 92, 0]), "bytea", "\\x00ff275c00"),
        (.bytes([]), "bytea", "\\x"),
        (.uuid("0E3C3A54-9B1D-4C8B-8F7A-2B6D1E5F4A3C"), "uuid", "0e3c3a54-9b1d-4c8b-8f7a-2b6d1e5f4a3c"),
        (.text("0e3c3a54-9b1d-4c8b-8f7a-2b6d1e5f4a3c"), "uuid", "0e3c3a54-9b1d-4c8b-8f7a-2b6d1e5f4a3c"),
        (.jsonb(#"{"b":[1,"x'y"],"a":null}"#), "jsonb", #"{"a": null, "b": [1, "x'y"]}"#),
        (
            .timestamp(PostgresTimestamp(microsecondsSinceEpoch: 1_709_210_096_789_012)), "timestamptz",
            "2024-02-29 12:34:56.789012+00"
        ),
        (.text("2024-02-29T12:34:56Z"), "timestamptz", "2024-02-29 12:34:56+00"),
    ])
    func valueRoundTrips(value: PostgresValue, type: String, expected: String?) throws {
        // The type name is a fixed test argument, not data: safe to place in SQL.
        let result = try connection.query("SELECT $1::\(type)", [value])
        #expect(result.rowCount == 1 && result.columnCount == 1)
        #expect(result.string(row: 0, column: 0) == expected)
        #expect(result.isNull(row: 0, column: 0) == (expected == nil))
    }

    @Test func typedAccessors() throws {
        let timestamp = PostgresTimestamp(year: 2025, month: 7, day: 1, hour: 8, minute: 9, second: 10, microsecond: 11)!
        let result = try connection.query(
            "SELECT $1::int8 AS n, $2::bool AS b, $3::bytea AS raw, $4::timestamptz AS at, $5::float8 AS f, NULL::int AS missing",
            [.int(-7), .bool(true), .bytes([1, 2, 3]), .timestamp(timestamp), .double(0.25)])
        #expect(result.columnIndex("raw") == 2)
        #expect(result.columnName(3) == "at")
        #expect(result.int(row: 0, column: "n") == -7)
        #expect(result.bool(row: 0, column: "b") == true)
        #expect(result.bytes(row: 0, column: 2) == [1, 2, 3])
        #expect(result.timestamp(row: 0, column: 3) == timestamp)
        #expect(result.double(row: 0, column: 4) == 0.25)
        #expect(result.int(row: 0, column: 5) == nil)
        #expect(result.string(row: 0, column: "no_such_column") == nil)
    }

    @Test func timestampsReadBackInAnySessionTimeZone() throws {
        try connection.executeScript("SET TIME ZONE 'Asia/Kolkata'")
        defer { try? connection.executeScript("SET TIME ZONE 'UTC'") }
        let instant = PostgresTimestamp(microsecondsSinceEpoch: 1_709_210_096_000_000)
        let result = try connection.query("SELECT $1::timestamptz", [.timestamp(instant)])
        #expect(result.string(row: 0, column: 0) == "2024-02-29 18:04:56+05:30")
        #expect(result.timestamp(row: 0, column: 0) == instant)
    }

    @Test func withBytesReadsLibpqMemoryDirectly() throws {
        let result = try connection.query("SELECT $1::jsonb, NULL::jsonb", [.jsonb(#"{"userName":"bjensen"}"#)])
        let bytes = result.withBytes(row: 0, column: 0) { Array($0) }
        #expect(bytes == Array(#"{"userName": "bjensen"}"#.utf8))
        #expect(result.withBytes(row: 0, column: 1) { $0.count } == nil)
    }

    @Test func executeReturnsAffectedRows() throws {
        try connection.executeScript("CREATE TEMP TABLE IF NOT EXISTS counts (n int)")
        try connection.execute("DELETE FROM counts")
        #expect(try connection.execute("INSERT INTO counts SELECT generate_series(1, $1::int)", [5]) == 5)
        #expect(try connection.execute("UPDATE counts SET n = n + 1 WHERE n > $1", [2]) == 3)
        #expect(try connection.query("SELECT * FROM counts").affectedRows == 5)
    }

    @Test func multipleStatementsAreRefusedWithParametersPath() throws {
        // The extended protocol runs exactly one statement: injection of a second one cannot work.
        #expect(throws: PostgresError.self) { try connection.query("SELECT 1; SELECT 2") }
        #expect(try connection.query("SELECT 3").int(row: 0, column: 0) == 3)
    }

    @Test func preparedStatementIsPreparedOnceAndReused() throws {
        let statement = PreparedStatement("SELECT $1::int8 * 2 AS doubled")
        for value in Int64(1)...5 {
            #expect(try connection.query(statement, [.int(value)]).int(row: 0, column: 0) == value * 2)
        }
        let stats = try connection.query(
            "SELECT count(*), sum(generic_plans + custom_plans) FROM pg_prepared_statements WHERE name = $1",
            [.text(statement.name)])
        #expect(stats.int(row: 0, column: 0) == 1)
        #expect(stats.int(row: 0, column: 1) == 5)

        // Someone discards all prepared statements: the wrapper prepares again transparently.
        try connection.executeScript("DEALLOCATE ALL")
        #expect(try connection.query(statement, [.int(21)]).int(row: 0, column: 0) == 42)
    }

    @Test func nulInTextIsRejectedBeforeSending() throws {
        do {
            try connection.query("SELECT $1", [.text("a\u{0}b")])
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .invalidParameter)
        }
        #expect(!connection.isBroken)
    }

    @Test func transactionCommitsAndRollsBack() throws {
        try connection.executeScript("CREATE TEMP TABLE IF NOT EXISTS accounts (name text)")
        try connection.execute("DELETE FROM accounts")
        struct Refused: Error {}
        try connection.transaction { conn in
            try conn.execute("INSERT INTO accounts VALUES ($1)", ["kept"])
        }
        #expect(throws: Refused.self) {
            try connection.transaction { conn in
                try conn.execute("INSERT INTO accounts VALUES ($1)", ["dropped"])
                throw Refused()
            }
        }
        // Nested: the inner failure rolls back to a savepoint, the outer work commits.
        try connection.transaction { conn in
            try conn.execute("INSERT INTO accounts VALUES ($1)", ["outer"])
            _ = try? conn.transaction { inner in
                try inner.execute("INSERT INTO accounts VALUES ($1)", ["inner"])
                throw Refused()
            }
        }
        let names = try connection.query("SELECT name FROM accounts ORDER BY name")
        #expect((0..<names.rowCount).map { names.string(row: $0, column: 0) } == ["kept", "outer"])
    }

    @Test func transactionSetupTravelsWithBegin() throws {
        let setTenant = PreparedStatement("SELECT set_config('app.tenant_id', $1, true)")
        let seen: String? = try connection.transaction(isolation: .repeatableRead, setup: [.prepared(setTenant, ["acme"])]) {
            conn in
            try conn.query("SELECT current_setting('app.tenant_id') || '/' || current_setting('transaction_isolation')")
                .string(row: 0, column: 0)
        }
        #expect(seen == "acme/repeatable read")
        // A failing setup statement leaves no transaction behind.
        do {
            try connection.transaction(setup: [.sql("SELECT 1/0")]) { _ in Issue.record("body must not run") }
            Issue.record("expected division by zero")
        } catch let error as PostgresError {
            #expect(error.sqlState == "22012")
        }
        let idle = try connection.query("SELECT coalesce(current_setting('app.tenant_id', true), '')")
        #expect(idle.string(row: 0, column: 0) == "")
        try connection.executeScript("SELECT 1")  // would warn/fail if a transaction were still open and aborted
    }

    @Test func swallowedErrorInsideTransactionIsReported() throws {
        do {
            try connection.transaction { conn in
                _ = try? conn.query("SELECT 1/0")
            }
            Issue.record("expected transactionAborted")
        } catch let error as PostgresError {
            #expect(error.kind == .transactionAborted)
        }
        #expect(try connection.query("SELECT 1").int(row: 0, column: 0) == 1)
    }

    @Test func isolationLevelAndReadOnly() throws {
        let level: String? = try connection.transaction(isolation: .serializable) { conn in
            try conn.query("SHOW transaction_isolation").string(row: 0, column: 0)
        }
        #expect(level == "serializable")
        do {
            try connection.transaction(readOnly: true) { conn in
                _ = try conn.execute("CREATE TEMP TABLE ro (n int)")
            }
            Issue.record("expected read-only failure")
        } catch let error as PostgresError {
            #expect(error.sqlState == "25006")
        }
    }

    @Test func uniqueViolationNamesConstraintButNotTheValue() throws {
        try connection.executeScript(
            "CREATE TEMP TABLE IF NOT EXISTS people (id int, user_name text CONSTRAINT people_user_name_key UNIQUE)")
        try connection.execute("DELETE FROM people")
        try connection.execute("INSERT INTO people VALUES (1, $1)", ["alice.secret@example.com"])
        do {
            try connection.execute("INSERT INTO people VALUES (2, $1)", ["alice.secret@example.com"])
            Issue.record("expected a unique violation")
        } catch {
            #expect(error.kind == .uniqueViolation)
            #expect(error.sqlState == "23505")
            #expect(error.constraint == "people_user_name_key")
            #expect(error.table == "people")
            #expect(!error.isTransient)
            #expect(!error.description.contains("alice"))
            #expect(!error.description.contains("INSERT"))
            #expect(
                error.description
                    == "PostgresError(uniqueViolation, query, sqlState: 23505, constraint: people_user_name_key, table: people)"
            )
        }
        #expect(!connection.isBroken)
    }

    @Test func foreignKeyViolationKind() throws {
        try connection.executeScript(
            """
            CREATE TEMP TABLE IF NOT EXISTS fk_groups (id int PRIMARY KEY);
            CREATE TEMP TABLE IF NOT EXISTS fk_members (group_id int CONSTRAINT fk_members_group REFERENCES fk_groups)
            """)
        do {
            try connection.execute("INSERT INTO fk_members VALUES ($1)", [.int(999)])
            Issue.record("expected a foreign key violation")
        } catch {
            #expect(error.kind == .foreignKeyViolation)
            #expect(error.constraint == "fk_members_group")
            #expect(!error.description.contains("999"))
        }
    }

    @Test func pipelineRunsStatementsInOneImplicitTransaction() throws {
        let lookup = PreparedStatement("SELECT current_setting('app.tenant_id') || ':' || $1::text")
        let results = try connection.pipeline([
            .sql("SELECT set_config('app.tenant_id', $1, true)", ["tenant-42"]),
            .sql("SELECT current_setting('app.tenant_id')"),
            .prepared(lookup, ["x"]),
            .prepared(lookup, ["y"]),
        ])
        #expect(results.count == 4)
        #expect(results[1].string(row: 0, column: 0) == "tenant-42")
        #expect(results[2].string(row: 0, column: 0) == "tenant-42:x")
        #expect(results[3].string(row: 0, column: 0) == "tenant-42:y")
        // is_local: the setting ended with the implicit transaction.
        let after = try connection.query("SELECT coalesce(current_setting('app.tenant_id', true), '')")
        #expect(after.string(row: 0, column: 0) == "")
        // The prepared statement now exists on the session and is reused outside the pipeline.
        #expect(try connection.query(lookup, ["z"]).string(row: 0, column: 0) == ":z")
    }

    @Test func pipelineStopsAtFirstErrorAndConnectionStaysUsable() throws {
        do {
            _ = try connection.pipeline([.sql("SELECT 1"), .sql("SELECT 1/0"), .sql("SELECT 2")])
            Issue.record("expected division by zero")
        } catch {
            #expect(error.sqlState == "22012")
            #expect(error.kind == .server)
        }
        #expect(!connection.isBroken)
        #expect(try connection.query("SELECT 3").int(row: 0, column: 0) == 3)
        let failedPrepare = PreparedStatement("SELECT no_such_column_here")
        #expect(throws: PostgresError.self) { try connection.pipeline([.prepared(failedPrepare)]) }
        #expect(try connection.pipeline([.sql("SELECT 4")])[0].int(row: 0, column: 0) == 4)
    }

    @Test func terminatedBackendIsReportedAsTransientConnectionLoss() throws {
        let database = try SharedDatabase.connection.get()
        let victim = try PostgresConnection(configuration: database.appConfiguration)
        #expect(try victim.query("SELECT 1").int(row: 0, column: 0) == 1)
        try terminate([victim.backendPID], database: database)
        do {
            try victim.query("SELECT 1")
            Issue.record("expected connection loss")
        } catch {
            #expect(error.kind == .connectionLost)
            #expect(error.isTransient)
        }
        #expect(victim.isBroken)
    }

    @Test func connectFailureIsTransient() throws {
        // Port 1 on loopback: nothing listens there.
        let configuration = try PostgresConfiguration(url: "postgresql://scim@127.0.0.1:1/postgres")
        do {
            _ = try PostgresConnection(configuration: configuration)
            Issue.record("expected connection failure")
        } catch {
            #expect(error.kind == .connectionFailed)
            #expect(error.isTransient)
            #expect(error.description == "PostgresError(connectionFailed, connect)")
        }
    }
}
