public import JSON

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
