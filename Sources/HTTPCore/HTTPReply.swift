/// Where a deferred answer goes. The first `send` wins; the connection may already be gone (then it is dropped).
public protocol HTTPReply: Sendable {
    func send(_ response: HTTPResponse)
}
