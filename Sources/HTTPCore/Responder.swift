/// Answers requests synchronously. The server runs it on one of its worker threads, which it holds until the
/// answer is returned: fine for work that is mostly CPU or a local database (the region, the admin API). Must not
/// trap.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse
}

/// Answers requests now or later, from any thread, without holding a server thread while it waits (the gateway's
/// proxy path: a request parked on a hung region costs a connection record, not a thread). `respond` must call
/// `reply.send` exactly once, before or after it returns; later calls are ignored. Must not block.
public protocol DeferredHTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext, reply: any HTTPReply)
}

/// Where a deferred answer goes. The first `send` wins; the connection may already be gone (then it is dropped).
public protocol HTTPReply: Sendable {
    func send(_ response: HTTPResponse)
}

/// What the server knows about a request besides its bytes.
public struct RequestContext: Sendable {
    /// Peer IP address (no port).
    public var remoteAddress: String
    public var connectionID: UInt64
    public var isTLS: Bool
    /// Monotonic nanoseconds at which the request was complete.
    public var receivedAtNanos: UInt64
    public init(remoteAddress: String, connectionID: UInt64, isTLS: Bool, receivedAtNanos: UInt64) {
        self.remoteAddress = remoteAddress
        self.connectionID = connectionID
        self.isTLS = isTLS
        self.receivedAtNanos = receivedAtNanos
    }
}
