import Crypto
import JSON

/// A SCIM request of a known tenant that the gateway answered itself (integration deactivated, rate-limited,
/// misdirected, its region's breaker open or the region unreachable), on its way to the tenant's home region's
/// request log. It carries the request as received (never its Authorization header) and the refusal.
struct RefusedRequest: Sendable {
    var tenant: String
    /// The tenant's home region: the only place the record (and its body) is sent.
    var region: String
    var atMillis: Int64
    var requestID: String
    var method: String
    var route: String
    var path: String
    var query: String?
    var userAgent: String?
    var status: Int
    var scimType: String?
    var detail: String?
    var outcome: String
    var durationMillis: Double
    /// The body, when it was at most `RequestLogShipper.maxBodyBytes` (else empty; `bodyBytes` says how large).
    var body: [UInt8]
    var bodyBytes: Int
    /// Delivery attempts that failed so far.
    var attempts = 0

    /// The wire form the region's `POST /internal/v1/tenants/{id}/request-log` reads.
    var json: JSONValue {
        var o = JSONObject()
        o.reserveCapacity(14)
        o.appendUnchecked(key: "at", value: .number(JSONNumber(atMillis)))
        o.appendUnchecked(key: "requestId", value: .string(requestID))
        o.appendUnchecked(key: "method", value: .string(method))
        o.appendUnchecked(key: "route", value: .string(route))
        o.appendUnchecked(key: "path", value: .string(path))
        if let query { o.appendUnchecked(key: "query", value: .string(query)) }
        if let userAgent { o.appendUnchecked(key: "userAgent", value: .string(userAgent)) }
        o.appendUnchecked(key: "status", value: .number(JSONNumber(status)))
        if let scimType { o.appendUnchecked(key: "scimType", value: .string(scimType)) }
        if let detail { o.appendUnchecked(key: "detail", value: .string(detail)) }
        o.appendUnchecked(key: "outcome", value: .string(outcome))
        o.appendUnchecked(key: "durationMs", value: .number(JSONNumber((durationMillis * 1000).rounded() / 1000)))
        o.appendUnchecked(key: "bodyBytes", value: .number(JSONNumber(bodyBytes)))
        if !body.isEmpty { o.appendUnchecked(key: "body", value: .string(Base64.encode(body))) }
        return .object(o)
    }

    /// What it holds in memory, roughly (the queue's byte bound).
    var footprint: Int { 512 + body.count }
}
