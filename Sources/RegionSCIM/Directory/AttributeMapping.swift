package import JSON
package import SCIMCore

/// A tenant's mapping from the SCIM attributes its IdP sends (core, enterprise extension, or the tenant's own schema
/// extensions) to the operator app's canonical profile fields. Pure; resolved against the tenant's User schema.
///
/// ```json
/// {"fields": [
///   {"name": "department", "type": "string",
///    "sources": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
///                "urn:ietf:params:scim:schemas:extension:profitco:2.0:User:department"]},
///   {"name": "jobTitle", "type": "string", "sources": ["title"]},
///   {"name": "language", "type": "string", "sources": ["preferredLanguage", "locale"]},
///   {"name": "managerId", "type": "string",
///    "sources": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"]},
///   {"name": "workEmail", "type": "string", "sources": ["emails[type eq \"work\"].value", "emails.value"]}]}
/// ```
/// Sources are written as PATCH paths (RFC 7644 §3.5.2). Saving checks that each source exists in the tenant's
/// schemas and that its type fits the field (`ProfileField.FieldType.accepts`). Attributes no field maps stay in
/// the SCIM resource, unchanged (the raw data is always there).
package struct AttributeMapping: Sendable, Equatable {
    package let fields: [ProfileField]

    /// Limits (a request beyond them is refused with 400 and changes nothing).
    package static let maxFields = 100
    package static let maxSources = 5

    /// Validates a mapping against the tenant's User schema; the error names the offending field.
    package static func parse(_ body: JSONValue, schema: ResourceSchema) throws(SCIMError) -> AttributeMapping {
        guard case .object(let o) = body else { throw .invalidSyntax("the attribute mapping must be a JSON object") }
        for key in o.keys where key != "fields" {
            throw .invalidValue("'\(key.prefix(64))' is not a field of the attribute mapping (fields)")
        }
        guard case .array(let list)? = o["fields"] else { throw .invalidValue("'fields' must be an array of fields") }
        guard list.count <= maxFields else {
            throw .invalidValue("'fields' has \(list.count) fields; at most \(maxFields) are allowed")
        }
        var fields: [ProfileField] = []
        var names: Set<String> = []
        for (i, entry) in list.enumerated() {
            let field = "fields[\(i)]"
            guard case .object(let f) = entry else { throw .invalidValue("'\(field)' must be an object") }
            for key in f.keys where !["name", "type", "multiValued", "sources"].contains(key) {
                throw .invalidValue("'\(field).\(key.prefix(64))' is not a field of a profile field (name, type, multiValued, sources)")
            }
            guard case .string(let name)? = f["name"], isFieldName(name) else {
                throw .invalidValue("'\(field).name' must be a letter, then letters, digits or _ (1-64 bytes)")
            }
            guard names.insert(name.lowercased()).inserted else {
                throw .invalidValue("'\(field).name': '\(name)' is mapped twice")
            }
            var type = ProfileField.FieldType.string
            if let t = f["type"], !t.isNull {
                guard let s = t.string, let parsed = ProfileField.FieldType(rawValue: s) else {
                    throw .invalidValue("'\(field).type' must be one of \(ProfileField.FieldType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                type = parsed
            }
            var multiValued = false
            if let m = f["multiValued"], !m.isNull {
                guard let b = m.bool else { throw .invalidValue("'\(field).multiValued' must be a boolean") }
                multiValued = b
            }
            guard case .array(let sourceList)? = f["sources"], (1...maxSources).contains(sourceList.count) else {
                throw .invalidValue("'\(field).sources' must be an array of 1 to \(maxSources) attribute paths")
            }
            var sources: [AttributeSelector] = []
            for (j, s) in sourceList.enumerated() {
                guard case .string(let text) = s else { throw .invalidValue("'\(field).sources[\(j)]' must be a string") }
                let selector: AttributeSelector
                do {
                    selector = try AttributeSelector(parsing: text, schema: schema)
                } catch {
                    throw .invalidValue("'\(field).sources[\(j)]': \(error.detail ?? "not an attribute path")")
                }
                guard type.accepts(selector.type) else {
                    throw .invalidValue("'\(field).sources[\(j)]': '\(text.prefix(120))' is of type \(selector.type.rawValue), which does not fit the field's type \(type.rawValue)")
                }
                sources.append(selector)
            }
            fields.append(ProfileField(name: name, type: type, multiValued: multiValued, sources: sources))
        }
        return AttributeMapping(fields: fields)
    }

    /// A stored mapping against the tenant's current schema. Lenient: a source that no longer resolves (the tenant
    /// dropped a schema extension since) is left out, so its field falls to the next source or null; a write is
    /// never refused because of the mapping.
    package static func load(_ stored: JSONValue, schema: ResourceSchema) -> AttributeMapping {
        var fields: [ProfileField] = []
        for f in stored["fields"]?.array ?? [] {
            guard let name = f["name"]?.string, let type = f["type"]?.string.flatMap(ProfileField.FieldType.init(rawValue:)) else {
                continue
            }
            let sources = (f["sources"]?.array ?? []).compactMap { s -> AttributeSelector? in
                guard let text = s.string, let selector = try? AttributeSelector(parsing: text, schema: schema),
                      type.accepts(selector.type) else { return nil }
                return selector
            }
            fields.append(ProfileField(name: name, type: type, multiValued: f["multiValued"]?.bool ?? false, sources: sources))
        }
        return AttributeMapping(fields: fields)
    }

    /// The profile of a user document: every field, in mapping order, with its value or null.
    package func profile(_ document: JSONObject) -> JSONObject {
        var problems: [String] = []
        return profile(document, problems: &problems)
    }

    /// The profile, and the values that were present but of the wrong type.
    package func profile(_ document: JSONObject, problems: inout [String]) -> JSONObject {
        var o = JSONObject()
        o.reserveCapacity(fields.count)
        for field in fields { o.appendUnchecked(key: field.name, value: field.value(in: document, problems: &problems)) }
        return o
    }

    /// The attributes present in `document` that no field reads (as `name` or `urn:…:name`, sorted): what stays
    /// available only in the raw SCIM resource.
    package func unmapped(_ document: JSONObject, schema: ResourceSchema) -> [String] {
        var used: Set<String> = []
        for field in fields {
            for source in field.sources {
                let p = source.path
                if case .extension(let urn) = p.container {
                    used.insert(urn.lowercased() + ":" + p.attribute.name.lowercased())
                } else {
                    used.insert(p.attribute.name.lowercased())
                }
            }
        }
        var out: [String] = []
        for (key, value) in document where !["schemas", "id", "meta"].contains(key) && !value.isNull {
            if let ext = schema.extensionSchema(urn: key), case .object(let attributes) = value {
                for (name, v) in attributes where !v.isNull && !used.contains(ext.id.lowercased() + ":" + name.lowercased()) {
                    out.append(ext.id + ":" + name)
                }
            } else if !used.contains(key.lowercased()) {
                out.append(key)
            }
        }
        return out.sorted()
    }

    /// The mapping as stored and returned.
    package var json: JSONValue { ["fields": .array(fields.map(\.json))] }

    /// `ALPHA *(ALPHA / DIGIT / "_")`, at most 64 bytes: a name every JSON consumer and programming language takes.
    static func isFieldName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard let first = u.first, u.count <= 64 else { return false }
        func alpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
        guard alpha(first) else { return false }
        return u.allSatisfy { alpha($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "_") }
    }
}
