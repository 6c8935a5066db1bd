public import HTTPCore
public import Telemetry
import Crypto

/// One request as every server records it (gateway proxy, admin API, region): the fields of its log line and of
/// its metrics. `route` is always a route template from the router (`/scim/v2/Users/:id`), or a fixed word for
/// what matched nothing: never the raw path, so ids and names stay out of logs and clients cannot invent metric
/// series. Logged as one JSON line with dotted keys (`request.id`, `tenant.id`, …); never tokens, never user data.
public struct RequestRecord: Sendable {
    public var requestID: String
    public let method: HTTPMethod
    public var route: String
    public let startedAt: UInt64
    public private(set) var status = 0
    public private(set) var finishedAt: UInt64 = 0
    public var tenant: String? = nil
    public var region: String? = nil
    /// The replica (`host:port`) that answered, or was last tried (gateway).
    public var upstream: String? = nil
    /// The credential's public id (a token id, never the secret).
    public var token: String? = nil
    /// Who acted (admin API: `admin:<key id>`).
    public var actor: String? = nil
    /// Why the answer is what it is when that is not the handler's doing (`rate-limited`, `upstream-firstByteTimeout`…).
    public var outcome: String? = nil

    public init(requestID: String, method: HTTPMethod, route: String, startedAt: UInt64 = Timestamp.monotonicNanos()) {
        self.requestID = requestID
        self.method = method
        self.route = route
        self.startedAt = startedAt
    }

    /// Records the answer's status and the time it was ready.
    public mutating func finish(status: Int, now: UInt64 = Timestamp.monotonicNanos()) {
        self.status = status
        finishedAt = now
    }

    public var durationSeconds: Double { finishedAt > startedAt ? Double(finishedAt - startedAt) / 1e9 : 0 }

    /// Health and metrics scrapes are not requests worth a line or a series.
    public var isProbe: Bool { route == "/healthz" || route == "/readyz" || route == "/metrics" }

    /// The request's log line.
    public func log(_ logger: Logger, message: String = "request") {
        var md: Logger.Metadata = [("request.id", .string(requestID)), ("method", .string(method.description)),
                                   ("route", .string(route)), ("status", .int(Int64(status))),
                                   ("duration_ms", .double((durationSeconds * 1e6).rounded() / 1000))]
        if let tenant { md.append(("tenant.id", .string(tenant))) }
        if let token { md.append(("token.id", .string(token))) }
        if let region { md.append(("region", .string(region))) }
        if let upstream { md.append(("upstream", .string(upstream))) }
        if let actor { md.append(("actor", .string(actor))) }
        if let outcome { md.append(("outcome", .string(outcome))) }
        logger.info(message, md)
    }
}
