/// An error from the PostgreSQL wrapper: connection, server, pool or migration.
///
/// `description` never contains SQL text or data values, so the error can be logged or wrapped into
/// an HTTP 5xx without leaking anything: it names the kind, the SQLSTATE and schema object names
/// (constraint, table) only. The server's own message can embed values (`invalid input syntax for
/// type uuid: "…"`) and is kept apart in `serverMessageForLogs`.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a closed set of cases callers branch on.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Sendable, Hashable {
            case invalidConfiguration
            case connectionFailed
            case connectionLost
            case uniqueViolation
            case foreignKeyViolation
            case notNullViolation
            case checkViolation
            case serializationFailure
            case deadlock
            case queryCanceled
            case transactionAborted
            case invalidParameter
            case protocolViolation
            case poolTimeout
            case poolClosed
            case migrationRefused
            case readOnlyServer
            case commitUnconfirmed
            case preludeRejected
            case server
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The configuration string could not be parsed.
        public static let invalidConfiguration = Kind(.invalidConfiguration)
        /// Connecting failed (server down, refused, authentication, too many connections).
        public static let connectionFailed = Kind(.connectionFailed)
        /// An established connection broke (server restart, terminated backend, network).
        public static let connectionLost = Kind(.connectionLost)
        /// SQLSTATE 23505; `constraint` names the unique index or constraint.
        public static let uniqueViolation = Kind(.uniqueViolation)
        /// SQLSTATE 23503; `constraint` names the foreign key.
        public static let foreignKeyViolation = Kind(.foreignKeyViolation)
        /// SQLSTATE 23502.
        public static let notNullViolation = Kind(.notNullViolation)
        /// SQLSTATE 23514; `constraint` names the check.
        public static let checkViolation = Kind(.checkViolation)
        /// SQLSTATE 40001: retry the whole transaction.
        public static let serializationFailure = Kind(.serializationFailure)
        /// SQLSTATE 40P01: retry the whole transaction.
        public static let deadlock = Kind(.deadlock)
        /// SQLSTATE 57014 (statement timeout or cancel request).
        public static let queryCanceled = Kind(.queryCanceled)
        /// COMMIT reached a transaction that had already failed: nothing was written.
        public static let transactionAborted = Kind(.transactionAborted)
        /// A parameter value cannot be sent (e.g. text containing a NUL byte).
        public static let invalidParameter = Kind(.invalidParameter)
        /// libpq returned something this wrapper did not expect.
        public static let protocolViolation = Kind(.protocolViolation)
        /// No pooled connection became free before the checkout deadline.
        public static let poolTimeout = Kind(.poolTimeout)
        /// The pool was closed.
        public static let poolClosed = Kind(.poolClosed)
        /// The migrator refused to run (unknown newer version, checksum mismatch, bad list).
        public static let migrationRefused = Kind(.migrationRefused)
        /// SQLSTATE 25006 on a server that takes no writes now (a standby, or a primary being demoted during a
        /// failover): the connection is dropped, and the next one goes to whichever server is primary.
        public static let readOnlyServer = Kind(.readOnlyServer)
        /// COMMIT returned, but the server warned that it stopped waiting for the synchronous standby (the wait was
        /// cancelled, or the backend is being terminated): the transaction is committed on the primary only and may
        /// be lost in a failover. Never report such a write as done.
        public static let commitUnconfirmed = Kind(.commitUnconfirmed)
        /// The statements queued with `PostgresConnection.sendAhead` did not hold what the caller assumed: nothing
        /// of the transaction may be committed; roll back and start over without the assumption.
        public static let preludeRejected = Kind(.preludeRejected)
        /// Any other server error; see `sqlState`.
        public static let server = Kind(.server)

        public var description: String {
            switch base {
            case .invalidConfiguration: "invalidConfiguration"
            case .connectionFailed: "connectionFailed"
            case .connectionLost: "connectionLost"
            case .uniqueViolation: "uniqueViolation"
            case .foreignKeyViolation: "foreignKeyViolation"
            case .notNullViolation: "notNullViolation"
            case .checkViolation: "checkViolation"
            case .serializationFailure: "serializationFailure"
            case .deadlock: "deadlock"
            case .queryCanceled: "queryCanceled"
            case .transactionAborted: "transactionAborted"
            case .invalidParameter: "invalidParameter"
            case .protocolViolation: "protocolViolation"
            case .poolTimeout: "poolTimeout"
            case .poolClosed: "poolClosed"
            case .migrationRefused: "migrationRefused"
            case .readOnlyServer: "readOnlyServer"
            case .commitUnconfirmed: "commitUnconfirmed"
            case .preludeRejected: "preludeRejected"
            case .server: "server"
            }
        }

        /// Maps a server SQLSTATE to a kind (connection state decides `connectionLost` separately).
        static func from(sqlState: String) -> Kind {
            switch sqlState {
            case "23505": .uniqueViolation
            case "23503": .foreignKeyViolation
            case "23502": .notNullViolation
            case "23514": .checkViolation
            case "40001": .serializationFailure
            case "40P01": .deadlock
            case "57014": .queryCanceled
            case "57P01", "57P02", "57P03": .connectionLost
            default: sqlState.hasPrefix("08") ? .connectionLost : .server
            }
        }
    }

    /// What went wrong.
    public let kind: Kind
    /// The five-character SQLSTATE when the server sent one.
    public let sqlState: String?
    /// The constraint the server named (unique index, foreign key, check), if any.
    public let constraint: String?
    /// The table the server named, if any.
    public let table: String?
    /// A fixed phrase written by this module (never SQL, never data), e.g. "connect" or
    /// "checksum mismatch for applied migration 3".
    public let context: String
    /// The server's or libpq's primary message. MAY CONTAIN DATA VALUES AND SQL FRAGMENTS:
    /// log it only at debug level and never return it to an HTTP client. Not part of `description`.
    public let serverMessageForLogs: String?

    init(
        _ kind: Kind, context: String, sqlState: String? = nil, constraint: String? = nil,
        table: String? = nil, serverMessage: String? = nil
    ) {
        self.kind = kind
        self.context = context
        self.sqlState = sqlState
        self.constraint = constraint
        self.table = table
        self.serverMessageForLogs = serverMessage
    }

    /// True when retrying later can succeed: lost or refused connections, server shutdown or startup, a server
    /// that takes no writes (failover), a commit not confirmed by the synchronous standby, serialization failures
    /// and deadlocks, and pool exhaustion. Callers answer 503 + Retry-After.
    public var isTransient: Bool {
        if kind == .connectionFailed || kind == .connectionLost || kind == .serializationFailure
            || kind == .deadlock || kind == .poolTimeout || kind == .readOnlyServer || kind == .commitUnconfirmed
        {
            return true
        }
        guard let sqlState else { return false }
        // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now;
        // 53300: too many connections.
        return sqlState.hasPrefix("08") || sqlState == "57P01" || sqlState == "57P02" || sqlState == "57P03"
            || sqlState == "53300"
    }

    public var description: String {
        var text = "PostgresError(\(kind), \(context)"
        if let sqlState { text += ", sqlState: \(sqlState)" }
        if let constraint { text += ", constraint: \(constraint)" }
        if let table { text += ", table: \(table)" }
        return text + ")"
    }

    static func poolTimeout() -> PostgresError {
        PostgresError(.poolTimeout, context: "no connection became free before the checkout deadline")
    }

    static func poolClosed() -> PostgresError {
        PostgresError(.poolClosed, context: "pool is closed")
    }

    static func invalidParameter(index: Int) -> PostgresError {
        PostgresError(.invalidParameter, context: "text parameter $\(index + 1) contains a NUL byte")
    }

    static func migrationRefused(_ reason: String) -> PostgresError {
        PostgresError(.migrationRefused, context: reason)
    }
}
