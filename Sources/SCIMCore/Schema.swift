public import JSON

/// RFC 7643 §2.3 attribute data types.
public enum AttributeType: String, Sendable, Hashable {
    case string, boolean, decimal, integer, dateTime, reference, complex, binary
}

/// RFC 7643 §7 `mutability`.
public enum Mutability: String, Sendable, Hashable {
    case readOnly, readWrite, immutable, writeOnly
}

/// RFC 7643 §7 `returned`.
public enum Returned: String, Sendable, Hashable {
    case always, never, `default`, request
}

/// RFC 7643 §7 `uniqueness`.
public enum Uniqueness: String, Sendable, Hashable {
    case none, server, global
}

/// A per-attribute value check (e.g. ISO 639-1 for a tenant's `preferredLanguage`).
public struct ValueValidator: Sendable, Hashable {
    /// Name used in error details and for equality.
    public let name: String
    let check: @Sendable (JSONValue) -> Bool

    /// Creates a validator; `check` returns true when the value is acceptable.
    public init(name: String, check: @escaping @Sendable (JSONValue) -> Bool) {
        self.name = name
        self.check = check
    }

    /// Runs the check.
    public func accepts(_ value: JSONValue) -> Bool { check(value) }

    public static func == (a: ValueValidator, b: ValueValidator) -> Bool { a.name == b.name }
    public func hash(into h: inout Hasher) { h.combine(name) }

    /// ISO 639-1: exactly two ASCII letters (`en`), optionally with a region (`en-US`, `en_US`) when `allowRegion`.
    public static func iso639_1(allowRegion: Bool = false) -> ValueValidator {
        ValueValidator(name: allowRegion ? "ISO 639-1 language tag" : "ISO 639-1 language code") { value in
            guard let s = value.string else { return false }
            let b = Array(s.utf8)
            func letter(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
            guard b.count >= 2, letter(b[0]), letter(b[1]) else { return false }
            if b.count == 2 { return true }
            guard allowRegion, b.count == 5, b[2] == UInt8(ascii: "-") || b[2] == UInt8(ascii: "_") else { return false }
            return letter(b[3]) && letter(b[4])
        }
    }
}

/// One attribute definition (RFC 7643 §7); drives validation, PATCH, filters and projection.
public struct AttributeDefinition: Sendable, Hashable {
    /// Canonical attribute name.
    public var name: String
    /// Data type.
    public var type: AttributeType
    /// Whether the attribute holds a list of values.
    public var multiValued: Bool
    /// Human-readable description (published in /Schemas).
    public var description: String
    /// Whether a value is required on create/replace.
    public var required: Bool
    /// Whether string comparisons are case-sensitive.
    public var caseExact: Bool
    /// Who may write the attribute.
    public var mutability: Mutability
    /// When the attribute is returned.
    public var returned: Returned
    /// Uniqueness the service provider enforces.
    public var uniqueness: Uniqueness
    /// Suggested values (published, not enforced: IdPs send their own, e.g. Entra's random role types [E10]).
    public var canonicalValues: [String]
    /// Resource types a reference may point to.
    public var referenceTypes: [String]
    /// Sub-attributes of a complex attribute.
    public var subAttributes: [AttributeDefinition]
    /// An extra per-attribute check applied on input.
    public var validator: ValueValidator?

    /// Creates a definition with RFC 7643 §2.2 defaults.
    public init(_ name: String, _ type: AttributeType = .string, multiValued: Bool = false, description: String = "",
                required: Bool = false, caseExact: Bool = false, mutability: Mutability = .readWrite,
                returned: Returned = .default, uniqueness: Uniqueness = .none, canonicalValues: [String] = [],
                referenceTypes: [String] = [], subAttributes: [AttributeDefinition] = [], validator: ValueValidator? = nil) {
        self.name = name
        self.type = type
        self.multiValued = multiValued
        self.description = description
        self.required = required
        self.caseExact = caseExact
        self.mutability = mutability
        self.returned = returned
        self.uniqueness = uniqueness
        self.canonicalValues = canonicalValues
        self.referenceTypes = referenceTypes
        self.subAttributes = subAttributes
        self.validator = validator
    }

    /// Sub-attribute by name, ignoring case.
    public func subAttribute(named n: String) -> AttributeDefinition? {
        for s in subAttributes where asciiCaseInsensitiveEquals(s.name, n) { return s }
        return nil
    }
}

/// A schema (RFC 7643 §7): an id URN and its attributes.
public struct Schema: Sendable, Hashable {
    /// Schema URN.
    public var id: String
    /// Short name.
    public var name: String
    /// Human-readable description.
    public var description: String
    /// Top-level attributes.
    public var attributes: [AttributeDefinition]

