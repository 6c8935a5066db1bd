import CLibPQ
import Glibc
import Synchronization
import Locking

/// One libpq connection, used synchronously (calls block the calling thread).
///
/// libpq connections are not thread-safe, so every call runs under the connection's own mutex:
/// sharing one between threads is memory-safe but serialises them, and interleaving statements of
/// two threads inside one transaction is a logic error. Pools hand each connection to one thread.
public final class PostgresConnection: Sendable {
    /// The C handle plus what we know about it; the mutex beside it is the only way in.
    struct Handle: ~Copyable {
        let pointer: OpaquePointer
        /// Prepared statement name -> SQL, for statements prepared on this session.
        var prepared: [String: String] = [:]
        /// Set once a call saw the connection fail; the pool then discards it.
        var broken = false
        /// See `sessionTag`.
        var sessionTag: String? = nil
        /// Warnings during COMMIT (see `commit`); lives exactly as long as the C handle whose receiver points at it.
        let notices = NoticeCapture()
        /// Statements queued by `sendAhead`, sent in front of the next call's own.
        var ahead: Ahead? = nil
        /// Set when an `Ahead`'s test said no: every call throws `preludeRejected` until the pool takes it back.
        var rejected = false
        /// The outcome of a COMMIT that travelled with a transaction's last statements (`pipelineCommitting`):
        /// `commit` answers with it instead of sending another. Cleared when the pool takes the connection back.
        var committed: Bool? = nil
        /// Round trips to the server since the pool last took the count (`takeRoundTrips`).
        var roundTrips = 0

        init(pointer: OpaquePointer) {
            self.pointer = pointer
            notices.install(on: pointer)
        }

        deinit { PQfinish(pointer) }
    }

    let handle: Lock<Handle>
    /// The server process id of this session (for `pg_terminate_backend`, logs).
    public let backendPID: Int32

    /// A caller-defined label for session state this connection carries, e.g. which tenant a session-level
    /// setting currently holds, so it is sent only when it changes. New connections have none. Callers must clear
    /// it when a statement fails: the server rolls back settings made in a failed transaction.
    public var sessionTag: String? {
        get { handle.withLock { $0.sessionTag } }
        set { handle.withLock { $0.sessionTag = newValue } }
    }

    /// Connects, blocking up to the configuration's connect timeout.
    public init(configuration: PostgresConfiguration) throws(PostgresError) {
        let parameters = configuration.connectionParameters + [("client_encoding", "UTF8")]
        let pointer = Self.connect(parameters)
        guard let pointer else {
            throw PostgresError(.connectionFailed, context: "connect: out of memory")
        }
        guard PQstatus(pointer) == CONNECTION_OK else {
            let message = Self.errorMessage(pointer)
            PQfinish(pointer)
            throw PostgresError(.connectionFailed, context: "connect", serverMessage: message)
        }
        // libpq's default notice processor prints to stderr; notices (and the server's FATAL message on an idle
        // connection being terminated) may quote data, so none is printed: `Handle` installs a receiver that
        // keeps only the SQLSTATE of warnings during COMMIT, and only while one runs.
        self.backendPID = PQbackendPID(pointer)
        self.handle = Lock(Handle(pointer: pointer))
    }

