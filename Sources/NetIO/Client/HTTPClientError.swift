/// Why an upstream call failed. `description` names the upstream and the cause, never request data.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Nothing listens there, or it could not be reached within the connect timeout.
        case connectFailed
        /// No complete response within the deadline.
        case timeout
        /// The connection broke before a complete response arrived.
        case connectionClosed
        /// The upstream answered something that is not HTTP/1.1.
        case protocolError
        /// The TLS handshake failed (certificate not trusted, wrong host name, no common protocol) or TLS is
        /// misconfigured here.
        case tlsFailed
    }
    public var kind: Kind
    public var upstream: String
    public var detail: String

    public var description: String {
        switch kind {
        case .connectFailed: "upstream \(upstream) unreachable: \(detail)"
        case .timeout: "upstream \(upstream) timed out: \(detail)"
        case .connectionClosed: "upstream \(upstream) closed the connection: \(detail)"
        case .protocolError: "upstream \(upstream) sent an invalid response: \(detail)"
        case .tlsFailed: "upstream \(upstream) TLS failed: \(detail)"
        }
    }
}
