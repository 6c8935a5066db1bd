import Locking
import Telemetry

/// What this gateway replica saw of each tenant's SCIM traffic lately, for the operator console's tenant list:
/// when the last request came, and per-minute counts over the last five minutes (all, 4xx, 5xx, 429). Memory is one
/// small record per active tenant; nothing about the requests' content.
final class TenantActivity: Sendable {
    struct Summary: Sendable, Equatable {
        var lastRequestMillis: Int64?
        var total = 0
        var clientErrors = 0
        var serverErrors = 0
        var rateLimited = 0
    }

    private struct Minute: Sendable {
        var minute: Int64 = -1
        var total = 0, clientErrors = 0, serverErrors = 0, rateLimited = 0
    }

    private struct Record: Sendable {
        var last: Int64 = 0
        var minutes = [Minute](repeating: Minute(), count: 5)
    }

    private let records = Lock<[String: Record]>([:])
    static let maxTenants = 100_000

    func record(tenant: String, status: Int, nowMillis: Int64 = Timestamp.nowEpochMillis()) {
        let minute = nowMillis / 60_000
        records.withLock { all in
            if all[tenant] == nil && all.count >= Self.maxTenants { all.removeAll(keepingCapacity: true) }
            // In place (`default:` subscript): copying the record out and back copied its minutes array each time.
            Self.count(&all[tenant, default: Record()], status: status, nowMillis: nowMillis, minute: minute)
        }
    }

    private static func count(_ r: inout Record, status: Int, nowMillis: Int64, minute: Int64) {
        r.last = nowMillis
        let slot = Int(minute % 5)
        if r.minutes[slot].minute != minute { r.minutes[slot] = Minute(minute: minute) }
        r.minutes[slot].total += 1
        if status == 429 { r.minutes[slot].rateLimited += 1 }
        if (400..<500).contains(status) { r.minutes[slot].clientErrors += 1 }
        if status >= 500 { r.minutes[slot].serverErrors += 1 }
    }

    func summary(tenant: String, nowMillis: Int64 = Timestamp.nowEpochMillis()) -> Summary {
        guard let r = records.withLock({ $0[tenant] }) else { return Summary() }
        let minute = nowMillis / 60_000
        var s = Summary(lastRequestMillis: r.last)
        for m in r.minutes where m.minute > minute - 5 {
            s.total += m.total
            s.clientErrors += m.clientErrors
            s.serverErrors += m.serverErrors
            s.rateLimited += m.rateLimited
        }
        return s
    }
}
