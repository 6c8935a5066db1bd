import Testing

@testable import Postgres

@Suite struct TimestampTests {
    @Test(arguments: [
        ("1970-01-01 00:00:00+00", Int64(0)),
        ("2024-02-29 12:34:56.789012+00", Int64(1_709_210_096_789_012)),
        ("2024-02-29 12:34:56.5+00", Int64(1_709_210_096_500_000)),
        ("2024-02-29 14:34:56+02", Int64(1_709_210_096_000_000)),
        ("2024-02-29 07:04:56-05:30", Int64(1_709_210_096_000_000)),
        ("1969-12-31 23:59:59.999999+00", Int64(-1)),
        ("2000-01-01T00:00:00Z", Int64(946_684_800_000_000)),
        ("2000-01-01", Int64(946_684_800_000_000)),
        ("0001-01-01 00:00:00+00", Int64(-62_135_596_800_000_000)),
        ("0001-12-31 00:00:00+00 BC", Int64(-62_135_683_200_000_000)),
    ])
    func parsesPostgresOutput(text: String, micros: Int64) {
        #expect(PostgresTimestamp(postgresText: text)?.microsecondsSinceEpoch == micros)
    }

    @Test(arguments: [
        "infinity", "-infinity", "2024-13-01 00:00:00+00", "2024-02-30 00:00:00+00",
        "2024-01-01 00:00:00.1234567+00", "2024-01-01 00:00+00", "2024-01-01 00:00:00+00 AD", "",
    ])
    func rejectsMalformed(text: String) {
        #expect(PostgresTimestamp(postgresText: text) == nil)
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01 00:00:00.000000+00", "1970-01-01T00:00:00Z"),
        (Int64(1_709_210_096_789_012), "2024-02-29 12:34:56.789012+00", "2024-02-29T12:34:56.789012Z"),
        (Int64(1_709_210_096_789_000), "2024-02-29 12:34:56.789000+00", "2024-02-29T12:34:56.789Z"),
        (Int64(-1), "1969-12-31 23:59:59.999999+00", "1969-12-31T23:59:59.999999Z"),
        (Int64(-62_135_683_200_000_000), "0001-12-31 00:00:00.000000+00 BC", "0000-12-31T00:00:00Z"),
        (Int64(253_402_300_799_999_999), "9999-12-31 23:59:59.999999+00", "9999-12-31T23:59:59.999999Z"),
        (Int64(253_402_300_800_000_000), "10000-01-01 00:00:00.000000+00", "10000-01-01T00:00:00Z"),
        (Int64(1_733_400_000_001_000), "2024-12-05 12:00:00.001000+00", "2024-12-05T12:00:00.001Z"),
        (Int64(1_733_400_000_000_010), "2024-12-05 12:00:00.000010+00", "2024-12-05T12:00:00.000010Z"),
    ])
    func formats(micros: Int64, postgres: String, iso: String) {
        let timestamp = PostgresTimestamp(microsecondsSinceEpoch: micros)
        #expect(timestamp.postgresText == postgres)
        #expect(timestamp.iso8601 == iso)
        #expect(PostgresTimestamp(postgresText: timestamp.postgresText) == timestamp)
    }

    /// The digit-by-digit `iso8601` says exactly what the padded-string version says, across years 0…9999 and
    /// every fraction shape (none, milliseconds, microseconds).
    @Test func fastISO8601MatchesThePaddedForm() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        let low: Int64 = -62_167_219_200_000_000, high: Int64 = 253_402_300_799_999_999  // 0000-01-01 … 9999-12-31
        for i in 0..<20_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var micros = low + Int64(seed >> 1 % UInt64(high - low))
            if i % 3 == 0 { micros -= micros % 1_000_000 } else if i % 3 == 1 { micros -= micros % 1_000 }
            let t = PostgresTimestamp(microsecondsSinceEpoch: micros)
            #expect(t.iso8601 == PostgresTimestamp.iso8601Padded(t.components), "\(micros)")
        }
    }

    @Test func calendarInitValidates() {
        #expect(PostgresTimestamp(year: 2023, month: 2, day: 29) == nil)
        #expect(PostgresTimestamp(year: 2024, month: 2, day: 29)?.microsecondsSinceEpoch == 1_709_164_800_000_000)
        #expect(PostgresTimestamp(year: 2024, month: 1, day: 1, hour: 24) == nil)
    }
}

