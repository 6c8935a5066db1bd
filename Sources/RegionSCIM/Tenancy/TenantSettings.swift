package import JSON
package import SCIMCore

/// A tenant's settings in this region, as the internal tenant API accepts and returns them.
///
/// ```json
/// {"name": "acme", "deprovisionPolicy": "soft",
///  "schemaExtensions": [{"resourceType": "User", "required": false,
///                        "schema": {"id": "urn:acme:params:scim:schemas:extension:acme:2.0:User", "name": "AcmeUser",
///                                   "attributes": [{"name": "badge", "type": "string"},
///                                                  {"name": "language", "type": "string", "validator": "iso639-1"}]}}],
///  "validators": [{"schema": "urn:ietf:params:scim:schemas:core:2.0:User", "attribute": "preferredLanguage",
///                  "rule": "iso639-1"},
///                 {"schema": "urn:ietf:params:scim:schemas:core:2.0:User", "attribute": "addresses.country",
///                  "rule": "iso3166-1-alpha2"}]}
/// ```
/// Extension attributes use the RFC 7643 §7 attribute representation (as `/Schemas` publishes it), plus an optional
/// `validator`. `validators` attaches a rule to any attribute or sub-attribute, core ones included.
package struct TenantSettings: Sendable, Equatable {
    /// The tenant's display name (operators' reference only).
    package var name: String
    /// What DELETE /Users/{id} does.
    package var deprovisionPolicy: DeprovisionPolicy
    /// Validated extension entries, kept in their JSON form (what is stored and returned).
    package var schemaExtensions: [JSONValue]
    /// Validated validator entries, in their JSON form.
    package var validators: [JSONValue]
    /// Refuse (409) a second live user with the same externalId. Off by default: RFC 7643 §3.1 leaves externalId's
    /// uniqueness to the client, and IdPs reuse one externalId across re-created users.
    package var uniqueExternalId: Bool
    /// What the request log keeps for the tenant (`requestLog`; defaults when absent).
    package var requestLog: RequestLogSettings

    /// Settings for a tenant created implicitly in development mode.
    package static func development(id: String) -> TenantSettings {
        TenantSettings(name: "dev-" + String(id.prefix(8)), deprovisionPolicy: .hard, schemaExtensions: [], validators: [])
    }

    /// Settings from validated parts.
    package init(name: String, deprovisionPolicy: DeprovisionPolicy, schemaExtensions: [JSONValue] = [],
                validators: [JSONValue] = [], uniqueExternalId: Bool = false,
                requestLog: RequestLogSettings = RequestLogSettings()) {
        self.name = name
        self.requestLog = requestLog
        self.deprovisionPolicy = deprovisionPolicy
        self.schemaExtensions = schemaExtensions
        self.validators = validators
        self.uniqueExternalId = uniqueExternalId
    }

    /// Parses and validates a `PUT /internal/v1/tenants/{id}` body; the error detail names the offending field.
    package static func parse(_ body: JSONValue) throws(SCIMError) -> TenantSettings {
        guard case .object(let o) = body else { throw .invalidSyntax("the tenant settings must be a JSON object") }
        guard case .string(let name)? = o["name"], !name.isEmpty, name.utf8.count <= 200 else {
            throw .invalidValue("'name' must be a non-empty string of at most 200 bytes")
        }
        var policy = DeprovisionPolicy.hard
        if let p = o["deprovisionPolicy"], !p.isNull {
            guard let s = p.string, let parsed = DeprovisionPolicy(rawValue: s) else {
                throw .invalidValue("'deprovisionPolicy' must be 'hard', 'soft' or 'refuse'")
            }
            policy = parsed
        }
        let extensions = try list(o["schemaExtensions"], "schemaExtensions")
        let validators = try list(o["validators"], "validators")
        var uniqueExternalId = false
        if let u = o["uniqueExternalId"], !u.isNull {
            guard let b = u.bool else { throw .invalidValue("'uniqueExternalId' must be a boolean") }
            uniqueExternalId = b
        }
        let requestLog = try RequestLogSettings.parse(o["requestLog"])
        let settings = TenantSettings(name: name, deprovisionPolicy: policy, schemaExtensions: extensions,
                                      validators: validators, uniqueExternalId: uniqueExternalId, requestLog: requestLog)
        _ = try settings.registry()  // every entry must build
        return settings
    }

    private static func list(_ value: JSONValue?, _ field: String) throws(SCIMError) -> [JSONValue] {
        switch value {
        case nil, .null?: return []
        case .array(let a)?:
            guard a.count <= 50 else { throw .invalidValue("'\(field)' has more than 50 entries") }
            return a
        default: throw .invalidValue("'\(field)' must be an array")
        }
    }

    /// The settings as JSON (the GET answer, without the id).
    package var json: JSONValue {
        .object([
            "name": .string(name), "deprovisionPolicy": .string(deprovisionPolicy.rawValue),
            "schemaExtensions": .array(schemaExtensions), "validators": .array(validators),
            "uniqueExternalId": .bool(uniqueExternalId), "requestLog": requestLog.json,
        ])
    }

    /// The standard registry plus this tenant's extensions and validators.
    package func registry() throws(SCIMError) -> SchemaRegistry {
        var registry = SchemaRegistry.standard
        var seen: Set<String> = []
        for (i, entry) in schemaExtensions.enumerated() {
            let field = "schemaExtensions[\(i)]"
            guard case .object(let e) = entry else { throw .invalidValue("'\(field)' must be an object") }
            guard let rt = e["resourceType"]?.string, rt == "User" || rt == "Group" else {
                throw .invalidValue("'\(field).resourceType' must be 'User' or 'Group'")
            }
            var required = false
            if let r = e["required"], !r.isNull {
                guard let b = r.bool else { throw .invalidValue("'\(field).required' must be a boolean") }
                required = b
            }
            guard let schemaJSON = e["schema"] else { throw .invalidValue("'\(field).schema' is required") }
            let schema = try SchemaParser.schema(schemaJSON, field: field + ".schema")
            guard registry.schema(urn: schema.id) == nil, seen.insert(schema.id.lowercased()).inserted else {
                throw .invalidValue("'\(field).schema.id' names a schema that already exists")
            }
            registry = registry.adding(extension: schema, to: rt, required: required)
        }
        for (i, entry) in validators.enumerated() {
            let field = "validators[\(i)]"
            guard case .object(let v) = entry, let urn = v["schema"]?.string, let path = v["attribute"]?.string,
                  let ruleName = v["rule"]?.string else {
                throw .invalidValue("'\(field)' needs 'schema', 'attribute' and 'rule' strings")
            }
            guard let rule = ValidatorRule(rawValue: ruleName) else {
                throw .invalidValue("'\(field).rule' must be one of \(ValidatorRule.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let schema = registry.schema(urn: urn) else { throw .invalidValue("'\(field).schema' is not a known schema") }
            let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count <= 2, let attribute = schema.attribute(named: parts[0]) else {
                throw .invalidValue("'\(field).attribute' is not an attribute of that schema")
            }
            if parts.count == 2 {
                guard attribute.subAttribute(named: parts[1]) != nil else {
                    throw .invalidValue("'\(field).attribute' names an unknown sub-attribute")
                }
            }
            guard (parts.count == 2 ? attribute.subAttribute(named: parts[1])!.type : attribute.type) == .string else {
                throw .invalidValue("'\(field).attribute' must be a string attribute")
            }
            let validator = rule.validator
            registry = registry.modifying(schema: schema.id, attribute: attribute.name) { def in
                if parts.count == 1 {
                    def.validator = validator
                } else if let si = def.subAttributes.firstIndex(where: { asciiCaseInsensitiveEquals($0.name, parts[1]) }) {
                    def.subAttributes[si].validator = validator
                }
            }
        }
        return registry
    }
}
