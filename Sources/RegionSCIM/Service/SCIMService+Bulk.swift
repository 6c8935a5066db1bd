package import JSON
import Postgres
import SCIMCore

/// RFC 7644 §3.7 Bulk. Each operation runs in its own transaction through the same code as the single-resource
/// endpoints (Bulk is not atomic, as the RFC allows). `bulkId:x` references in paths and data are replaced by the id
/// created by the operation with that bulkId; an operation whose references are not yet resolved waits until they
/// are (so order in the request does not matter), and one whose references can never resolve (unknown, failed or
/// circular) fails with 409.
extension SCIMService {
    static let bulkRequestURN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
    static let bulkResponseURN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"

    struct BulkOperation {
        var index: Int
        var method: String
        var path: String
        var bulkID: String?
        var version: String?
        var data: JSONValue?
        /// bulkIds this operation refers to.
        var references: Set<String>
    }

    /// POST /Bulk. `byteCount` is the request body size (checked against maxPayloadSize).
    package func bulk(body: JSONValue, byteCount: Int, scope: RequestScope) throws -> SCIMOutcome {
        let limits = configuration
        if byteCount > limits.bulkMaxPayloadSize {
            throw SCIMError(status: 413, detail: "the bulk request exceeds maxPayloadSize (\(limits.bulkMaxPayloadSize) bytes)")
        }
        guard case .object(let request) = body else { throw SCIMError.invalidSyntax("the BulkRequest must be a JSON object") }
        if let schemas = request[caseInsensitive: "schemas"] {
            guard case .array(let list) = schemas, list.contains(where: { $0.string.map { asciiCaseInsensitiveEquals($0, Self.bulkRequestURN) } ?? false }) else {
                throw SCIMError.invalidSyntax("'schemas' must contain \(Self.bulkRequestURN)")
            }
        }
        guard case .array(let rawOperations)? = request[caseInsensitive: "Operations"] else {
            throw SCIMError.invalidSyntax("the BulkRequest needs an 'Operations' array")
        }
        if rawOperations.count > limits.bulkMaxOperations {
            throw SCIMError(status: 413, detail: "the bulk request has more than maxOperations (\(limits.bulkMaxOperations)) operations")
        }
        var failOnErrors = Int.max
        if let f = request[caseInsensitive: "failOnErrors"], !f.isNull {
            guard let n = f.int, n >= 0 else { throw SCIMError.invalidValue("'failOnErrors' must be a non-negative integer") }
            if n > 0 { failOnErrors = n }
        }

        var results: [Int: JSONValue] = [:]
        var operations: [BulkOperation] = []
        var defined: Set<String> = []
        var errors = 0
        for (i, raw) in rawOperations.enumerated() {
            switch Self.parseOperation(raw, index: i) {
            case .success(let op):
                if let id = op.bulkID, !defined.insert(id).inserted {
                    results[i] = Self.operationError(op, .invalidValue("bulkId '\(id.prefix(64))' is used twice"))
                    errors += 1
                } else {
                    operations.append(op)
                }
            case .failure(let error):
                results[i] = Self.errorJSON(method: raw[caseInsensitive: "method"]?.string, bulkID: raw[caseInsensitive: "bulkId"]?.string,
                                            error: error)
                errors += 1
            }
        }

        var created: [String: String] = [:]  // bulkId → id
        var failed: Set<String> = []
        var pending = operations
        while !pending.isEmpty && errors < failOnErrors {
            var progressed = false
            var waiting: [BulkOperation] = []
            for op in pending {
                if errors >= failOnErrors { break }
                if let bad = op.references.first(where: { failed.contains($0) || !defined.contains($0) }) {
                    results[op.index] = Self.operationError(op, SCIMError(status: 409, scimType: .invalidValue,
                        detail: "bulkId '\(bad.prefix(64))' \(defined.contains(bad) ? "failed" : "is not defined in this request")"))
                    errors += 1
                    if let id = op.bulkID { failed.insert(id) }
                    progressed = true
                    continue
                }
                guard op.references.allSatisfy({ created[$0] != nil }) else {
                    waiting.append(op)
                    continue
                }
                progressed = true
                let (json, newID, ok) = execute(op, created: created, scope: scope)
                results[op.index] = json
                if ok, let bulkID = op.bulkID, let newID { created[bulkID] = newID }
                if !ok {
                    errors += 1
                    if let bulkID = op.bulkID { failed.insert(bulkID) }
                }
            }
            if errors >= failOnErrors { break }
            if !progressed {
                // Every waiting operation depends on another waiting one: a cycle.
                for op in waiting {
                    results[op.index] = Self.operationError(op, SCIMError(status: 409, scimType: .invalidValue,
                                                                          detail: "circular bulkId references"))
                    errors += 1
                    if errors >= failOnErrors { break }
                }
                break
            }
            pending = waiting
        }

        var response = JSONObject()
        response.appendUnchecked(key: "schemas", value: [.string(Self.bulkResponseURN)])
        response.appendUnchecked(key: "Operations", value: .array(results.keys.sorted().compactMap { results[$0] }))
        return .document(status: 200, .object(response))
    }