@Suite struct ResultParsingTests {
    @Test(arguments: [
        ("0", Int64?.some(0)), ("42", 42), ("-42", -42), ("+7", 7),
        ("9223372036854775807", Int64.max), ("-9223372036854775808", Int64.min),
        ("9223372036854775808", nil), ("", nil), ("-", nil), ("12a", nil), ("1.5", nil),
    ])
    func parseInt(text: String, expected: Int64?) {
        var copy = text
        let value = copy.withUTF8 { PostgresResult.parseInt(UnsafeRawBufferPointer($0)) }
        #expect(value == expected)
    }

    @Test(arguments: [
        ("\\x", [UInt8]?.some([])), ("\\x00ff7F", [0, 255, 127]), ("\\x0", nil), ("00ff", nil), ("\\xzz", nil),
    ])
    func decodeBytea(text: String, expected: [UInt8]?) {
        var copy = text
        let value = copy.withUTF8 { PostgresResult.decodeByteaHex(UnsafeRawBufferPointer($0)) }
        #expect(value == expected)
    }
}

@Suite struct ConfigurationTests {
    @Test func parsesURLAndRedactsPassword() throws {
        let configuration = try PostgresConfiguration(
            url: "postgresql://app:s3cr3t-pw@db.example:6543/tenants?sslmode=disable&application_name=gw")
        #expect(configuration.user == "app")
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 6543)
        #expect(configuration.database == "tenants")
        #expect(configuration.applicationName == "gw")
        #expect(configuration.description == "postgresql://app@db.example:6543/tenants")
        #expect(!"\(configuration)".contains("s3cr3t"))
        let parameters = configuration.connectionParameters
        #expect(parameters.contains { $0.keyword == "sslmode" && $0.value == "disable" })
        #expect(parameters.contains { $0.keyword == "password" && $0.value == "s3cr3t-pw" })
        #expect(parameters.contains { $0.keyword == "connect_timeout" && $0.value == "5" })
    }

    @Test func parsesConninfoAndRewritesDatabaseAndUser() throws {
        let configuration = try PostgresConfiguration(
            url: "host=127.0.0.1 port=5433 user=postgres password=pw dbname=postgres connect_timeout=9")
        #expect(configuration.connectTimeoutSeconds == 9)
        let other = configuration.withDatabase("scim_us").withUser("scim")
        #expect(other.description == "postgresql://scim@127.0.0.1:5433/scim_us")
        #expect(!other.connectionParameters.contains { $0.keyword == "password" })
    }

    @Test func multiHostURLKeepsEveryServerAndItsPort() throws {
        let configuration = try PostgresConfiguration(
            url: "postgresql://app:pw@db1.example:5432,db2.example:5433,[::1]:6000/scim_us?target_session_attrs=read-write&connect_timeout=2")
        #expect(configuration.endpoints == [PostgresEndpoint(host: "db1.example", port: 5432),
                                            PostgresEndpoint(host: "db2.example", port: 5433),
                                            PostgresEndpoint(host: "::1", port: 6000)])
        #expect(configuration.port == nil)
        #expect(configuration.host == "db1.example,db2.example,::1")
        #expect(configuration.targetSessionAttributes == "read-write")
        #expect(configuration.connectTimeoutSeconds == 2)
        #expect(configuration.description
                == "postgresql://app@db1.example:5432,db2.example:5433,[::1]:6000/scim_us?target_session_attrs=read-write")
        // libpq gets the lists as it parsed them, so it tries each server in order and keeps the primary.
        let parameters = configuration.connectionParameters
        #expect(parameters.contains { $0.keyword == "host" && $0.value == "db1.example,db2.example,::1" })
        #expect(parameters.contains { $0.keyword == "port" && $0.value == "5432,5433,6000" })
        #expect(parameters.contains { $0.keyword == "target_session_attrs" && $0.value == "read-write" })
        // The other database and user keep every server.
        #expect(configuration.withDatabase("scim_eu2").withUser("scim").description
                == "postgresql://scim@db1.example:5432,db2.example:5433,[::1]:6000/scim_eu2?target_session_attrs=read-write")
    }

    @Test func oneDefaultPortServesEveryHost() throws {
        let url = try PostgresConfiguration(url: "postgresql://h1,h2/db")
        #expect(url.endpoints == [PostgresEndpoint(host: "h1", port: nil), PostgresEndpoint(host: "h2", port: nil)])
        let conninfo = try PostgresConfiguration(url: "host=h1,h2 port=6543 dbname=db target_session_attrs=primary")
        #expect(conninfo.endpoints == [PostgresEndpoint(host: "h1", port: 6543), PostgresEndpoint(host: "h2", port: 6543)])
        #expect(conninfo.port == nil)
        let single = try PostgresConfiguration(url: "postgresql://h1:6543/db")
        #expect(single.port == 6543)
        #expect(single.targetSessionAttributes == nil)
    }

    @Test func tcpTimeoutsAreSetUnlessTheURLSetsThem() throws {
        let plain = try PostgresConfiguration(url: "postgresql://h1,h2/db").connectionParameters
        #expect(plain.contains { $0.keyword == "keepalives_idle" && $0.value == "10" })
        #expect(plain.contains { $0.keyword == "tcp_user_timeout" && $0.value == "25000" })
        let own = try PostgresConfiguration(url: "postgresql://h1/db?keepalives_idle=30&tcp_user_timeout=0").connectionParameters
        #expect(own.filter { $0.keyword == "keepalives_idle" }.map(\.value) == ["30"])
        #expect(own.filter { $0.keyword == "tcp_user_timeout" }.map(\.value) == ["0"])
    }

    @Test(arguments: [
        // (URL, what the error must say): libpq itself would accept these and fail only at every connect.
        ("postgresql://h1,h2,h3/db?port=5432,5433", "3 hosts but 2 ports"),
        ("host=h1,h2,h3 port=5432,5433 dbname=db", "3 hosts but 2 ports"),
        ("postgresql://h1,h2/db?target_session_attrs=readwrite", "target_session_attrs must be one of"),
        ("postgresql://h1:99999/db", "port is not a number"),
        ("host=h1 port=abc dbname=db", "port is not a number"),
        ("host=h1,h2 hostaddr=10.0.0.1 dbname=db", "2 hosts but 1 hostaddr"),
        ("postgresql://h1/db?connect_timeout=soon", "connect_timeout"),
    ])
    func multiHostMistakesAreRefusedAtOnce(url: String, message: String) {
        do {
            _ = try PostgresConfiguration(url: url)
            Issue.record("expected \(url) to be refused")
        } catch {
            #expect(error.kind == .invalidConfiguration)
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test func invalidStringDoesNotEchoInput() {
        do {
            _ = try PostgresConfiguration(url: "postgresql://u:hunter2@h/db?nonsense_param=1")
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .invalidConfiguration)
            #expect(!error.description.contains("hunter2"))
            #expect(error.serverMessageForLogs == nil)
        }
    }
}

