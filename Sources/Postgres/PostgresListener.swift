import CLibPQ
import Glibc
import Synchronization
import Locking

/// LISTENs on channels over a dedicated connection and delivers notifications on its own thread.
///
/// The thread blocks in `poll()` on the connection socket and a stop pipe. After losing the
/// connection it reconnects with exponential backoff, LISTENs again and calls `onReconnect`:
/// notifications sent while it was disconnected are lost, so callers flush their caches there.
/// Send notifications with `SELECT pg_notify($1, $2)` on any connection.
public final class PostgresListener: Sendable {
    private struct State: Sendable {
        var thread: pthread_t? = nil
        var stopping = false
        var listening = false
        var backendPID: Int32? = nil
        var sessions = 0
    }

    private let configuration: PostgresConfiguration
    private let channels: [String]
    private let initialBackoff: Duration
    private let maximumBackoff: Duration
    private let healthCheckInterval: Duration
    private let onNotification: @Sendable (PostgresNotification) -> Void
    private let onReconnect: @Sendable () -> Void
    private let state = Lock(State())
    /// Writing a byte to `stopPipe.write` wakes the thread from any poll() for good.
    private let stopPipe: (read: Int32, write: Int32)

    /// A listener (not yet started). `onNotification` and `onReconnect` run on the listener thread:
    /// keep them short. `onReconnect` runs whenever LISTEN is established after a lost connection
    /// or after failed first attempts, not on a first attempt that succeeds.
    public init(
        configuration: PostgresConfiguration, channels: [String],
        initialBackoff: Duration = .milliseconds(50), maximumBackoff: Duration = .seconds(5),
        healthCheckInterval: Duration = .seconds(15),
        onReconnect: @escaping @Sendable () -> Void = {},
        onNotification: @escaping @Sendable (PostgresNotification) -> Void
    ) {
        precondition(!channels.isEmpty, "a listener needs at least one channel")
        var applicationConfiguration = configuration
        if applicationConfiguration.applicationName == nil { applicationConfiguration.applicationName = "scim-listener" }
        self.configuration = applicationConfiguration
        self.channels = channels
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.healthCheckInterval = healthCheckInterval
        self.onNotification = onNotification
        self.onReconnect = onReconnect
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0, "pipe failed")
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        self.stopPipe = (fds[0], fds[1])
    }

    deinit {
        close(stopPipe.read)
        close(stopPipe.write)
    }

    /// True while a LISTEN session is established.
    public var isListening: Bool { state.withLock { $0.listening } }

    /// The server process id of the current LISTEN session, if connected.
    public var backendPID: Int32? { state.withLock { $0.backendPID } }

    /// How many LISTEN sessions were established so far (1 + reconnects).
    public var sessionCount: Int { state.withLock { $0.sessions } }

    /// Starts the listener thread (once).
    public func start() {
        state.withLock { state in
            precondition(state.thread == nil && !state.stopping, "listener already started")
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            let status = pthread_create(&thread, nil, listenerThreadMain, context)
            precondition(status == 0, "pthread_create failed")
            state.thread = thread
        }
    }

    /// Stops the thread and waits for it to finish (closes the connection).
    public func stop() {
        let thread = state.withLock { state -> pthread_t? in
            state.stopping = true
            defer { state.thread = nil }
            return state.thread
        }
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
        guard let thread else { return }
        // stop() called from a handler runs on the listener thread itself: it must not join itself.
        if pthread_equal(thread, pthread_self()) != 0 {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
    }

    /// Blocks until the first LISTEN session is up or `timeout` passes; true if listening.
    public func waitUntilListening(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isListening { return true }
            _ = waitForStop(milliseconds: 5)
        }
        return isListening
    }

    // MARK: Thread

    fileprivate func run() {
        var backoff = initialBackoff
        var needsReconnectCallback = false
        while !state.withLock({ $0.stopping }) {
            do throws(PostgresError) {
                let connection = try PostgresConnection(configuration: configuration)
                for channel in channels {
                    guard let quoted = connection.quoteIdentifier(channel) else {
                        throw PostgresError(.invalidParameter, context: "listen: channel name cannot be quoted")
                    }
                    try connection.executeScript("LISTEN " + quoted)
                }
                state.withLock { state in
                    state.listening = true
                    state.backendPID = connection.backendPID
                    state.sessions += 1
                }
                backoff = initialBackoff
                if needsReconnectCallback { onReconnect() }
                needsReconnectCallback = true
                try serve(connection)
                state.withLock { $0.listening = false; $0.backendPID = nil }
                return  // serve returns only when stopping
            } catch {
                state.withLock { $0.listening = false; $0.backendPID = nil }
                needsReconnectCallback = true
                if waitForStop(milliseconds: backoff.milliseconds) { return }
                backoff = min(backoff * 2, maximumBackoff)
            }
        }
    }

    /// Delivers notifications until stopped (returns) or the connection fails (throws).
    private func serve(_ connection: PostgresConnection) throws(PostgresError) {
        deliver(connection.takeNotifications())  // any that arrived with the LISTEN replies
        let socket = connection.socket
        guard socket >= 0 else { throw PostgresError(.connectionLost, context: "listen: no socket") }
        var descriptors = [
            pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0),
        ]
        let timeout = Int32(clamping: healthCheckInterval.milliseconds)
        while true {
            descriptors[0].revents = 0
            descriptors[1].revents = 0
            let ready = poll(&descriptors, 2, timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                throw PostgresError(.connectionLost, context: "listen: poll failed")
            }
            if descriptors[1].revents != 0 { return }
            if ready == 0 {
                // Quiet for a while: a round trip proves the connection (and the server) is still there.
                try connection.executeScript("SELECT 1")
            } else {
                try connection.consumeInput()
            }
            deliver(connection.takeNotifications())
        }
    }

    private func deliver(_ notifications: [PostgresNotification]) {
        for notification in notifications { onNotification(notification) }
    }

    /// Sleeps up to `milliseconds`; true if stop was requested.
    private func waitForStop(milliseconds: Int) -> Bool {
        var descriptor = pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, Int32(clamping: milliseconds)) > 0
    }
}

