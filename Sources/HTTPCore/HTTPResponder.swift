/// Answers requests synchronously. The server runs it on one of its worker threads, which it holds until the
/// answer is returned: fine for work that is mostly CPU or a local database (the region, the admin API). Must not
/// trap.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse
}
