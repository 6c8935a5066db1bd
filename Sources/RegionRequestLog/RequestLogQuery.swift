import Crypto
package import Postgres
package import SCIMCore

/// The filters and paging of a request-log listing, from its query string. Every parameter is checked; anything
/// unknown or malformed is a 400 that names it (a typo must not silently list everything).
///
///     status=2xx|3xx|4xx|5xx|<code>   method=GET|POST|PUT|PATCH|DELETE   source=region|gateway
///     resourceId=<id> (or resource=<id>)   userName=<exact>   externalId=<exact>
///     since=<RFC 3339 time>   until=<RFC 3339 time>   (since inclusive, until exclusive)
///     limit=1..500 (default 50)   cursor=<next or newer of a previous page>   bodies=true|false (default true)
package struct RequestLogQuery: Sendable, Equatable {
    package var statusClass: Int?
    package var status: Int?
    package var method: String?
    package var source: String?
    package var resourceID: String?
    package var userName: String?
    package var externalId: String?
    package var since: PostgresTimestamp?
    package var until: PostgresTimestamp?
    package var limit = 50
    package var cursor: String?
    package var bodies = true

    package static let maxLimit = 500
    static let methods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    package init() {}

    /// Parses and checks a query string.
    package static func parse(_ query: String?) throws(SCIMError) -> RequestLogQuery {
        var q = RequestLogQuery()
        var seen: Set<String> = []
        for (name, value) in QueryString.decode(query ?? "") {
            guard seen.insert(name).inserted else { throw .invalidValue("'\(name.prefix(40))' is given more than once") }
            switch name {
            case "status":
                let lowered = value.lowercased()
                if lowered.count == 3, lowered.hasSuffix("xx"), let c = Int(lowered.prefix(1)), (1...5).contains(c) {
                    q.statusClass = c
                } else if let code = Int(value), (100...599).contains(code) {
                    q.status = code
                } else {
                    throw .invalidValue("'status' must be a class (2xx, 3xx, 4xx, 5xx) or a status code from 100 to 599")
                }
            case "method":
                guard methods.contains(value.uppercased()) else {
                    throw .invalidValue("'method' must be one of GET, POST, PUT, PATCH, DELETE")
                }
                q.method = value.uppercased()
            case "source":
                guard value == "region" || value == "gateway" else { throw .invalidValue("'source' must be region or gateway") }
                q.source = value
            case "resourceId", "resource":  // `resource`: the operator console's name for it
                guard q.resourceID == nil else { throw .invalidValue("'resourceId' is given more than once") }
                q.resourceID = try text(value, name)
            case "userName": q.userName = try text(value, name)
            case "externalId": q.externalId = try text(value, name)
            case "since": q.since = try time(value, name)
            case "until": q.until = try time(value, name)
            case "limit":
                guard let n = Int(value), (1...maxLimit).contains(n) else {
                    throw .invalidValue("'limit' must be an integer from 1 to \(maxLimit)")
                }
                q.limit = n
            case "cursor":
                guard !value.isEmpty else { throw SCIMError(status: 400, scimType: .invalidCursor, detail: "'cursor' is empty") }
                q.cursor = value
            case "bodies":
                guard value == "true" || value == "false" else { throw .invalidValue("'bodies' must be true or false") }
                q.bodies = value == "true"
            default:
                throw .invalidValue("unknown parameter '\(name.prefix(40))' (status, method, source, resourceId, userName, "
                                    + "externalId, since, until, limit, cursor, bodies)")
            }
        }
        if let since = q.since, let until = q.until, until <= since { throw .invalidValue("'until' must be later than 'since'") }
        return q
    }

    static func text(_ value: String, _ name: String) throws(SCIMError) -> String {
        guard (1...512).contains(value.utf8.count) else { throw .invalidValue("'\(name)' must be 1 to 512 bytes") }
        return value
    }

    static func time(_ value: String, _ name: String) throws(SCIMError) -> PostgresTimestamp {
        guard let t = SCIMDateTime(parsing: value), (0...253_402_300_799).contains(t.seconds) else {
            throw .invalidValue("'\(name)' must be an RFC 3339 time such as 2026-12-01T09:30:00Z")
        }
        return PostgresTimestamp(secondsSinceEpoch: t.seconds, microseconds: Int64(t.nanoseconds / 1000))
    }

    /// The filters' identity (not the paging): a cursor continues only the listing it came from.
    package var fingerprint: String {
        let parts: [String] = [statusClass.map(String.init) ?? "", status.map(String.init) ?? "", method ?? "", source ?? "",
                               resourceID ?? "", userName ?? "", externalId ?? "",
                               since.map { String($0.microsecondsSinceEpoch) } ?? "", until.map { String($0.microsecondsSinceEpoch) } ?? ""]
        return Hex.encode(SHA256.hash(parts.joined(separator: "\u{1F}")).prefix(8))
    }

    /// The WHERE conditions after `tenant_id = $1`, appending their values to `values`.
    func conditions(_ values: inout [PostgresValue]) -> String {
        var sql = ""
        func add(_ condition: (String) -> String, _ value: PostgresValue) {
            values.append(value)
            sql += " AND " + condition("$\(values.count)")
        }
        if let statusClass { add({ "status BETWEEN \($0) * 100 AND \($0) * 100 + 99" }, .int(Int64(statusClass))) }
        if let status { add({ "status = \($0)" }, .int(Int64(status))) }
        if let method { add({ "method = \($0)" }, .text(method)) }
        if let source { add({ "source = \($0)" }, .text(source)) }
        if let resourceID { add({ "resource_id = \($0)" }, .text(resourceID)) }
        if let userName { add({ "user_name = \($0)" }, .text(userName)) }
        if let externalId { add({ "external_id = \($0)" }, .text(externalId)) }
        if let since { add({ "at >= \($0)" }, .timestamp(since)) }
        if let until { add({ "at < \($0)" }, .timestamp(until)) }
        return sql
    }
}
