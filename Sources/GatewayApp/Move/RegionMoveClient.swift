import Crypto
import HTTPCore
import JSON

/// The mover's calls to one region's move API (`/internal/v1/tenants/{id}/move/…`, `MoveAPI` in RegionMove), signed
/// like every internal call, for one tenant. Mutating calls carry the mover's token (`?move=…&epoch=…`).
struct RegionMoveClient: Sendable {
    let regions: RegionInternalClient
    let route: RegionRoute
    let tenant: String
    let moveID: String
    let epoch: Int64
    let requestID: String

    var region: String { route.id }

    private var token: String { "move=\(moveID)&epoch=\(epoch)" }

    /// One call; region failures become `MoveFailure`s that say whether retrying can help.
    func call(_ method: HTTPMethod, _ path: String, query: String = "", body: [UInt8] = [], tokened: Bool = false) throws(MoveFailure)
        -> HTTPResponse
    {
        var q = query
        if tokened { q = q.isEmpty ? token : token + "&" + q }
        let target = "/internal/v1/tenants/\(tenant)/move\(path)" + (q.isEmpty ? "" : "?" + q)
        let response: HTTPResponse
        do {
            response = try regions.send(method, target, tenant: tenant, body: body, on: route, requestID: requestID, key: nil)
        } catch {
            throw .transient("region \(route.id) did not answer: \(error.description)")
        }
        let status = response.status.code
        guard !(200...299).contains(status) else { return response }
        let detail = (try? JSONDecoder.decode(response.body))?["detail"]?.string ?? String(decoding: response.body.prefix(200), as: UTF8.self)
        switch status {
        case 409 where detail.contains("newer mover"):
            throw .superseded("region \(route.id): \(detail)")
        case 409, 400, 404, 413:
            throw .permanent("region \(route.id) refused \(method) \(path) (\(status)): \(detail)")
        default:
            throw .transient("region \(route.id) answered \(status) to \(method) \(path): \(detail)")
        }
    }

    func json(_ response: HTTPResponse) throws(MoveFailure) -> JSONValue {
        guard let value = try? JSONDecoder.decode(response.body) else { throw .transient("region \(route.id) answered with unreadable JSON") }
        return value
    }

    // MARK: Calls

    func schema() throws(MoveFailure) -> JSONValue { try json(call(.get, "/schema")) }

    @discardableResult
    func putFence(_ state: String, peer: String) throws(MoveFailure) -> JSONValue {
        try json(call(.put, "/fence", body: JSONValue.object(["state": .string(state), "peerRegion": .string(peer)]).encoded(), tokened: true))
    }

    func removeFence() throws(MoveFailure) { _ = try call(.delete, "/fence", tokened: true) }

    /// The source side: bucket digests of `table` for buckets `from ..< to` (only those of `only`, if given), as a
    /// JSON array passed on unparsed.
    func digests(table: String, buckets: Int, from: Int, to: Int, only: [Int]?) throws(MoveFailure) -> [UInt8] {
        var body: JSONObject = ["table": .string(table), "buckets": .number(JSONNumber(buckets)), "from": .number(JSONNumber(from)),
                                "to": .number(JSONNumber(to))]
        if let only { body.set("only", .array(only.map { .number(JSONNumber($0)) })) }
        return try call(.post, "/digests", body: JSONValue.object(body).encoded()).body
    }

    /// The target side: what differs from the source's `digests` for the same buckets (compared in the target's SQL).
    /// The digests are put into the body as they came (`{"digests": …, "only": …}`), never parsed here.
    func compare(table: String, buckets: Int, from: Int, to: Int, only: [Int]?, digests: [UInt8]) throws(MoveFailure) -> JSONValue {
        let query = "table=\(PercentEncoding.encode(table))&buckets=\(buckets)&from=\(from)&to=\(to)"
        var body = Array("{\"digests\":".utf8)
        body += digests
        body += Array(",\"only\":".utf8)
        body += only.map { JSONValue.array($0.map { .number(JSONNumber($0)) }).encoded() } ?? Array("null".utf8)
        body.append(UInt8(ascii: "}"))
        return try json(call(.post, "/compare", query: query, body: body))
    }

