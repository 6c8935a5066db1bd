public import JSON

/// A BulkRequest (RFC 7644 §3.7), parsed without running anything: the envelope is checked as a whole (a bad one is
/// an error for the request), each operation on its own (a bad one gets its own error entry in the BulkResponse,
/// the others still run, as the RFC's per-operation answers allow). Executing is the service's business; the
/// references between operations (`bulkId:x`) are found and substituted here.
public struct BulkRequest: Sendable {
    public static let urn = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
    public static let referencePrefix = "bulkId:"

    /// Stop after this many errors (`Int.max`: never).
    public var failOnErrors: Int
    /// Each operation, or why it cannot run, in request order.
    public var operations: [Result<BulkOperation, SCIMError>]

    /// Checks the envelope (`schemas`, `Operations`, `failOnErrors`, at most `maxOperations`) and parses each operation.
    public static func parse(_ body: JSONValue, maxOperations: Int) throws(SCIMError) -> BulkRequest {
        guard case .object(let request) = body else { throw .invalidSyntax("the BulkRequest must be a JSON object") }
        if let schemas = request[caseInsensitive: "schemas"] {
            guard case .array(let list) = schemas, list.contains(where: { $0.string.map { asciiCaseInsensitiveEquals($0, urn) } ?? false }) else {
                throw .invalidSyntax("'schemas' must contain \(urn)")
            }
        }
        guard case .array(let rawOperations)? = request[caseInsensitive: "Operations"] else {
            throw .invalidSyntax("the BulkRequest needs an 'Operations' array")
        }
        if rawOperations.count > maxOperations {
            throw SCIMError(status: 413, detail: "the bulk request has more than maxOperations (\(maxOperations)) operations")
        }
        var failOnErrors = Int.max
        if let f = request[caseInsensitive: "failOnErrors"], !f.isNull {
            guard let n = f.int, n >= 0 else { throw .invalidValue("'failOnErrors' must be a non-negative integer") }
            if n > 0 { failOnErrors = n }
        }
        return BulkRequest(failOnErrors: failOnErrors,
                           operations: rawOperations.enumerated().map { parseOperation($0.element, index: $0.offset) })
    }

    /// One operation: method, path, bulkId (required on POST), data (required but on DELETE), version, references.
    public static func parseOperation(_ raw: JSONValue, index: Int) -> Result<BulkOperation, SCIMError> {
        guard case .object(let o) = raw else { return .failure(.invalidSyntax("operation \(index) must be a JSON object")) }
        guard let method = o[caseInsensitive: "method"]?.string?.uppercased(),
              ["POST", "PUT", "PATCH", "DELETE"].contains(method) else {
            return .failure(.invalidSyntax("operation \(index): 'method' must be POST, PUT, PATCH or DELETE"))
        }
        guard let path = o[caseInsensitive: "path"]?.string, path.hasPrefix("/") else {
            return .failure(.invalidSyntax("operation \(index): 'path' must be a path such as /Users"))
        }
        let bulkID = o[caseInsensitive: "bulkId"]?.string
        if method == "POST" && (bulkID ?? "").isEmpty {
            return .failure(.invalidSyntax("operation \(index): a POST needs a 'bulkId'"))
        }
        let data = o[caseInsensitive: "data"]
        if method != "DELETE" && (data == nil || data!.isNull) {
            return .failure(.invalidSyntax("operation \(index): \(method) needs 'data'"))
        }
        var references: Set<String> = []
        collectReferences(.string(path), into: &references)
        if let data { collectReferences(data, into: &references) }
        return .success(BulkOperation(index: index, method: method, path: path, bulkID: bulkID,
                                      version: o[caseInsensitive: "version"]?.string, data: data, references: references))
    }

    static func collectReferences(_ value: JSONValue, into refs: inout Set<String>) {
        switch value {
        case .string(let s):
            // In data a reference is a whole value; in a path it is the last segment (/Users/bulkId:x).
            let candidate = s.hasPrefix("/") ? String(s.split(separator: "/").last ?? "") : s
            if candidate.hasPrefix(referencePrefix) { refs.insert(String(candidate.dropFirst(referencePrefix.count))) }
        case .array(let a): for v in a { collectReferences(v, into: &refs) }
        case .object(let o): for (_, v) in o { collectReferences(v, into: &refs) }
        case .null, .bool, .number: break
        }
    }

    /// Replaces whole-value `bulkId:<x>` strings with the ids created for them (unknown ones are left as they are).
    public static func substitute(_ value: JSONValue, _ created: [String: String]) -> JSONValue {
        switch value {
        case .string(let s):
            if s.hasPrefix(referencePrefix), let id = created[String(s.dropFirst(referencePrefix.count))] { return .string(id) }
            return value
        case .array(let a): return .array(a.map { substitute($0, created) })
        case .object(let o):
            var r = JSONObject()
            r.reserveCapacity(o.count)
            for (k, v) in o { r.appendUnchecked(key: k, value: substitute(v, created)) }
            return .object(r)
        case .null, .bool, .number: return value
        }
    }

    /// A path's segments with `bulkId:<x>` segments replaced by the ids created for them.
    public static func resolvePath(_ path: String, _ created: [String: String]) -> [String] {
        path.split(separator: "/").map { segment -> String in
            let s = String(segment)
            if s.hasPrefix(referencePrefix), let id = created[String(s.dropFirst(referencePrefix.count))] { return id }
            return s
        }
    }
}