    private static func connect(_ parameters: [(keyword: String, value: String)]) -> OpaquePointer? {
        // C strings live only for the duration of PQconnectdbParams.
        var keywords: [UnsafeMutablePointer<CChar>?] = parameters.map { strdup($0.keyword) }
        var values: [UnsafeMutablePointer<CChar>?] = parameters.map { strdup($0.value) }
        keywords.append(nil)
        values.append(nil)
        defer {
            for pointer in keywords { free(pointer) }
            for pointer in values { free(pointer) }
        }
        return keywords.withUnsafeBufferPointer { keywords in
            values.withUnsafeBufferPointer { values in
                keywords.withMemoryRebound(to: UnsafePointer<CChar>?.self) { keywords in
                    values.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                        PQconnectdbParams(keywords.baseAddress, values.baseAddress, 0)
                    }
                }
            }
        }
    }

    static func errorMessage(_ pointer: OpaquePointer) -> String? {
        guard let message = PQerrorMessage(pointer), message.pointee != 0 else { return nil }
        return String(cString: message)
    }

    /// True once the connection failed or was closed by the server; a broken connection never recovers.
    public var isBroken: Bool {
        handle.withLock { $0.broken || PQstatus($0.pointer) != CONNECTION_OK }
    }

    /// Whether the session is idle, inside a transaction block, or inside a failed one.
    var transactionStatus: PGTransactionStatusType {
        handle.withLock { PQtransactionStatus($0.pointer) }
    }

    /// Checks an idle connection without a round trip: when the server restarts or terminates the
    /// backend it sends an error and closes the socket, which shows up as readable input.
    func isHealthyWhileIdle() -> Bool {
        handle.withLock { handle in
            guard !handle.broken, PQstatus(handle.pointer) == CONNECTION_OK else { return false }
            let socket = PQsocket(handle.pointer)
            guard socket >= 0 else { return false }
            // The server's goodbye is a message followed by EOF; libpq notices the EOF only on a
            // later read, so keep reading while input is pending.
            for _ in 0..<4 {
                var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
                guard poll(&descriptor, 1, 0) > 0 else { break }
                if PQconsumeInput(handle.pointer) == 0 {
                    handle.broken = true
                    return false
                }
            }
            return PQstatus(handle.pointer) == CONNECTION_OK
        }
    }

    /// Statements queued by `sendAhead`.
    struct Ahead {
        let statements: [PostgresStatement]
        let buffers: [ParameterBuffer]
        /// SQLSTATEs that mean "did not hold" when one of these statements fails with it.
        let rejectedBy: Set<String>
    }

    /// Queues `statements` to go out in front of the next call on this connection, in that call's round trip
    /// (statements already queued stay in front): a transaction's BEGIN and checks when the caller can predict them
    /// (from a cache), or statements whose results nobody reads. They cost no round trip of their own. The server is
    /// the judge: they hold unless one of them fails. Failing with an SQLSTATE in `rejectedBy` (a check made in SQL,
    /// e.g. a PL/pgSQL guard raising its own code) means they did not hold: that call and every later one, COMMIT
    /// included, throw `preludeRejected` until the connection goes back to its pool (which rolls back), so what ran
    /// after them can never be committed, even if a caller swallows the error. Any other failure is that statement's
    /// own error, thrown by the next call. Because a failure stops the pipeline before anything behind it, they may
    /// travel with a COMMIT (`pipelineCommitting`).
    public func sendAhead(_ statements: [PostgresStatement], rejectedBy: Set<String>) throws(PostgresError) {
        let buffers = try Handle.buffers(statements)
        try handle.withLock { handle throws(PostgresError) in
            // Nothing may be queued once COMMIT went out: it would be dropped, or run outside the transaction.
            if handle.committed != nil {
                throw PostgresError(.protocolViolation, context: "a statement queued after the transaction committed with its last statements")
            }
            guard let earlier = handle.ahead else {
                handle.ahead = Ahead(statements: statements, buffers: buffers, rejectedBy: rejectedBy)
                return
            }
            // Queued behind what is already waiting.
            handle.ahead = Ahead(statements: earlier.statements + statements, buffers: earlier.buffers + buffers,
                                 rejectedBy: earlier.rejectedBy.union(rejectedBy))
        }
    }

    /// Sends what `sendAhead` queued, alone (nothing when nothing is queued): for a caller about to answer from what
    /// it assumed the queued statements would do, e.g. an error decided before any statement.
    public func flushAhead() throws(PostgresError) {
        try handle.withLock { handle throws(PostgresError) in _ = try handle.sendAheadFirst([], []) }
    }

    /// The round trips this connection made since the last call (for the pool's count; resets it).
    func takeRoundTrips() -> Int {
        handle.withLock { handle in
            defer { handle.roundTrips = 0 }
            return handle.roundTrips
        }
    }

    /// Prepares a connection to go back to a pool: rolls back a transaction left open by the last
    /// user. False when the connection cannot be reused (broken, or a command still running).
    func resetForReuse() -> Bool {
        // Statements queued and never sent began nothing; a rejected prelude's transaction is rolled back below.
        handle.withLock { handle in
            handle.ahead = nil
            handle.rejected = false
            handle.committed = nil
        }
        if isBroken { return false }
        switch transactionStatus {
        case PQTRANS_IDLE:
            return true
        case PQTRANS_INTRANS, PQTRANS_INERROR:
            do {
                try executeScript("ROLLBACK")
            } catch {
                return false
            }
            return !isBroken
        default:
            return false
        }
    }

    // MARK: Queries

    /// Runs one statement with parameters (extended protocol: a single statement, values never
    /// spliced into the SQL) and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) throws(PostgresError) -> PostgresResult {
        let buffer = try ParameterBuffer(parameters)
        return try handle.withLock { handle throws(PostgresError) in
            if let own = try handle.sendAheadFirst([.sql(sql, parameters)], [buffer]) { return own[0] }
            let result = buffer.withPointers { types, values, lengths, formats in
                PQexecParams(handle.pointer, sql, Int32(buffer.count), types, values, lengths, formats, 0)
            }
            handle.roundTrips += 1
            return try handle.check(result, context: "query")
        }
    }

    /// Runs a prepared statement, preparing it on this connection first if needed.
    @discardableResult
    public func query(_ statement: PreparedStatement, _ parameters: [PostgresValue] = []) throws(PostgresError)
        -> PostgresResult
    {
        let buffer = try ParameterBuffer(parameters)
        return try handle.withLock { handle throws(PostgresError) in
            if let own = try handle.sendAheadFirst([.prepared(statement, parameters)], [buffer]) { return own[0] }
            do throws(PostgresError) {
                return try handle.runPrepared(statement, buffer)
            } catch {
                // Someone ran DEALLOCATE/DISCARD on this session: forget and prepare again once.
                guard error.sqlState == "26000" else { throw error }
                handle.prepared[statement.name] = nil
                return try handle.runPrepared(statement, buffer)
            }
        }
    }

    /// Runs one statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [PostgresValue] = []) throws(PostgresError) -> Int {
        try query(sql, parameters).affectedRows
    }

    /// Runs a prepared statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ statement: PreparedStatement, _ parameters: [PostgresValue] = []) throws(PostgresError)
        -> Int
    {
        try query(statement, parameters).affectedRows
    }

    /// Runs a script of several statements with the simple protocol (no parameters): for migrations
    /// and fixed DDL only, never for SQL that contains values.
    public func executeScript(_ sql: String) throws(PostgresError) {
        try handle.withLock { handle throws(PostgresError) in
            _ = try handle.sendAheadFirst([], [])
            // PQexec returns only the last result; an earlier failure stops the script and is returned.
            handle.roundTrips += 1
            _ = try handle.check(PQexec(handle.pointer, sql), context: "script")
        }
    }

    /// Sends several statements in one round trip (libpq pipeline mode) and returns one result per
    /// statement. Outside an explicit transaction they run in one implicit transaction, so
    /// `set_config(…, true)` in the first statement scopes the ones after it. If a statement fails,
    /// the rest are skipped and the first error is thrown. Meant for a few small statements: the
    /// connection is in blocking mode, so very large pipelines could stall on full socket buffers.
    public func pipeline(_ statements: [PostgresStatement]) throws(PostgresError) -> [PostgresResult] {
        let buffers = try Handle.buffers(statements)
        return try handle.withLock { handle throws(PostgresError) in
            if let own = try handle.sendAheadFirst(statements, buffers) { return own }
            return try handle.runPipeline(statements, buffers)
        }
    }

    /// `pipeline` plus COMMIT in the same round trip, for a transaction's last statements (its caller must send
    /// nothing more in it; `commit` then answers with this COMMIT's outcome without a round trip). If a statement
    /// fails (a statement queued by `sendAhead` included), the pipeline stops there and COMMIT never runs (the error
    /// is thrown; the pool rolls back). A COMMIT the synchronous standby did not confirm throws `commitUnconfirmed`,
    /// as `commit` does.
    public func pipelineCommitting(_ statements: [PostgresStatement]) throws(PostgresError) -> [PostgresResult] {
        var buffers = try Handle.buffers(statements)
        buffers.append(try ParameterBuffer([]))
        return try handle.withLock { handle throws(PostgresError) -> [PostgresResult] in
            let all = statements + [.sql("COMMIT")]
            // Warnings of the whole pipeline are watched, not only COMMIT's: none of our statements, triggers or
            // functions raise a WARNING, and one that did would make a confirmed commit answer 503 (the safe side).
            let results = try handle.committing { handle throws(PostgresError) in
                if let results = try handle.sendAheadFirst(all, buffers) { return results }
                return try handle.runPipeline(all, buffers)
            }
            handle.committed = results.last?.commandTag == "COMMIT"
            return Array(results.dropLast())
        }
    }

    // MARK: Transactions

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws (the error is
    /// rethrown). Inside an enclosing transaction it uses a savepoint instead.
    ///
    /// `setup` statements run first, sent in the same round trip as BEGIN (pipeline mode): e.g.
    /// `.prepared(setTenant, [tenantID])` scopes row-level security without an extra round trip.
    @discardableResult
    public func transaction<R>(
        isolation: IsolationLevel? = nil, readOnly: Bool = false, setup: [PostgresStatement] = [],
        _ body: (PostgresConnection) throws -> R
    ) throws -> R {
        try handle.withLock { handle throws(PostgresError) in _ = try handle.sendAheadFirst([], []) }
        let nested = transactionStatus != PQTRANS_IDLE
        let rollback = nested ? "ROLLBACK TO SAVEPOINT scim_nested; RELEASE SAVEPOINT scim_nested" : "ROLLBACK"
        let begin: String
        if nested {
            begin = "SAVEPOINT scim_nested"
        } else {
            var text = "BEGIN"
            if let isolation { text += " ISOLATION LEVEL " + isolation.sql }
            if readOnly { text += " READ ONLY" }
            begin = text
        }
        if setup.isEmpty {
            try executeScript(begin)
        } else {
            do {
                _ = try pipeline([.sql(begin)] + setup)
            } catch {
                // BEGIN may have succeeded before a setup statement failed.
                if !isBroken && transactionStatus != PQTRANS_IDLE { try? executeScript(rollback) }
                throw error
            }
        }
        let value: R
        do {
            value = try body(self)
        } catch {
            if !isBroken { try? executeScript(rollback) }
            throw error
        }
        // A statement failed inside `body` and the error was swallowed: COMMIT would silently roll
        // back and report success, so say what really happened.
        if transactionStatus == PQTRANS_INERROR {
            try? executeScript(rollback)
            throw PostgresError(.transactionAborted, context: "a statement failed inside the transaction; rolled back")
        }
        if nested {
            try executeScript("RELEASE SAVEPOINT scim_nested")
        } else if try !commit() {
            throw PostgresError(.transactionAborted, context: "the server rolled the transaction back at COMMIT")
        }
        return value
    }

    /// Ends the open transaction with COMMIT. Returns false when the server rolled it back instead (a statement
    /// in it had failed). Throws `commitUnconfirmed` when COMMIT came back with the server's warning that it
    /// stopped waiting for the synchronous standby: with `synchronous_commit` on and a synchronous standby named
    /// (Patroni's synchronous mode), PostgreSQL reports such a commit as done although it is durable on the
    /// primary only ("canceling wait for synchronous replication": a cancel request, or the backend being
    /// terminated; https://www.postgresql.org/docs/15/warm-standby.html#SYNCHRONOUS-REPLICATION-HA). A write
    /// that a failover could still lose must not be acknowledged, so this is an error like a lost connection.
    @discardableResult
    public func commit() throws(PostgresError) -> Bool {
        try handle.withLock { handle throws(PostgresError) -> Bool in
            // COMMIT already travelled with the transaction's last statements.
            if let outcome = handle.committed {
                handle.committed = nil
                return outcome
            }
            let result = try handle.committing { handle throws(PostgresError) in
                // Queued statements go first, alone (a rejected one throws `preludeRejected` here).
                _ = try handle.sendAheadFirst([], [])
                handle.roundTrips += 1
                return try handle.check(PQexec(handle.pointer, "COMMIT"), context: "commit")
            }
            return result.commandTag == "COMMIT"
        }
    }
}

