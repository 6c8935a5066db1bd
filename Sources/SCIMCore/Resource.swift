public import JSON

// Validation and normalisation of resource bodies for create (POST) and replace (PUT).
//
// Policies (RFC 7643/7644 where they decide, ours where they do not):
// - Attribute names match case-insensitively and come out in canonical casing (RFC 7643 §2.1).
// - Unknown attributes and unknown schema extensions are dropped: IdPs send junk (TRACES §8 "Extra or unknown body keys").
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

/// A group member reference, as it is stored in membership rows.
public struct MemberRef: Sendable, Hashable {
    /// The member's id (required).
    public var value: String
    /// "User" or "Group", when given.
    public var type: String?
    /// Display name, when given.
    public var display: String?
    /// `$ref`, when given.
    public var ref: String?

    /// Creates a reference.
    public init(value: String, type: String? = nil, display: String? = nil, ref: String? = nil) {
        self.value = value
        self.type = type
        self.display = display
        self.ref = ref
    }

    /// Parses normalised member objects; each must carry a non-empty `value`.
    public static func list(from value: JSONValue?) throws(SCIMError) -> [MemberRef] {
        guard let value else { return [] }
        guard case .array(let elements) = value else { throw .invalidValue("'members' must be an array of member objects") }
        var out: [MemberRef] = []
        out.reserveCapacity(elements.count)
        for e in elements {
            guard case .object(let o) = e, case .string(let v)? = o[caseInsensitive: "value"], !v.isEmpty else {
                throw .invalidValue("every member needs a non-empty 'value'")
            }
            out.append(MemberRef(value: v, type: o[caseInsensitive: "type"]?.string,
                                 display: o[caseInsensitive: "display"]?.string, ref: o[caseInsensitive: "$ref"]?.string))
        }
        return out
    }

    /// The member as a JSON object (`value`, then `$ref`, `type`, `display` when present).
    public var json: JSONValue {
        var o = JSONObject()
        o.appendUnchecked(key: "value", value: .string(value))
        if let ref { o.appendUnchecked(key: "$ref", value: .string(ref)) }
        if let type { o.appendUnchecked(key: "type", value: .string(type)) }
        if let display { o.appendUnchecked(key: "display", value: .string(display)) }
        return .object(o)
    }
}

/// The outcome of the create/replace pipeline.
public struct NormalisedResource: Sendable, Hashable {
    /// The resource document to store: `schemas` then attributes in schema order; no `id`/`meta` yet.
    public var document: JSONObject
    /// Attributes kept outside the document (e.g. `members`), normalised, by canonical name.
    public var externalValues: JSONObject
    /// writeOnly attributes (e.g. `password`), normalised, by canonical name; never store them in the document.
    public var writeOnlyValues: JSONObject
    /// External attributes present in the body at all (even as `[]` or `null`), by canonical name, so a PUT
    /// without `members` can be told apart from `"members":[]` if the caller wants to.
    public var externalAttributesGiven: [String] = []
    /// The IdP quirks the body needed (string booleans, a lone object for a multi-valued attribute, …).
    public var quirks = QuirkSet()

    /// The group members given (empty when absent: a PUT without `members` clears them).
    public func members() throws(SCIMError) -> [MemberRef] { try MemberRef.list(from: externalValues["members"]) }
}

/// Server-assigned metadata stamped on a stored resource.
public struct ResourceMeta: Sendable, Hashable {
    /// "User" or "Group".
    public var resourceType: String
    /// Creation time (xsd:dateTime).
    public var created: String
    /// Last modification time (xsd:dateTime).
    public var lastModified: String
    /// The resource URL.
    public var location: String
    /// The resource version; rendered in `meta.version` as the weak ETag `W/"<version>"`.
    public var version: String

    /// Creates metadata.
    public init(resourceType: String, created: String, lastModified: String, location: String, version: String) {
        self.resourceType = resourceType
        self.created = created
        self.lastModified = lastModified
        self.location = location
        self.version = version
    }

    /// The `meta` complex value.
    public var json: JSONValue {
        .object([
            "resourceType": .string(resourceType), "created": .string(created), "lastModified": .string(lastModified),
            "location": .string(location), "version": .string(ETag.weak(version: version)),
        ])
    }
}

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