    /// The source side of a catch-up round: the buckets of `table` holding a row inserted or updated by a transaction
    /// at or after `since` (a `horizon` from `schema`).
    func changed(table: String, buckets: Int, since: String) throws(MoveFailure) -> (buckets: [Int], rows: Int) {
        let body: JSONObject = ["table": .string(table), "buckets": .number(JSONNumber(buckets)), "since": .string(since)]
        let response = try call(.post, "/changed", body: JSONValue.object(body).encoded())
        guard case .array(let items)? = try? JSONDecoder.decode(response.body) else {
            throw .transient("region \(route.id) sent an unreadable list of changed buckets of \(table)")
        }
        return (items.compactMap(\.int), Int(response.headers["X-Move-Rows"] ?? "") ?? 0)
    }

    /// One page of rows (a JSON array, kept as bytes), whether more follow, and where the next page starts.
    func export(table: String, buckets: Int, only: [Int]?, after: JSONValue?, limit: Int, maxBytes: Int) throws(MoveFailure)
        -> (rows: [UInt8], count: Int, more: Bool, after: JSONValue?)
    {
        var body: JSONObject = ["table": .string(table), "buckets": .number(JSONNumber(buckets)), "limit": .number(JSONNumber(limit)),
                                "maxBytes": .number(JSONNumber(maxBytes))]
        if let after { body.set("after", after) }
        if let only { body.set("only", .array(only.map { .number(JSONNumber($0)) })) }
        let response = try call(.post, "/export", body: JSONValue.object(body).encoded())
        let count = Int(response.headers["X-Move-Rows"] ?? "") ?? 0
        var next: JSONValue? = nil
        if let header = response.headers["X-Move-After"], let bytes = Base64.decode(header) {
            next = try? JSONDecoder.decode(bytes)
        }
        return (response.body, count, response.headers["X-Move-More"] == "1" && next != nil, next)
    }

    func importRows(table: String, rows: [UInt8]) throws(MoveFailure) -> Int {
        let response = try call(.post, "/import", query: "table=" + PercentEncoding.encode(table), body: rows, tokened: true)
        return try json(response)["inserted"]?.int ?? 0
    }

    func clear(table: String, buckets: Int, only: [Int]) throws(MoveFailure) -> Int {
        let body: JSONObject = ["table": .string(table), "buckets": .number(JSONNumber(buckets)),
                                "only": .array(only.map { .number(JSONNumber($0)) })]
        return try json(call(.post, "/clear", body: JSONValue.object(body).encoded(), tokened: true))["deleted"]?.int ?? 0
    }

    func purge(limit: Int) throws(MoveFailure) -> (deleted: Int, done: Bool) {
        let answer = try json(call(.post, "/purge", body: JSONValue.object(["limit": .number(JSONNumber(limit))]).encoded(), tokened: true))
        return (answer["deleted"]?.int ?? 0, answer["done"]?.bool ?? false)
    }

    /// The tenant's rows here, per tenant table.
    func residue() throws(MoveFailure) -> (tables: [String: Int], total: Int) {
        let answer = try json(call(.get, "/residue"))
        var tables: [String: Int] = [:]
        for (name, value) in answer["tables"]?.object ?? JSONObject() { tables[name] = value.int ?? 0 }
        return (tables, answer["total"]?.int ?? 0)
    }

    func raiseTransactionIDs(above: String, maxBurn: Int) throws(MoveFailure) -> (xid: String, reached: Bool) {
        let answer = try json(call(.post, "/xid-floor", body: JSONValue.object(["above": .string(above), "maxBurn": .number(JSONNumber(maxBurn))]).encoded(),
                                   tokened: true))
        return (answer["xid"]?.string ?? "0", answer["reached"]?.bool ?? false)
    }
}