@Suite struct ErrorTests {
    @Test(arguments: [
        ("23505", PostgresError.Kind.uniqueViolation, false), ("23503", .foreignKeyViolation, false),
        ("23502", .notNullViolation, false), ("23514", .checkViolation, false),
        ("40001", .serializationFailure, true), ("40P01", .deadlock, true), ("57014", .queryCanceled, false),
        ("57P01", .connectionLost, true), ("08006", .connectionLost, true), ("42P01", .server, false),
        ("53300", .server, true), ("25006", .server, false),
    ])
    func mapsSQLState(sqlState: String, kind: PostgresError.Kind, transient: Bool) {
        #expect(PostgresError.Kind.from(sqlState: sqlState) == kind)
        let error = PostgresError(PostgresError.Kind.from(sqlState: sqlState), context: "query", sqlState: sqlState)
        #expect(error.isTransient == transient)
    }

    @Test func descriptionOmitsServerMessage() {
        let error = PostgresError(
            .uniqueViolation, context: "query", sqlState: "23505", constraint: "users_user_name_key", table: "users",
            serverMessage: "duplicate key value violates unique constraint \"users_user_name_key\"")
        #expect(
            error.description
                == "PostgresError(uniqueViolation, query, sqlState: 23505, constraint: users_user_name_key, table: users)")
        #expect(PostgresError(.readOnlyServer, context: "query", sqlState: "25006").isTransient)
        #expect(PostgresError(.commitUnconfirmed, context: "commit").isTransient)
        #expect(PostgresError.poolTimeout().isTransient)
        #expect(!PostgresError.poolClosed().isTransient)
    }
}