private func listenerThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let listener = Unmanaged<PostgresListener>.fromOpaque(context!).takeRetainedValue()
    listener.run()
    return nil
}

extension Duration {
    /// Whole milliseconds (negative durations count as 0).
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (millis, overflow) = seconds.multipliedReportingOverflow(by: 1_000)
        return overflow ? Int.max : Int(millis) + Int(attoseconds / 1_000_000_000_000_000)
    }
}

extension PostgresConnection {
    /// Sends a notification (`SELECT pg_notify($1, $2)`): delivered to listeners when the current
    /// transaction commits, or at once outside a transaction.
    public func notify(channel: String, payload: String = "") throws(PostgresError) {
        try query(Self.notifyStatement, [.text(channel), .text(payload)])
    }

    private static let notifyStatement = PreparedStatement(name: "scim_pg_notify", sql: "SELECT pg_notify($1, $2)")

    /// The connection's socket descriptor (-1 if none).
    var socket: Int32 { handle.withLock { PQsocket($0.pointer) } }

    /// Reads whatever the server sent; throws `connectionLost` at EOF or on a socket error.
    func consumeInput() throws(PostgresError) {
        try handle.withLock { handle throws(PostgresError) in
            if PQconsumeInput(handle.pointer) == 0 || PQstatus(handle.pointer) != CONNECTION_OK {
                throw handle.connectionError(context: "listen")
            }
        }
    }

    /// Notifications libpq has queued so far.
    func takeNotifications() -> [PostgresNotification] {
        handle.withLock { handle in
            var notifications: [PostgresNotification] = []
            while let notify = PQnotifies(handle.pointer) {
                notifications.append(
                    PostgresNotification(
                        channel: String(cString: notify.pointee.relname),
                        payload: notify.pointee.extra.map { String(cString: $0) } ?? "",
                        senderPID: notify.pointee.be_pid))
                PQfreemem(notify)
            }
            return notifications
        }
    }

    /// `"name"` with quotes doubled, via libpq (LISTEN takes no parameters).
    func quoteIdentifier(_ name: String) -> String? {
        handle.withLock { handle in
            let utf8 = Array(name.utf8)
            guard !utf8.contains(0) else { return nil }
            return utf8.withUnsafeBufferPointer { bytes -> String? in
                bytes.withMemoryRebound(to: CChar.self) { chars -> String? in
                    guard let quoted = PQescapeIdentifier(handle.pointer, chars.baseAddress, chars.count) else {
                        return nil
                    }
                    defer { PQfreemem(quoted) }
                    return String(cString: quoted)
                }
            }
        }
    }
}
