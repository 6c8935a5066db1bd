public import JSON

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

}