    /// Creates a schema.
    public init(id: String, name: String, description: String = "", attributes: [AttributeDefinition]) {
        self.id = id
        self.name = name
        self.description = description
        self.attributes = attributes
    }

    /// Attribute by name, ignoring case.
    public func attribute(named n: String) -> AttributeDefinition? {
        for a in attributes where asciiCaseInsensitiveEquals(a.name, n) { return a }
        return nil
    }
}

/// A schema extension reference inside a resource type.
public struct SchemaExtension: Sendable, Hashable {
    /// Extension schema URN.
    public var schema: String
    /// Whether resources must carry the extension.
    public var required: Bool
    /// Creates a reference.
    public init(schema: String, required: Bool = false) {
        self.schema = schema
        self.required = required
    }
}

/// A resource type (RFC 7643 §6).
public struct ResourceType: Sendable, Hashable {
    /// Resource type id ("User").
    public var id: String
    /// Resource type name.
    public var name: String
    /// Endpoint path ("/Users").
    public var endpoint: String
    /// Human-readable description.
    public var description: String
    /// Core schema URN.
    public var schema: String
    /// Extension schemas.
    public var schemaExtensions: [SchemaExtension]
    /// Attributes stored outside the JSON document (e.g. Group `members`, kept as SQL rows).
    public var externalAttributes: [String]

    /// Creates a resource type.
    public init(id: String, name: String, endpoint: String, description: String = "", schema: String,
                schemaExtensions: [SchemaExtension] = [], externalAttributes: [String] = []) {
        self.id = id
        self.name = name
        self.endpoint = endpoint
        self.description = description
        self.schema = schema
        self.schemaExtensions = schemaExtensions
        self.externalAttributes = externalAttributes
    }
}

/// Where an attribute lives in a resource document.
public enum AttributeContainer: Sendable, Hashable {
    /// Top level: core schema attributes and the common attributes (id, externalId, meta).
    case core
    /// Inside the object keyed by this extension schema URN.
    case `extension`(String)
}

/// A resource type joined with its schemas: the view every pipeline works against.
public struct ResourceSchema: Sendable, Hashable {
    /// The resource type.
    public let resourceType: ResourceType
    /// Its core schema.
    public let core: Schema
    /// Extension schemas with their `required` flag, in resource type order.
    public let extensions: [(schema: Schema, required: Bool)]

    init(resourceType: ResourceType, core: Schema, extensions: [(schema: Schema, required: Bool)]) {
        self.resourceType = resourceType
        self.core = core
        self.extensions = extensions
    }

    public static func == (a: ResourceSchema, b: ResourceSchema) -> Bool {
        a.resourceType == b.resourceType && a.core == b.core
            && a.extensions.map(\.schema) == b.extensions.map(\.schema)
            && a.extensions.map(\.required) == b.extensions.map(\.required)
    }

    public func hash(into h: inout Hasher) {
        h.combine(resourceType)
        h.combine(core)
    }

    /// Common attribute (id, externalId, meta) or core attribute by name, ignoring case.
    public func coreAttribute(named n: String) -> AttributeDefinition? {
        if let a = core.attribute(named: n) { return a }
        for a in CommonAttributes.all where asciiCaseInsensitiveEquals(a.name, n) { return a }
        return nil
    }

    /// Extension schema by URN, ignoring case.
    public func extensionSchema(urn: String) -> Schema? {
        for e in extensions where asciiCaseInsensitiveEquals(e.schema.id, urn) { return e.schema }
        return nil
    }

    /// The core schema or an extension by URN, ignoring case.
    public func schema(urn: String) -> Schema? {
        if asciiCaseInsensitiveEquals(core.id, urn) { return core }
        return extensionSchema(urn: urn)
    }

    /// Whether an attribute (canonical name, top level) is kept outside the document.
    public func isExternal(_ name: String) -> Bool {
        resourceType.externalAttributes.contains { asciiCaseInsensitiveEquals($0, name) }
    }

