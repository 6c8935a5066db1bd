public import JSON

// Validation and normalisation of resource bodies for create (POST) and replace (PUT).
//
// Policies (RFC 7643/7644 where they decide, ours where they do not):
// - Attribute names match case-insensitively and come out in canonical casing (RFC 7643 §2.1).
// - Unknown attributes and unknown schema extensions are dropped: IdPs send junk ([docs/idp-behaviour.md#all-unknown-and-extra-attributes]).
// - `null`, `[]` and `{}` mean "unassigned" (RFC 7643 §2.5) and are not stored.
// - readOnly attributes in input are ignored (RFC 7643 §2.2); the caller stamps `id` and `meta`.
// - writeOnly attributes (password) are taken out of the document into `writeOnlyValues`, so they are never
//   stored with the resource nor returned.
// - immutable attributes: on replace a differing value is `400 mutability`; an omitted value keeps the old one.
// - Two keys naming the same attribute in different case (`userName` and `USERNAME`) are `400 invalidSyntax`:
//   which one the IdP meant is ambiguous, as with duplicate JSON keys.
// - `schemas` in the body is optional and its entries are not checked (IdPs send `urn:scim:schemas:core:2.0`,
//   Microsoft's ADSCIM URN, or list the Enterprise URN without data); the stored `schemas` is derived from the data.
// - `primary`: at most one value of a multi-valued attribute may be primary (RFC 7643 §2.4). On create/replace we
//   keep the FIRST value marked primary and set the others to false, rather than failing a whole provisioning run.

extension SchemaRegistry {
    /// The create (existing nil) / replace pipeline by resource type id; an unknown type is 404.
    public func normalise(_ body: JSONValue, resourceType: String, existing: JSONObject?) throws(SCIMError) -> NormalisedResource {
        guard let schema = resourceSchema(resourceType) else { throw .notFound("unknown resource type") }
        return try schema.normalise(body, existing: existing)
    }
}

extension ResourceSchema {
    /// Validates and normalises a POST body.
    public func normaliseForCreate(_ body: JSONValue) throws(SCIMError) -> NormalisedResource {
        try normalise(body, existing: nil)
    }

    /// Validates and normalises a PUT body against the stored resource (for immutable attributes).
    public func normaliseForReplace(_ body: JSONValue, existing: JSONObject) throws(SCIMError) -> NormalisedResource {
        try normalise(body, existing: existing)
    }

    /// Returns `document` with `id` right after `schemas` and `meta` last (replacing any existing ones).
    public func stamp(_ document: JSONObject, id: String, meta: ResourceMeta) -> JSONObject {
        var out = JSONObject()
        out.reserveCapacity(document.count + 2)
        if let s = document["schemas"] { out.appendUnchecked(key: "schemas", value: s) }
        out.appendUnchecked(key: "id", value: .string(id))
        for (k, v) in document where k != "schemas" && k != "id" && k != "meta" { out.appendUnchecked(key: k, value: v) }
        out.appendUnchecked(key: "meta", value: meta.json)
        return out
    }

    func normalise(_ body: JSONValue, existing: JSONObject?) throws(SCIMError) -> NormalisedResource {
        guard case .object(let input) = body else { throw .invalidSyntax("the resource must be a JSON object") }

        // Bucket input values by canonical attribute, rejecting case-variant duplicates.
        var coreInput: [String: JSONValue] = [:]
        var extInput: [String: [String: JSONValue]] = [:]
        for (key, value) in input {
            if asciiCaseInsensitiveEquals(key, "schemas") { continue }
            if let def = coreAttribute(named: key) {
                guard coreInput.updateValue(value, forKey: def.name) == nil else {
                    throw .invalidSyntax("attribute '\(def.name)' is given more than once")
                }
            } else if let ext = extensionSchema(urn: key) {
                guard extInput[ext.id] == nil else { throw .invalidSyntax("extension '\(ext.id)' is given more than once") }
                var bucket: [String: JSONValue] = [:]
                switch value {
                case .null: break
                case .object(let o):
                    for (k2, v2) in o {
                        guard let def = ext.attribute(named: k2) else { continue }
                        guard bucket.updateValue(v2, forKey: def.name) == nil else {
                            throw .invalidSyntax("attribute '\(ext.id):\(def.name)' is given more than once")
                        }
                    }
                default:
                    throw .invalidSyntax("extension '\(ext.id)' must be a JSON object")
                }
                extInput[ext.id] = bucket
            }
            // Anything else is an unknown attribute or schema: dropped.
        }

        var result = NormalisedResource(document: JSONObject(), externalValues: JSONObject(), writeOnlyValues: JSONObject())
        var quirks = QuirkSet()
        var schemas: [JSONValue] = [.string(core.id)]
        var coreOut = JSONObject()

        func process(_ def: AttributeDefinition, _ given: JSONValue?, existingValue: JSONValue?, label: String)
            throws(SCIMError) -> JSONValue?
        {
            switch def.mutability {
            case .readOnly:
                return nil
            case .readWrite, .writeOnly:
                return try given.flatMap { (g) throws(SCIMError) in try ValueNormaliser.normalise(g, def, path: label, quirks: &quirks) }
            case .immutable:
                let new = try given.flatMap { (g) throws(SCIMError) in try ValueNormaliser.normalise(g, def, path: label, quirks: &quirks) }
                guard let old = existingValue else { return new }
                guard let n = new else { return old }
                if n != old { throw .mutability("attribute '\(label)' is immutable and already has a value") }
                return n
            }
        }

        for def in CommonAttributes.all + core.attributes {
            if isExternal(def.name), coreInput[def.name] != nil { result.externalAttributesGiven.append(def.name) }
            let value = try process(def, coreInput[def.name], existingValue: existing?[def.name], label: def.name)
            if def.required && def.mutability != .readOnly && value == nil {
                throw .invalidValue("required attribute '\(def.name)' is missing")
            }
            guard let value else { continue }
            if def.mutability == .writeOnly {
                result.writeOnlyValues.appendUnchecked(key: def.name, value: value)
            } else if isExternal(def.name) {
                result.externalValues.appendUnchecked(key: def.name, value: value)  // presence noted below
            } else {
                coreOut.appendUnchecked(key: def.name, value: value)
            }
        }

        var extOut: [(String, JSONObject)] = []
        for (ext, required) in extensions {
            let given = extInput[ext.id] ?? [:]
            let old = existing?[ext.id]?.object
            var o = JSONObject()
            for def in ext.attributes {
                let label = "\(ext.id):\(def.name)"
                let value = try process(def, given[def.name], existingValue: old?[def.name], label: label)
                if def.required && def.mutability != .readOnly && value == nil && (required || !given.isEmpty) {
                    throw .invalidValue("required attribute '\(label)' is missing")
                }
                guard let value else { continue }
                if def.mutability == .writeOnly {
                    result.writeOnlyValues.appendUnchecked(key: label, value: value)
                } else {
                    o.appendUnchecked(key: def.name, value: value)
                }
            }
            if o.isEmpty {
                if required { throw .invalidValue("required extension '\(ext.id)' is missing") }
                continue
            }
            schemas.append(.string(ext.id))
            extOut.append((ext.id, o))
        }

        var doc = JSONObject()
        doc.reserveCapacity(coreOut.count + extOut.count + 1)
        doc.appendUnchecked(key: "schemas", value: .array(schemas))
        for (k, v) in coreOut { doc.appendUnchecked(key: k, value: v) }
        for (k, v) in extOut { doc.appendUnchecked(key: k, value: .object(v)) }
        result.document = doc
        result.quirks = quirks
        return result
    }
}
