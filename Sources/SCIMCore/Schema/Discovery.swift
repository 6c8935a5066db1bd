public import JSON

// Discovery representations (RFC 7643 §5–§7, RFC 7644 §4), generated from the same definitions that drive
// validation, plus the RFC 9865 `pagination` block.

extension AttributeDefinition {
    /// The attribute as it appears in a `/Schemas` representation.
    public var json: JSONValue {
        var o = JSONObject()
        o.appendUnchecked(key: "name", value: .string(name))
        o.appendUnchecked(key: "type", value: .string(type.rawValue))
        o.appendUnchecked(key: "multiValued", value: .bool(multiValued))
        o.appendUnchecked(key: "description", value: .string(description))
        o.appendUnchecked(key: "required", value: .bool(required))
        if type == .string || type == .reference || type == .binary {
            o.appendUnchecked(key: "caseExact", value: .bool(caseExact))
        }
        if !canonicalValues.isEmpty { o.appendUnchecked(key: "canonicalValues", value: .array(canonicalValues.map { .string($0) })) }
        if type == .reference { o.appendUnchecked(key: "referenceTypes", value: .array(referenceTypes.map { .string($0) })) }
        o.appendUnchecked(key: "mutability", value: .string(mutability.rawValue))
        o.appendUnchecked(key: "returned", value: .string(returned.rawValue))
        if type != .complex && type != .boolean { o.appendUnchecked(key: "uniqueness", value: .string(uniqueness.rawValue)) }
        if type == .complex { o.appendUnchecked(key: "subAttributes", value: .array(subAttributes.map(\.json))) }
        return .object(o)
    }
}

/// Joins a base URL and a path without doubling the slash.
func joinURL(_ base: String, _ path: String) -> String {
    base.hasSuffix("/") ? String(base.dropLast()) + path : base + path
}

extension Schema {
    /// URN of the Schema resource schema.
    public static let schemaURN = "urn:ietf:params:scim:schemas:core:2.0:Schema"

    /// The `/Schemas/{id}` representation; `baseURL` is the SCIM base (e.g. `https://host/scim/v2`).
    public func json(baseURL: String) -> JSONValue {
        .object([
            "schemas": [.string(Schema.schemaURN)],
            "id": .string(id),
            "name": .string(name),
            "description": .string(description),
            "attributes": .array(attributes.map(\.json)),
            "meta": ["resourceType": "Schema", "location": .string(joinURL(baseURL, "/Schemas/" + id))],
        ])
    }
}

extension ResourceType {
    /// URN of the ResourceType resource schema.
    public static let schemaURN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"

    /// The `/ResourceTypes/{id}` representation.
    public func json(baseURL: String) -> JSONValue {
        var o = JSONObject()
        o.appendUnchecked(key: "schemas", value: [.string(ResourceType.schemaURN)])
        o.appendUnchecked(key: "id", value: .string(id))
        o.appendUnchecked(key: "name", value: .string(name))
        o.appendUnchecked(key: "endpoint", value: .string(endpoint))
        o.appendUnchecked(key: "description", value: .string(description))
        o.appendUnchecked(key: "schema", value: .string(schema))
        o.appendUnchecked(key: "schemaExtensions", value: .array(schemaExtensions.map {
            .object(["schema": .string($0.schema), "required": .bool($0.required)])
        }))
        o.appendUnchecked(key: "meta", value: ["resourceType": "ResourceType",
                                               "location": .string(joinURL(baseURL, "/ResourceTypes/" + id))])
        return .object(o)
    }
}

extension SchemaRegistry {
    /// Schemas used by resource types, in registry order.
    var resourceSchemas: [Schema] {
        schemas.filter { s in
            resourceTypes.contains { rt in
                asciiCaseInsensitiveEquals(rt.schema, s.id) || rt.schemaExtensions.contains { asciiCaseInsensitiveEquals($0.schema, s.id) }
            }
        }
    }

    /// `GET /Schemas` ListResponse.
    public func schemasListResponse(baseURL: String) -> ListResponse {
        let all = resourceSchemas.map { $0.json(baseURL: baseURL) }
        return ListResponse(totalResults: all.count, startIndex: 1, resources: all)
    }

    /// `GET /Schemas/{id}`; an unknown id is 404.
    public func schemaRepresentation(id: String, baseURL: String) throws(SCIMError) -> JSONValue {
        guard let s = resourceSchemas.first(where: { asciiCaseInsensitiveEquals($0.id, id) }) else {
            throw .notFound("schema \(id.prefix(120)) not found")
        }
        return s.json(baseURL: baseURL)
    }

    /// `GET /ResourceTypes/{id}`; an unknown id is 404.
    public func resourceTypeRepresentation(id: String, baseURL: String) throws(SCIMError) -> JSONValue {
        guard let rt = resourceTypes.first(where: { asciiCaseInsensitiveEquals($0.id, id) }) else {
            throw .notFound("resource type \(id.prefix(64)) not found")
        }
        return rt.json(baseURL: baseURL)
    }

    /// `GET /ResourceTypes` ListResponse.
    public func resourceTypesListResponse(baseURL: String) -> ListResponse {
        let all = resourceTypes.map { $0.json(baseURL: baseURL) }
        return ListResponse(totalResults: all.count, startIndex: 1, resources: all)
    }
}