    static func parseOperation(_ raw: JSONValue, index: Int) -> Result<BulkOperation, SCIMError> {
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
            if candidate.hasPrefix("bulkId:") { refs.insert(String(candidate.dropFirst(7))) }
        case .array(let a): for v in a { collectReferences(v, into: &refs) }
        case .object(let o): for (_, v) in o { collectReferences(v, into: &refs) }
        case .null, .bool, .number: break
        }
    }

    static func substitute(_ value: JSONValue, _ created: [String: String]) -> JSONValue {
        switch value {
        case .string(let s):
            if s.hasPrefix("bulkId:"), let id = created[String(s.dropFirst(7))] { return .string(id) }
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

    /// Runs one operation; returns its response entry, the id it created (POST) and whether it succeeded.
    func execute(_ op: BulkOperation, created: [String: String], scope: RequestScope) -> (JSONValue, String?, Bool) {
        let segments = op.path.split(separator: "/").map { segment -> String in
            let s = String(segment)
            if s.hasPrefix("bulkId:"), let id = created[String(s.dropFirst(7))] { return id }
            return s
        }
        let kind: ResourceKind
        switch segments.first.map({ $0.lowercased() }) {
        case "users"?: kind = .user
        case "groups"?: kind = .group
        default: return (Self.operationError(op, .notFound("'\(op.path.prefix(80))' is not a resource endpoint")), nil, false)
        }
        let data = op.data.map { Self.substitute($0, created) }
        do {
            let outcome: SCIMOutcome
            switch (op.method, segments.count) {
            case ("POST", 1): outcome = try create(kind, body: data ?? .null, scope: scope, query: nil)
            case ("PUT", 2): outcome = try replace(kind, id: segments[1], body: data ?? .null, scope: scope, query: nil, ifMatch: op.version)
            case ("PATCH", 2): outcome = try patch(kind, id: segments[1], body: data ?? .null, scope: scope, query: nil, ifMatch: op.version)
            case ("DELETE", 2): outcome = try delete(kind, id: segments[1], scope: scope, ifMatch: op.version)
            default:
                return (Self.operationError(op, SCIMError(status: 405, detail: "\(op.method) is not allowed on '\(op.path.prefix(80))'")),
                        nil, false)
            }
            var entry = JSONObject()
            entry.appendUnchecked(key: "method", value: .string(op.method))
            if let b = op.bulkID { entry.appendUnchecked(key: "bulkId", value: .string(b)) }
            var newID: String? = nil
            switch outcome {
            case .resource(_, let body, let version, _):
                newID = body["id"]?.string
                if let id = newID { entry.appendUnchecked(key: "location", value: .string(Representation.location(kind, id, baseURL: scope.baseURL))) }
                entry.appendUnchecked(key: "version", value: .string(ETag.weak(version: String(version))))
            case .noContent(let version?):
                if segments.count == 2 {
                    entry.appendUnchecked(key: "location", value: .string(Representation.location(kind, segments[1], baseURL: scope.baseURL)))
                }
                entry.appendUnchecked(key: "version", value: .string(ETag.weak(version: String(version))))
            case .noContent(nil), .list, .document, .notModified: break
            }
            entry.appendUnchecked(key: "status", value: .string(String(outcome.status)))
            return (.object(entry), newID, true)
        } catch let error as SCIMError {
            return (Self.operationError(op, error), nil, false)
        } catch let error as PostgresError {
            logger.error("bulk operation failed", [("error", .string(error.description)), ("request.id", .string(scope.requestID))])
            return (Self.operationError(op, .from(error, region: database.region)), nil, false)
        } catch {
            return (Self.operationError(op, SCIMError(status: 500, detail: "internal error")), nil, false)
        }
    }

    static func operationError(_ op: BulkOperation, _ error: SCIMError) -> JSONValue {
        errorJSON(method: op.method, bulkID: op.bulkID, error: error, location: nil)
    }

    static func errorJSON(method: String?, bulkID: String?, error: SCIMError, location: String? = nil) -> JSONValue {
        var entry = JSONObject()
        if let method { entry.appendUnchecked(key: "method", value: .string(method)) }
        if let bulkID { entry.appendUnchecked(key: "bulkId", value: .string(bulkID)) }
        if let location { entry.appendUnchecked(key: "location", value: .string(location)) }
        entry.appendUnchecked(key: "status", value: .string(String(error.status)))
        entry.appendUnchecked(key: "response", value: error.json)
        return .object(entry)
    }

    // MARK: Discovery

    /// GET /ServiceProviderConfig.
    package func serviceProviderConfig(scope: RequestScope) throws -> SCIMOutcome {
        try database.read(tenant: scope.tenant, { _ in [] }, decode: { _, _ in
            .document(status: 200, configuration.json(baseURL: scope.baseURL))
        })
    }

    /// GET /ResourceTypes and /ResourceTypes/{id}.
    package func resourceTypes(id: String?, scope: RequestScope) throws -> SCIMOutcome {
        try database.read(tenant: scope.tenant, { _ in [] }, decode: { context, _ in
            guard let id else { return .list(context.registry.resourceTypesListResponse(baseURL: scope.baseURL)) }
            guard let type = context.registry.resourceTypes.first(where: { asciiCaseInsensitiveEquals($0.id, id) }) else {
                throw SCIMError.notFound("resource type \(id.prefix(64)) not found")
            }
            return .document(status: 200, type.json(baseURL: scope.baseURL))
        })
    }

    /// GET /Schemas and /Schemas/{id}.
    package func schemas(id: String?, scope: RequestScope) throws -> SCIMOutcome {
        try database.read(tenant: scope.tenant, { _ in [] }, decode: { context, _ in
            let list = context.registry.schemasListResponse(baseURL: scope.baseURL)
            guard let id else { return .list(list) }
            guard let schema = list.resources.first(where: { $0["id"]?.string.map { asciiCaseInsensitiveEquals($0, id) } ?? false }) else {
                throw SCIMError.notFound("schema \(id.prefix(120)) not found")
            }
            return .document(status: 200, schema)
        })
    }
}