extension PostgresConnection.Handle {
    /// Runs `body`, which sends a COMMIT, while watching the server's warnings, and throws `commitUnconfirmed` when
    /// one says the commit was not confirmed by the synchronous standby (see `commit`): the cancelled wait is a plain
    /// WARNING (SQLSTATE 01000); a terminated backend's is 57P01 (and the connection then closes). No other warning
    /// comes from our COMMITs (no deferred triggers).
    mutating func committing<R>(_ body: (inout Self) throws(PostgresError) -> R) throws(PostgresError) -> R {
        notices.watch()
        let outcome: Result<R, PostgresError>
        do throws(PostgresError) {
            outcome = .success(try body(&self))
        } catch {
            outcome = .failure(error)
        }
        let warnings = notices.stop()
        let value = try outcome.get()
        if warnings.contains(where: { $0 == nil || $0 == "01000" || $0 == "57P01" }) {
            throw PostgresError(.commitUnconfirmed, context: "commit: the server stopped waiting for the synchronous standby")
        }
        return value
    }

    /// One parameter buffer per statement (encoded before the connection's lock is taken).
    static func buffers(_ statements: [PostgresStatement]) throws(PostgresError) -> [ParameterBuffer] {
        var buffers: [ParameterBuffer] = []
        buffers.reserveCapacity(statements.count + 1)
        for statement in statements {
            switch statement {
            case .sql(_, let parameters), .prepared(_, let parameters):
                buffers.append(try ParameterBuffer(parameters))
            }
        }
        return buffers
    }