    /// Attributes in document order: common first, then core, then each extension.
    var allTopLevel: [(AttributeContainer, AttributeDefinition)] {
        var r: [(AttributeContainer, AttributeDefinition)] = []
        for a in CommonAttributes.all { r.append((.core, a)) }
        for a in core.attributes { r.append((.core, a)) }
        for e in extensions { for a in e.schema.attributes { r.append((.extension(e.schema.id), a)) } }
        return r
    }
}

/// The common attributes every resource has (RFC 7643 §3.1).
public enum CommonAttributes {
    /// `id`: server-assigned, readOnly, returned always, caseExact.
    public static let id = AttributeDefinition("id", caseExact: true, mutability: .readOnly, returned: .always, uniqueness: .server)
    /// `externalId`: client-assigned, caseExact.
    public static let externalId = AttributeDefinition("externalId", caseExact: true)
    /// `meta`: readOnly complex.
    public static let meta = AttributeDefinition("meta", .complex, mutability: .readOnly, subAttributes: [
        AttributeDefinition("resourceType", caseExact: true, mutability: .readOnly),
        AttributeDefinition("created", .dateTime, mutability: .readOnly),
        AttributeDefinition("lastModified", .dateTime, mutability: .readOnly),
        AttributeDefinition("location", .reference, caseExact: true, mutability: .readOnly, referenceTypes: ["uri"]),
        AttributeDefinition("version", caseExact: true, mutability: .readOnly),
    ])
    /// `schemas`: filterable (`schemas eq "urn:…"`, RFC 7644 §3.4.2.2), maintained by the server.
    public static let schemas = AttributeDefinition("schemas", .reference, multiValued: true, caseExact: true,
                                                    mutability: .readOnly, returned: .always, referenceTypes: ["uri"])
    /// All common attributes.
    public static let all: [AttributeDefinition] = [schemas, id, externalId, meta]
}

/// The schemas and resource types a tenant sees: the core ones plus any per-tenant extensions.
public struct SchemaRegistry: Sendable {
    /// All schemas, core and extensions.
    public private(set) var schemas: [Schema]
    /// All resource types.
    public private(set) var resourceTypes: [ResourceType]
    private var views: [String: ResourceSchema] = [:]

    /// Builds a registry; every schema a resource type names must be present.
    public init(schemas: [Schema], resourceTypes: [ResourceType]) {
        self.schemas = schemas
        self.resourceTypes = resourceTypes
        rebuildViews()
    }

    private mutating func rebuildViews() {
        var v: [String: ResourceSchema] = [:]
        for rt in resourceTypes {
            guard let core = schemas.first(where: { asciiCaseInsensitiveEquals($0.id, rt.schema) }) else { continue }
            var exts: [(schema: Schema, required: Bool)] = []
            for e in rt.schemaExtensions {
                if let s = schemas.first(where: { asciiCaseInsensitiveEquals($0.id, e.schema) }) {
                    exts.append((s, e.required))
                }
            }
            v[rt.id.lowercased()] = ResourceSchema(resourceType: rt, core: core, extensions: exts)
        }
        views = v
    }

    /// The standard registry: User (with EnterpriseUser) and Group.
    public static let standard = SchemaRegistry(
        schemas: [StandardSchemas.user, StandardSchemas.enterpriseUser, StandardSchemas.group],
        resourceTypes: [StandardSchemas.userResourceType, StandardSchemas.groupResourceType])

    /// A copy with an extra extension schema attached to a resource type (per-tenant custom schema).
    public func adding(extension schema: Schema, to resourceTypeID: String, required: Bool = false) -> SchemaRegistry {
        var copy = self
        if let i = copy.schemas.firstIndex(where: { asciiCaseInsensitiveEquals($0.id, schema.id) }) {
            copy.schemas[i] = schema
        } else {
            copy.schemas.append(schema)
        }
        if let i = copy.resourceTypes.firstIndex(where: { asciiCaseInsensitiveEquals($0.id, resourceTypeID) }),
           !copy.resourceTypes[i].schemaExtensions.contains(where: { asciiCaseInsensitiveEquals($0.schema, schema.id) }) {
            copy.resourceTypes[i].schemaExtensions.append(SchemaExtension(schema: schema.id, required: required))
        }
        copy.rebuildViews()
        return copy
    }

    /// A copy where one attribute (found by schema URN and name, case-insensitive) is changed,
    /// e.g. to attach a validator to core `preferredLanguage` for one tenant.
    public func modifying(schema urn: String, attribute name: String,
                          _ change: (inout AttributeDefinition) -> Void) -> SchemaRegistry {
        var copy = self
        guard let si = copy.schemas.firstIndex(where: { asciiCaseInsensitiveEquals($0.id, urn) }),
              let ai = copy.schemas[si].attributes.firstIndex(where: { asciiCaseInsensitiveEquals($0.name, name) })
        else { return copy }
        change(&copy.schemas[si].attributes[ai])
        copy.rebuildViews()
        return copy
    }

    /// The joined view for a resource type id ("User", "Group"), ignoring case.
    public func resourceSchema(_ resourceTypeID: String) -> ResourceSchema? { views[resourceTypeID.lowercased()] }

    /// Schema by URN, ignoring case.
    public func schema(urn: String) -> Schema? {
        schemas.first { asciiCaseInsensitiveEquals($0.id, urn) }
    }
}
