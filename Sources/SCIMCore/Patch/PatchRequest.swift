public import JSON

/// A parsed PatchOp request body.
public struct PatchRequest: Sendable, Hashable {
    /// The PatchOp message schema URN.
    public static let schemaURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

    /// Operations, applied in order.
    public var operations: [PatchOperation]
    /// IdP quirks the body's envelope needed (op case, missing `schemas`, extra op keys, unquoted path filters).
    public var quirks = QuirkSet()

    /// Creates a request.
    public init(operations: [PatchOperation]) { self.operations = operations }

    /// Parses a PatchOp body: `Operations` (any case), ops in any case, `schemas` optional (Okta [docs/idp-behaviour.md#okta-groups-and-membership]).
    public static func parse(_ body: JSONValue, limits: FilterLimits = .default, maxOperations: Int = 1000) throws(SCIMError) -> PatchRequest {
        guard case .object(let o) = body else { throw .invalidSyntax("the PATCH body must be a JSON object") }
        var quirks = QuirkSet()
        if o[caseInsensitive: "schemas"] == nil { quirks.insert(.patchWithoutSchemas) }
        if let schemas = o[caseInsensitive: "schemas"] {
            // IdPQuirk.patchWithoutSchemas: absent is fine; present must name the PatchOp schema.
            guard case .array(let list) = schemas,
                  list.contains(where: { $0.string.map { asciiCaseInsensitiveEquals($0, schemaURN) } ?? false }) else {
                throw .invalidSyntax("'schemas' must contain \(schemaURN)")
            }
        }
        guard case .array(let ops)? = o[caseInsensitive: "Operations"] else {
            throw .invalidSyntax("the PATCH body needs an 'Operations' array")
        }
        guard !ops.isEmpty else { throw .invalidSyntax("'Operations' is empty") }
        guard ops.count <= maxOperations else { throw .tooMany("more than \(maxOperations) PATCH operations") }
        var result: [PatchOperation] = []
        result.reserveCapacity(ops.count)
        for (i, raw) in ops.enumerated() {
            // IdPQuirk.extraOperationKeys: keys other than op/path/value are ignored.
            guard case .object(let opObject) = raw else { throw .invalidSyntax("operation \(i) must be a JSON object") }
            guard case .string(let opName)? = opObject[caseInsensitive: "op"] else {
                throw .invalidSyntax("operation \(i) needs an 'op'")
            }
            guard let op = IdPDialect.patchOp(opName) else {
                throw .invalidSyntax("operation \(i) has an unknown op; use add, remove or replace")
            }
            if opName != op.rawValue { quirks.insert(.capitalisedPatchOp) }
            if opObject.contains(where: { !Self.isOperationKey($0.key) }) { quirks.insert(.extraOperationKeys) }
            var path: PatchPath? = nil
            switch opObject[caseInsensitive: "path"] {
            case nil, .null?: break
            case .string(let p)?:
                let trimmed = p.trimmingSpacesString()
                if !trimmed.isEmpty { path = try FilterParser.parsePatchPath(trimmed, limits: limits, quirks: &quirks) }
            default: throw .invalidPath("operation \(i): 'path' must be a string")
            }
            let value = opObject[caseInsensitive: "value"]
            switch op {
            case .remove:
                guard path != nil else { throw .noTarget("operation \(i): remove needs a 'path'") }
            case .add, .replace:
                guard value != nil else { throw .invalidSyntax("operation \(i): \(op.rawValue) needs a 'value'") }
            }
            result.append(PatchOperation(op: op, path: path, value: value))
        }
        var request = PatchRequest(operations: result)
        request.quirks = quirks
        return request
    }

    /// `op`, `path` and `value` in any case: the keys RFC 7644 §3.5.2 defines for an operation.
    static func isOperationKey(_ key: String) -> Bool {
        asciiCaseInsensitiveEquals(key, "op") || asciiCaseInsensitiveEquals(key, "path") || asciiCaseInsensitiveEquals(key, "value")
    }
}
