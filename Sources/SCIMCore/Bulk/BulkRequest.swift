public import JSON

// Bulk requests (RFC 7644 §3.7): parsing, bulkId references and the BulkResponse envelope. Executing each
// operation is the backend's job; this file decides what the operations are and in which order they can run.

/// A parsed BulkRequest.
public struct BulkRequest: Sendable, Hashable {
    /// BulkRequest message schema URN.
    public static let schemaURN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
    /// BulkResponse message schema URN.
    public static let responseSchemaURN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    /// The `bulkId:` reference prefix.
    public static let referencePrefix = "bulkId:"

    /// Stop after this many errors (nil: process everything).
    public var failOnErrors: Int?
    /// Operations in request order.
    public var operations: [BulkOperation]

    /// Parses a BulkRequest body; more than `maxOperations` operations is `413` (RFC 7644 §3.7.4).
    public static func parse(_ body: JSONValue, maxOperations: Int) throws(SCIMError) -> BulkRequest {
        guard case .object(let o) = body else { throw .invalidSyntax("the BulkRequest must be a JSON object") }
        if let schemas = o[caseInsensitive: "schemas"] {
            guard case .array(let list) = schemas,
                  list.contains(where: { $0.string.map { asciiCaseInsensitiveEquals($0, schemaURN) } ?? false }) else {
                throw .invalidSyntax("'schemas' must contain \(schemaURN)")
            }
        }
        var failOnErrors: Int? = nil
        switch o[caseInsensitive: "failOnErrors"] {
        case nil, .null?: break
        case .number(let n)?:
            guard let v = n.int, v >= 1 else { throw .invalidValue("'failOnErrors' must be a positive integer") }
            failOnErrors = v
        default: throw .invalidValue("'failOnErrors' must be a positive integer")
        }
        guard case .array(let ops)? = o[caseInsensitive: "Operations"], !ops.isEmpty else {
            throw .invalidSyntax("the BulkRequest needs a non-empty 'Operations' array")
        }
        guard ops.count <= maxOperations else {
            throw SCIMError(status: 413, detail: "the bulk request has more than \(maxOperations) operations")
        }
        var result: [BulkOperation] = []
        var seenIDs = Set<String>()
        for (i, raw) in ops.enumerated() {
            guard case .object(let op) = raw else { throw .invalidSyntax("bulk operation \(i) must be a JSON object") }
            guard case .string(let m)? = op[caseInsensitive: "method"], let method = BulkMethod(rawValue: m.uppercased()) else {
                throw .invalidSyntax("bulk operation \(i) needs a method: POST, PUT, PATCH or DELETE")
            }
            guard case .string(let path)? = op[caseInsensitive: "path"] else { throw .invalidSyntax("bulk operation \(i) needs a 'path'") }
            let bulkId = op[caseInsensitive: "bulkId"]?.string
            if method == .post {
                guard let b = bulkId, !b.isEmpty else { throw .invalidSyntax("bulk operation \(i): POST needs a 'bulkId'") }
                guard seenIDs.insert(b).inserted else { throw .invalidSyntax("bulk operation \(i): bulkId is used twice") }
            }
            let parts = path.split(separator: "/", omittingEmptySubsequences: true)
            guard parts.count == 1 || parts.count == 2 else { throw .invalidPath("bulk operation \(i): path must be /{Resource} or /{Resource}/{id}") }
            let endpoint = "/" + parts[0]
            let id = parts.count == 2 ? String(parts[1]) : nil
            switch method {
            case .post:
                guard id == nil else { throw .invalidPath("bulk operation \(i): POST goes to the resource endpoint") }
            case .put, .patch, .delete:
                guard id != nil else { throw .invalidPath("bulk operation \(i): \(method.rawValue) needs a resource id in the path") }
            }
            let data = op[caseInsensitive: "data"]
            if method != .delete, data == nil || data?.isNull == true {
                throw .invalidSyntax("bulk operation \(i): \(method.rawValue) needs 'data'")
            }
            result.append(BulkOperation(method: method, bulkId: bulkId, version: op[caseInsensitive: "version"]?.string,
                                        endpoint: endpoint, resourceID: id, data: method == .delete ? nil : data))
        }
        return BulkRequest(failOnErrors: failOnErrors, operations: result)
    }

    /// The bulkIds an operation refers to (in its path and anywhere in its data).
    public static func references(of op: BulkOperation) -> Set<String> {
        var out = Set<String>()
        if let id = op.resourceID, id.hasPrefix(referencePrefix) { out.insert(String(id.dropFirst(referencePrefix.count))) }
        func walk(_ v: JSONValue) {
            switch v {
            case .string(let s): if s.hasPrefix(referencePrefix) { out.insert(String(s.dropFirst(referencePrefix.count))) }
            case .array(let a): a.forEach(walk)
            case .object(let o): o.values.forEach(walk)
            case .null, .bool, .number: break
            }
        }
        if let d = op.data { walk(d) }
        return out
    }

    /// Indices in an order where every operation runs after the POSTs whose bulkIds it references
    /// (request order otherwise). A reference to an unknown bulkId or a cycle is `409` (RFC 7644 §3.7.1-3.7.2).
    public func executionOrder() throws(SCIMError) -> [Int] {
        var producer: [String: Int] = [:]
        for (i, op) in operations.enumerated() where op.method == .post {
            if let b = op.bulkId { producer[b] = i }
        }
        var deps: [[Int]] = []
        for op in operations {
            var d: [Int] = []
            for ref in Self.references(of: op).sorted() {
                guard let p = producer[ref] else { throw SCIMError(status: 409, scimType: .invalidValue, detail: "bulkId '\(ref.prefix(64))' is not defined in this request") }
                d.append(p)
            }
            deps.append(d)
        }
        var state = [UInt8](repeating: 0, count: operations.count)  // 0 new, 1 visiting, 2 done
        var order: [Int] = []
        func visit(_ i: Int) throws(SCIMError) {
            if state[i] == 2 { return }
            if state[i] == 1 { throw SCIMError(status: 409, scimType: .invalidValue, detail: "circular bulkId references") }
            state[i] = 1
            for d in deps[i] where d != i { try visit(d) }
            if deps[i].contains(i) { throw SCIMError(status: 409, scimType: .invalidValue, detail: "circular bulkId references") }
            state[i] = 2
            order.append(i)
        }
        for i in operations.indices { try visit(i) }
        return order
    }

    /// Replaces `bulkId:<id>` strings with the ids the server assigned (unknown references are left as they are).
    public static func substitute(_ value: JSONValue, ids: [String: String]) -> JSONValue {
        switch value {
        case .string(let s):
            if s.hasPrefix(referencePrefix), let id = ids[String(s.dropFirst(referencePrefix.count))] { return .string(id) }
            return value
        case .array(let a): return .array(a.map { substitute($0, ids: ids) })
        case .object(let o):
            var r = JSONObject()
            r.reserveCapacity(o.count)
            for (k, v) in o { r.appendUnchecked(key: k, value: substitute(v, ids: ids)) }
            return .object(r)
        case .null, .bool, .number: return value
        }
    }
}
