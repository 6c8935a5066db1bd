#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
import HTTPCore
import Telemetry
import Locking
import Lifecycle

// The server's concurrency model (why it looks like this):
//
// N worker threads all wait in `epoll_wait` on one epoll set in which every connection is registered with
// EPOLLONESHOT. The kernel hands a ready connection to exactly one worker, which then owns it: it reads, parses,
// runs the handler (which may block on PostgreSQL or an upstream), writes the response and re-arms the
// connection. No thread hand-off happens on the request path, so a request costs no extra context switches,
// and a slow handler holds only its own worker: every other worker keeps serving the other connections.
// Idle keep-alive connections hold no thread. A housekeeping thread enforces timeouts and runs shutdown.
//
// Ownership is explicit: a connection is touched only by the thread that holds its claim (`Connection.claim`).
// Re-arming happens under the claim lock, so an event cannot fire for a connection that is still owned and be
// lost; an event that arrives while the housekeeper holds the claim is remembered and re-armed on release.
//
// Deferred answers (the gateway's proxy path, `DeferredHTTPResponder`): the worker runs the handler, which starts
// the upstream exchange and returns at once; the worker then *parks* the connection (not owned, not armed: it
// reads nothing more until answered) and goes back to epoll. Whoever calls `reply.send` later — an upstream loop
// thread, a timer — claims the parked connection, writes the answer, serves any pipelined request behind it and
// re-arms it, exactly as a worker would. An answer that arrives before the worker has parked the connection is
// left in the claim (`early`) and the worker writes it itself. So a request waiting on a slow region holds a
// connection record and no thread.

/// One client connection.
final class Connection: @unchecked Sendable {
    // @unchecked: every mutable field below is accessed only by the thread holding the claim, and claiming and
    // releasing go through `claim`, a Mutex (see the model above).
    let fd: Int32
    let key: UInt64
    let remoteAddress: String
    let tls: TLSSession?
    var parser: RequestParser
    var writeBuffer: [UInt8] = []
    var writeOffset = 0
    var closeAfterWrite = false
    var peerClosed = false
    /// TLS needs the socket writable before it can go on reading.
    var readWantsWrite = false
    var lastActivity: UInt64
    var lastWriteProgress: UInt64 = 0
    /// When the first byte of an incomplete request arrived (nil when idle between requests).
    var requestStartedAt: UInt64? = nil

    struct ClaimState {
        var owned = false
        var closed = false
        /// An epoll event was delivered while the claim was held by the housekeeper (so it was not re-armed).
        var eventMissed = false
        /// Waiting for a deferred answer: nobody owns the connection and epoll does not watch it.
        var parked = false
        /// A deferred answer that came while the handling worker still owned the connection.
        var early: HTTPResponse? = nil
    }
    let claim = Lock<ClaimState>(ClaimState())

    init(fd: Int32, key: UInt64, remoteAddress: String, tls: TLSSession?, limits: HTTPLimits, now: UInt64) {
        self.fd = fd
        self.key = key
        self.remoteAddress = remoteAddress
        self.tls = tls
        self.parser = RequestParser(limits: limits)
        self.lastActivity = now
        if tls != nil { requestStartedAt = now }  // the handshake counts against the request timeout
    }

    var writeRemaining: Int { writeBuffer.count - writeOffset }
}

extension Connection: TableEntry {}