/// Type checking and normalisation of attribute values, shared by create/replace and PATCH.
enum ValueNormaliser {
    /// Normalises a value for an attribute; nil means unassigned. The quirks it needed are added to `quirks`.
    static func normalise(_ v: JSONValue, _ def: AttributeDefinition, path: String, quirks: inout QuirkSet)
        throws(SCIMError) -> JSONValue?
    {
        guard def.multiValued else { return try normaliseSingle(v, def, path: path, quirks: &quirks) }
        let elements: [JSONValue]
        switch v {
        case .null: return nil
        case .array(let a): elements = a
        default:
            elements = [v]  // IdPQuirk.singleValueForMultiValued (OneLogin `emails` object [O3])
            quirks.insert(.singleValueForMultiValued)
        }
        var out: [JSONValue] = []
        out.reserveCapacity(elements.count)
        for e in elements {
            if case .array = e { throw .invalidValue("attribute '\(path)' must not contain nested arrays") }
            if let n = try normaliseSingle(e, def, path: path, quirks: &quirks) { out.append(n) }
        }
        if out.isEmpty { return nil }
        keepFirstPrimary(&out)
        return .array(out)
    }

    /// RFC 7643 §2.4: at most one `primary: true`; the first one wins.
    static func keepFirstPrimary(_ values: inout [JSONValue]) {
        var seen = false
        for i in values.indices {
            guard case .object(var o) = values[i], let pi = o.index(forKey: "primary"), o[pi].value == .bool(true) else { continue }
            if seen {
                o.setValue(.bool(false), at: pi)
                values[i] = .object(o)
            }
            seen = true
        }
    }

    static func normaliseSingle(_ v: JSONValue, _ def: AttributeDefinition, path: String, quirks: inout QuirkSet)
        throws(SCIMError) -> JSONValue?
    {
        if case .null = v { return nil }
        let result: JSONValue
        switch def.type {
        case .complex:
            switch v {
            case .object(let o):
                if IdPDialect.isEmptyValueObject(o) {  // IdPQuirk.complexValueAsString: {"value":""}
                    quirks.insert(.complexValueAsString)
                    return nil
                }
                var out = JSONObject()
                out.reserveCapacity(o.count)
                for (k, sv) in o {
                    guard let sub = def.subAttribute(named: k) else { continue }
                    if sub.mutability == .readOnly { continue }
                    guard out.index(forKey: sub.name) == nil else {
                        throw .invalidSyntax("sub-attribute '\(path).\(sub.name)' is given more than once")
                    }
                    if let n = try normalise(sv, sub, path: path + "." + sub.name, quirks: &quirks) {
                        out.appendUnchecked(key: sub.name, value: n)
                    }
                }
                // Checked again after dropping readOnly/unknown keys: {"value":"","displayName":"x"} is still empty.
                if out.isEmpty { return nil }
                if IdPDialect.isEmptyValueObject(out) {
                    quirks.insert(.complexValueAsString)
                    return nil
                }
                result = .object(out)
            case .string:
                // IdPQuirk.complexValueAsString: Entra sends `manager` as a bare id or "" [E6].
                guard let converted = IdPDialect.complexFromString(v, def) else {
                    throw .invalidValue("attribute '\(path)' must be a complex value (JSON object)")
                }
                quirks.insert(.complexValueAsString)
                guard let c = converted else { return nil }
                return try normaliseSingle(c, def, path: path, quirks: &quirks)
            default:
                throw .invalidValue("attribute '\(path)' must be a complex value (JSON object)")
            }
        case .string, .reference, .binary:
            guard case .string = v else { throw .invalidValue("attribute '\(path)' must be a string") }
            result = v
        case .boolean:
            switch v {
            case .bool: result = v
            case .string(let s):
                // IdPQuirk.booleanAsString: Entra "True"/"False" [E2][E10], OneLogin templates [O4].
                guard let b = IdPDialect.booleanFromString(s) else { throw .invalidValue("attribute '\(path)' must be a boolean") }
                quirks.insert(.booleanAsString)
                result = .bool(b)
            default: throw .invalidValue("attribute '\(path)' must be a boolean")
            }
        case .integer:
            guard case .number(let n) = v, n.isIntegerLiteral, n.int64 != nil else {
                throw .invalidValue("attribute '\(path)' must be an integer")
            }
            result = v
        case .decimal:
            guard case .number = v else { throw .invalidValue("attribute '\(path)' must be a number") }
            result = v
        case .dateTime:
            guard case .string(let s) = v, SCIMDateTime(parsing: s) != nil else {
                throw .invalidValue("attribute '\(path)' must be an xsd:dateTime string")
            }
            result = v
        }
        if let validator = def.validator, !validator.accepts(result) {
            throw .invalidValue("attribute '\(path)' must be a valid \(validator.name)")
        }
        return result
    }
}
