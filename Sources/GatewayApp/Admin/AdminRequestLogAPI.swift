import HTTPCore
import JSON

/// The request log on the admin API (issue 17), relayed to the tenant's home region, where the records live (they
/// hold PII: the gateway keeps none of them). Filters, cursors and errors are the region's; the answer is passed on
/// as it is. Shapes: `admin-openapi.yaml` (`RequestLogPage`, `RequestLogSummary`) and docs/request-log.md.
extension AdminAPI {
    /// `GET /admin/v1/tenants/{tenant}/request-log?status=&method=&source=&resourceId=&userName=&externalId=&since=&until=&limit=&cursor=&bodies=`
    func requestLog(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try relayToRegion(call, .get, "request-log")
    }

    /// `GET /admin/v1/tenants/{tenant}/request-log/summary?minutes=&recent=`: a live connection check.
    func requestLogSummary(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try relayToRegion(call, .get, "request-log/summary")
    }

    /// A tenant's `requestLog` settings after a create or update body: the given object's keys over the current
    /// ones (a null key goes back to its default; `"requestLog": null` resets them all). The home region validates
    /// the result when the tenant is provisioned (a bad value is a 400 and nothing changes).
    static func requestLogSettings(_ given: JSONValue, base: JSONValue?) throws(AdminError) -> JSONValue? {
        if given.isNull { return nil }
        guard case .object(let changes) = given else {
            throw .badRequest("requestLog must be an object {mode, redactAttributes, retentionSeconds, maxRecords, maxBodyBytes} or null")
        }
        var merged = base?.object ?? JSONObject()
        for (key, value) in changes {
            if value.isNull {
                if let i = merged.index(forKey: key) { merged.remove(at: i) }
            } else {
                merged.set(key, value)
            }
        }
        return .object(merged)
    }
}
