package import JSON
import Postgres
import SCIMCore

/// RFC 7644 §3.7 Bulk. Each operation runs in its own transaction through the same code as the single-resource
/// endpoints (Bulk is not atomic, as the RFC allows). `bulkId:x` references in paths and data are replaced by the id
/// created by the operation with that bulkId; an operation whose references are not yet resolved waits until they
/// are (so order in the request does not matter), and one whose references can never resolve (unknown, failed or
/// circular) fails with 409.
extension SCIMService {
    /// POST /Bulk. `byteCount` is the request body size (checked against maxPayloadSize).
    package func bulk(body: JSONValue, byteCount: Int, scope: RequestScope) throws -> SCIMOutcome {
        let limits = configuration
        if byteCount > limits.bulkMaxPayloadSize {
            throw SCIMError(status: 413, detail: "the bulk request exceeds maxPayloadSize (\(limits.bulkMaxPayloadSize) bytes)")
        }
        let request = try BulkRequest.parse(body, maxOperations: limits.bulkMaxOperations)
        let failOnErrors = request.failOnErrors
        var results: [Int: JSONValue] = [:]
        var operations: [BulkOperation] = []
        var defined: Set<String> = []
        var errors = 0
        for (i, parsed) in request.operations.enumerated() {
            switch parsed {
            case .success(let op):
                if let id = op.bulkID, !defined.insert(id).inserted {
                    results[i] = Self.operationError(op, .invalidValue("bulkId '\(id.prefix(64))' is used twice"))
                    errors += 1
                } else {
                    operations.append(op)
                }
            case .failure(let error):
                let raw = Self.rawOperation(body, i)
                results[i] = BulkResponse.errorEntry(method: raw?[caseInsensitive: "method"]?.string,
                                                     bulkID: raw?[caseInsensitive: "bulkId"]?.string, error: error)
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

        return .document(status: 200, BulkResponse.envelope(results.keys.sorted().compactMap { results[$0] }))
    }

    /// Operation `index` of the request body as sent (for the method and bulkId of an operation that did not parse).
    static func rawOperation(_ body: JSONValue, _ index: Int) -> JSONObject? {
        guard case .array(let list)? = body.object?[caseInsensitive: "Operations"], index < list.count else { return nil }
        return list[index].object
    }

    /// Runs one operation; returns its response entry, the id it created (POST) and whether it succeeded.
    func execute(_ op: BulkOperation, created: [String: String], scope: RequestScope) -> (JSONValue, String?, Bool) {
        let segments = BulkRequest.resolvePath(op.path, created)
        let kind: ResourceKind
        switch segments.first.map({ $0.lowercased() }) {
        case "users"?: kind = .user
        case "groups"?: kind = .group
        default: return (Self.operationError(op, .notFound("'\(op.path.prefix(80))' is not a resource endpoint")), nil, false)
        }
        let data = op.data.map { BulkRequest.substitute($0, created) }
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
        BulkResponse.errorEntry(method: op.method, bulkID: op.bulkID, error: error)
    }
}
