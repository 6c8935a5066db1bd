import Glibc
public import HTTPCore
public import NetIO
import Synchronization
import Telemetry

/// A webhook endpoint for tests: an HTTP(S) server on a loopback port that records every request, and can be told
/// to answer with an error status or to answer slowly. It also records how many requests were in flight at once.
public final class WebhookReceiver: Sendable {
    /// One received request.
    public struct Delivery: Sendable {
        public let path: String
        public let headers: HTTPHeaders
        public let body: [UInt8]
        /// The status the receiver answered.
        public let status: Int
    }

    struct State: Sendable {
        var deliveries: [Delivery] = []
        var status = 200
        var delayMillis = 0
        var inFlight = 0
        var maxInFlight = 0
    }

    final class Recorder: HTTPResponder {
        let state = Mutex(State())

        func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse {
            let (status, delay) = state.withLock { s -> (Int, Int) in
                s.inFlight += 1
                s.maxInFlight = max(s.maxInFlight, s.inFlight)
                return (s.status, s.delayMillis)
            }
            if delay > 0 { usleep(UInt32(delay) * 1000) }
            state.withLock { s in
                s.inFlight -= 1
                s.deliveries.append(Delivery(path: String(request.path), headers: request.headers, body: request.body, status: status))
            }
            return HTTPResponse(status: HTTPStatus(code: status), headers: ["Content-Type": "text/plain"], body: Array("ok".utf8))
        }
    }

    let recorder = Recorder()
    /// The server (its `port` is where to send).
    public let server: HTTPServer

    /// Starts on 127.0.0.1 (an ephemeral port unless `port` is given), with TLS when `tls` is given.
    public init(tls: TLSConfiguration? = nil, port: Int = 0) throws {
        var configuration = HTTPServerConfiguration()
        configuration.port = port
        configuration.name = "webhook-receiver"
        configuration.workerThreads = 4
        configuration.tls = tls
        server = HTTPServer(configuration: configuration, responder: recorder, logger: Logger(label: "receiver", level: .error))
        try server.start()
    }

    /// The port it listens on.
    public var port: Int { server.port }

    /// What every following request is answered with (e.g. 503 to simulate an outage).
    public func respond(status: Int, delayMillis: Int = 0) {
        recorder.state.withLock { $0.status = status; $0.delayMillis = delayMillis }
    }

    /// Everything received so far, in arrival order.
    public var deliveries: [Delivery] { recorder.state.withLock { $0.deliveries } }

    /// Requests received and not yet answered (held by `delayMillis`).
    public var inFlight: Int { recorder.state.withLock { $0.inFlight } }

    /// The largest number of requests handled at the same time.
    public var maxInFlight: Int { recorder.state.withLock { $0.maxInFlight } }

    /// Waits until `condition` holds for the deliveries (polling), up to `timeoutMillis`; true when it did.
    public func wait(timeoutMillis: Int = 20_000, until condition: ([Delivery]) -> Bool) -> Bool {
        let deadline = monotonicMillis() + timeoutMillis
        while monotonicMillis() < deadline {
            if condition(deliveries) { return true }
            sleepMillis(20)
        }
        return condition(deliveries)
    }

    public func stop() { server.shutdown(gracePeriod: .seconds(2)) }
}