@Suite struct ParameterBufferTests {
    @Test func laysOutTypesAndRejectsNUL() throws {
        let buffer = try ParameterBuffer([.null, "a", 7, true, .bytes([]), .uuid("x"), .jsonb("{}"), 1.5])
        #expect(buffer.types == [0, 0, 20, 16, 17, 2950, 3802, 701])
        buffer.withPointers { _, values, lengths, formats in
            #expect(values![0] == nil)
            // An empty bytea must be a real pointer: nil would mean NULL.
            #expect(values![4] != nil)
            #expect(lengths![4] == 0 && formats![4] == 1)
            #expect(String(cString: values![2]!) == "7")
        }
        #expect(throws: PostgresError.self) { try ParameterBuffer(["ok", .text("a\u{0}b")]) }
        #expect(ParameterBuffer.format(.infinity) == "Infinity" && ParameterBuffer.format(-.infinity) == "-Infinity")
    }
}

@Suite struct PoolStateTests {
    @Test func handsOffFIFOAndBoundsConnections() {
        var state = PoolState<String>(maxConnections: 2)
        guard case .connect = state.checkout() else { Issue.record("expected connect"); return }
        state.connected()
        guard case .connect = state.checkout() else { Issue.record("expected connect"); return }
        state.connected()
        guard case .wait(let first) = state.checkout(), case .wait(let second) = state.checkout() else {
            Issue.record("expected two waiters")
            return
        }
        #expect(state.open == 2 && state.leased == 2 && state.waiting == [first, second])

        // A returned connection goes straight to the oldest waiter.
        let (action, dropped) = state.checkin("c1", reusable: true)
        guard case .wake(let woken) = action else { Issue.record("expected wake"); return }
        #expect(woken == first && dropped == nil)
        guard case .connection(let handed) = state.takeGrant(id: first) else {
            Issue.record("expected connection")
            return
        }
        #expect(handed == "c1")

        // A broken connection frees its slot, which the next waiter uses to connect.
        let (action2, dropped2) = state.checkin("c2", reusable: false)
        guard case .wake(let woken2) = action2, case .connect = state.takeGrant(id: woken2) else {
            Issue.record("expected connect grant")
            return
        }
        #expect(woken2 == second && dropped2 == "c2" && state.open == 2 && state.discarded == 1)
        state.connected()
        #expect(state.leased == 2 && state.totalCheckouts == 4)
    }

    @Test func timeoutRemovesWaiterAndCloseWakesAll() {
        var state = PoolState<Int>(maxConnections: 1)
        _ = state.checkout()
        state.connected()
        guard case .wait(let a) = state.checkout(), case .wait(let b) = state.checkout() else {
            Issue.record("expected waiters")
            return
        }
        guard case .timedOut = state.waitTimedOut(id: a) else { Issue.record("expected timeout"); return }
        #expect(state.timeouts == 1 && state.waiting == [b])
        let (dropIdle, wake) = state.close()
        #expect(dropIdle.isEmpty && wake == [b])
        guard case .closed = state.takeGrant(id: b) else { Issue.record("expected closed"); return }
        guard case .fail(let error) = state.checkout() else { Issue.record("expected failure"); return }
        #expect(error.kind == .poolClosed)
        let (_, dropped) = state.checkin(1, reusable: true)
        #expect(dropped == 1 && state.open == 0)
    }