    /// Turns a libpq result into a `PostgresResult` or a typed error (clearing the C result).
    mutating func check(_ result: OpaquePointer?, context: String) throws(PostgresError) -> PostgresResult {
        guard let result else {
            throw connectionError(context: context)
        }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(taking: result)
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            let error = serverError(result, context: context)
            PQclear(result)
            throw error
        default:
            // COPY and friends: not supported through this API; the session state is unknown.
            PQclear(result)
            broken = true
            throw PostgresError(.protocolViolation, context: "\(context): unexpected result status")
        }
    }

    /// The error for a call that returned no result: lost connection or out of memory.
    mutating func connectionError(context: String) -> PostgresError {
        if PQstatus(pointer) != CONNECTION_OK {
            broken = true
            return PostgresError(
                .connectionLost, context: context, serverMessage: PostgresConnection.errorMessage(pointer))
        }
        return PostgresError(
            .protocolViolation, context: "\(context): no result", serverMessage: PostgresConnection.errorMessage(pointer))
    }

    /// Whether the server says (ParameterStatus, PostgreSQL 14+) that this session cannot write by default: it is
    /// a hot standby, or `default_transaction_read_only` is on (how an operator or a failover tool fences a
    /// primary).
    var serverTakesNoWrites: Bool {
        func on(_ name: String) -> Bool { PQparameterStatus(pointer, name).map { String(cString: $0) == "on" } ?? false }
        return on("in_hot_standby") || on("default_transaction_read_only")
    }

    /// Reads SQLSTATE, constraint and table from an error result.
    mutating func serverError(_ result: OpaquePointer, context: String) -> PostgresError {
        func field(_ code: UInt8) -> String? {
            guard let value = PQresultErrorField(result, Int32(code)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field(UInt8(ascii: "C"))
        var kind = sqlState.map { PostgresError.Kind.from(sqlState: $0) } ?? .server
        if PQstatus(pointer) != CONNECTION_OK {
            // Whatever the server said last (57P01 admin shutdown, or libpq's own "server closed
            // the connection unexpectedly"), this session is gone.
            broken = true
            kind = .connectionLost
        } else if kind == .connectionLost {
            kind = .server
        } else if sqlState == "25006" && serverTakesNoWrites {
            // A write on a server that is (now) a standby or read-only by default: a failover demoted it under
            // this session. Never usable for writes again: drop it, so the pool's next connection finds the
            // primary (libpq with target_session_attrs=read-write skips this server).
            broken = true
            kind = .readOnlyServer
        }
        return PostgresError(
            kind, context: context, sqlState: sqlState, constraint: field(UInt8(ascii: "n")),
            table: field(UInt8(ascii: "t")), serverMessage: field(UInt8(ascii: "M")))
    }

    mutating func runPrepared(_ statement: PreparedStatement, _ buffer: ParameterBuffer) throws(PostgresError)
        -> PostgresResult
    {
        if let known = prepared[statement.name] {
            precondition(known == statement.sql, "two PreparedStatements share the name \(statement.name)")
        } else {
            let result = buffer.types.withUnsafeBufferPointer { types in
                PQprepare(pointer, statement.name, statement.sql, Int32(buffer.count), types.baseAddress)
            }
            roundTrips += 1
            _ = try check(result, context: "prepare")
            prepared[statement.name] = statement.sql
        }
        let result = buffer.withPointers { _, values, lengths, formats in
            PQexecPrepared(pointer, statement.name, Int32(buffer.count), values, lengths, formats, 0)
        }
        roundTrips += 1
        return try check(result, context: "execute prepared")
    }

    private enum PipelineStep {
        case prepare(name: String, sql: String)
        case statement
    }

    /// The `sendAhead` statements, if any, in front of `statements` in one pipeline: nil when none were queued
    /// (the caller runs its statements itself), else the results of `statements`. Throws `preludeRejected` when a
    /// call comes after a rejected prelude, or when a queued statement fails with one of its `rejectedBy` SQLSTATEs
    /// (any other failure is thrown as that statement's own error).
    mutating func sendAheadFirst(_ statements: [PostgresStatement], _ buffers: [ParameterBuffer]) throws(PostgresError)
        -> [PostgresResult]?
    {
        if rejected { throw PostgresError(.preludeRejected, context: "a statement sent ahead did not hold; roll back") }
        if committed != nil && (ahead != nil || !statements.isEmpty) {
            throw PostgresError(.protocolViolation, context: "a statement after the transaction committed with its last statements")
        }
        guard let ahead else { return nil }
        self.ahead = nil
        let count = ahead.statements.count
        var partial: [PostgresResult] = []
        let all: [PostgresResult]
        do throws(PostgresError) {
            all = try runPipeline(ahead.statements + statements, ahead.buffers + buffers, partial: &partial)
        } catch {
            // A queued statement failed in a way that says it did not hold (a check made in SQL).
            if partial.count < count, let state = error.sqlState, ahead.rejectedBy.contains(state) {
                rejected = true
                throw PostgresError(.preludeRejected, context: "a statement sent ahead did not hold; roll back")
            }
            throw error
        }
        return Array(all.dropFirst(count))
    }

    mutating func runPipeline(_ statements: [PostgresStatement], _ buffers: [ParameterBuffer]) throws(PostgresError)
        -> [PostgresResult]
    {
        var partial: [PostgresResult] = []
        return try runPipeline(statements, buffers, partial: &partial)
    }

    /// `partial`: on return or throw, the results of the statements that succeeded (those before the first error).
    mutating func runPipeline(_ statements: [PostgresStatement], _ buffers: [ParameterBuffer],
                              partial: inout [PostgresResult]) throws(PostgresError) -> [PostgresResult]
    {
        var results: [PostgresResult] = []
        defer { partial = results }
        guard PQenterPipelineMode(pointer) == 1 else {
            throw PostgresError(
                .protocolViolation, context: "pipeline: cannot enter pipeline mode",
                serverMessage: PostgresConnection.errorMessage(pointer))
        }
        var steps: [PipelineStep] = []
        var sendFailed = false
        var preparing: Set<String> = []
        sending: for (statement, buffer) in zip(statements, buffers) {
            let sent: Int32
            switch statement {
            case .sql(let sql, _):
                sent = buffer.withPointers { types, values, lengths, formats in
                    PQsendQueryParams(pointer, sql, Int32(buffer.count), types, values, lengths, formats, 0)
                }
            case .prepared(let prepared, _):
                if let known = self.prepared[prepared.name] {
                    precondition(known == prepared.sql, "two PreparedStatements share the name \(prepared.name)")
                } else if !preparing.contains(prepared.name) {
                    let ok = buffer.types.withUnsafeBufferPointer { types in
                        PQsendPrepare(pointer, prepared.name, prepared.sql, Int32(buffer.count), types.baseAddress)
                    }
                    guard ok == 1 else {
                        sendFailed = true
                        break sending
                    }
                    preparing.insert(prepared.name)
                    steps.append(.prepare(name: prepared.name, sql: prepared.sql))
                }
                sent = buffer.withPointers { _, values, lengths, formats in
                    PQsendQueryPrepared(pointer, prepared.name, Int32(buffer.count), values, lengths, formats, 0)
                }
            }
            guard sent == 1 else {
                sendFailed = true
                break sending
            }
            steps.append(.statement)
        }
        roundTrips += 1
        if sendFailed || PQpipelineSync(pointer) != 1 {
            // Nothing sensible can be read back from a half-sent pipeline: drop the session.
            broken = true
            throw connectionError(context: "pipeline send")
        }

        results.reserveCapacity(statements.count)
        var firstError: PostgresError? = nil
        for step in steps {
            guard let result = PQgetResult(pointer) else {
                broken = true
                throw connectionError(context: "pipeline")
            }
            switch PQresultStatus(result) {
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                switch step {
                case .prepare(let name, let sql):
                    PQclear(result)
                    prepared[name] = sql
                case .statement:
                    results.append(PostgresResult(taking: result))
                }
            case PGRES_PIPELINE_ABORTED:
                PQclear(result)
            case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
                if firstError == nil { firstError = serverError(result, context: "pipeline") }
                PQclear(result)
            default:
                PQclear(result)
                broken = true
                throw PostgresError(.protocolViolation, context: "pipeline: unexpected result status")
            }
            // Each command's results end with a NULL from PQgetResult.
            if let extra = PQgetResult(pointer) {
                PQclear(extra)
                broken = true
                throw PostgresError(.protocolViolation, context: "pipeline: more than one result for a statement")
            }
            if broken { throw firstError ?? connectionError(context: "pipeline") }
        }
        guard let sync = PQgetResult(pointer) else {
            broken = true
            throw connectionError(context: "pipeline sync")
        }
        let syncStatus = PQresultStatus(sync)
        if syncStatus != PGRES_PIPELINE_SYNC {
            // The server went away at the sync (a restart's shutdown, a terminated backend): report what it said, or
            // the lost connection, so callers see a transient error rather than a protocol violation.
            let error = syncStatus == PGRES_FATAL_ERROR ? serverError(sync, context: "pipeline sync") : nil
            PQclear(sync)
            broken = true
            throw firstError ?? error ?? connectionError(context: "pipeline sync")
        }
        PQclear(sync)
        guard PQexitPipelineMode(pointer) == 1 else {
            broken = true
            throw PostgresError(.protocolViolation, context: "pipeline: could not leave pipeline mode")
        }
        if let firstError { throw firstError }
        return results
    }
}
