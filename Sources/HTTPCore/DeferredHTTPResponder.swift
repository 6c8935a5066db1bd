/// Answers requests now or later, from any thread, without holding a server thread while it waits (the gateway's
/// proxy path: a request parked on a hung region costs a connection record, not a thread). `respond` must call
/// `reply.send` exactly once, before or after it returns; later calls are ignored. Must not block.
public protocol DeferredHTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext, reply: any HTTPReply)
}
