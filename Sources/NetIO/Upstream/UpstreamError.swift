/// Why an upstream exchange failed.
public struct UpstreamError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The bulkhead is full (in-flight cap and queue): refused without trying.
        case overloaded
        /// Waited in the queue past `queueTimeout`: never sent.
        case queueTimeout
        /// Nothing accepted the connection (refused, unreachable).
        case connectFailed
        case connectTimeout
        /// Sent, and no answer began within `firstByteTimeout`.
        case firstByteTimeout
        /// The answer did not complete within `totalTimeout`.
        case totalTimeout
        /// The connection broke before a complete answer.
        case connectionClosed
        /// The upstream answered something that is not HTTP/1.1.
        case protocolError
        /// The loop is stopping.
        case shuttingDown
    }
    public var kind: Kind
    /// Whether the upstream may have received the request (and acted on it): false only when it certainly did not.
    public var mayHaveReached: Bool
    public var upstream: String

    public var description: String { "upstream \(upstream): \(kind.rawValue)" }
}
