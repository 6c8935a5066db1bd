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