    @Test func grantRacingTimeoutIsDelivered() {
        var state = PoolState<Int>(maxConnections: 1)
        _ = state.checkout()
        state.connected()
        guard case .wait(let id) = state.checkout() else { Issue.record("expected wait"); return }
        _ = state.checkin(5, reusable: true)
        guard case .granted(.connection(let value)) = state.waitTimedOut(id: id) else {
            Issue.record("expected grant")
            return
        }
        #expect(value == 5 && state.timeouts == 0 && state.leased == 1)
    }

    @Test func failedConnectPassesSlotOn() {
        var state = PoolState<Int>(maxConnections: 1)
        _ = state.checkout()
        guard case .wait(let id) = state.checkout() else { Issue.record("expected wait"); return }
        guard case .wake(let woken) = state.connectFailed(), case .connect = state.takeGrant(id: woken) else {
            Issue.record("expected connect grant")
            return
        }
        #expect(woken == id && state.open == 1)
    }
}

@Suite struct MigrationPlanTests {
    static let migrations = [
        Migration(version: 1, name: "users", sql: "CREATE TABLE users (id int)"),
        Migration(version: 2, name: "groups", sql: "CREATE TABLE groups (id int)"),
    ]

    @Test func picksNextPending() throws {
        let m = Self.migrations
        #expect(try Migrator.pending(m, applied: [:]) == m[0])
        #expect(try Migrator.pending(m, applied: [1: m[0].checksum]) == m[1])
        #expect(try Migrator.pending(m, applied: [1: m[0].checksum, 2: m[1].checksum]) == nil)
    }

    /// Branches reserve migration numbers, so a list may skip some (e.g. 1-5 and 9): a gap is not an error, and the
    /// next pending one after 5 is 9. (A database that has 9 can no longer take a later-merged 6: out of order.)
    @Test func acceptsAGapInTheNumbers() throws {
        let m = Self.migrations + [Migration(version: 9, name: "moves", sql: "CREATE TABLE moves (id int)")]
        try Migrator.validate(m)
        #expect(try Migrator.pending(m, applied: [1: m[0].checksum, 2: m[1].checksum]) == m[2])
        #expect(try Migrator.pending(m, applied: [1: m[0].checksum, 2: m[1].checksum, 9: m[2].checksum]) == nil)
        let six = Migration(version: 6, name: "later", sql: "CREATE TABLE later (id int)")
        #expect(throws: PostgresError.self) {
            try Migrator.pending([m[0], m[1], six, m[2]], applied: [1: m[0].checksum, 2: m[1].checksum, 9: m[2].checksum])
        }
    }

    @Test func refusesNewerUnknownEditedAndOutOfOrder() {
        let m = Self.migrations
        func refusal(_ applied: [Int: String], _ list: [Migration] = Self.migrations) -> String? {
            do {
                _ = try Migrator.pending(list, applied: applied)
                return nil
            } catch {
                return error.kind == .migrationRefused ? error.context : "wrong kind"
            }
        }
        #expect(
            refusal([1: m[0].checksum, 3: "x"]) == "database has migration 3, newer than the newest this build knows (2)")
        #expect(
            refusal([1: "0000000000000000"]) == "checksum mismatch for applied migration 1 (users): its SQL was edited")
        #expect(refusal([2: m[1].checksum]) == "migration 1 is pending but 2 is already applied (out of order)")
        #expect(refusal([1: "x"], [m[1]]) == "database has migration 1, which this build does not know")
        #expect(throws: PostgresError.self) { try Migrator.validate([m[1], m[0]]) }
    }
}
