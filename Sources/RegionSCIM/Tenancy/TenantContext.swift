import JSON
package import SCIMCore

/// One tenant's resolved view: settings plus the schemas every request of that tenant works against.
/// Built once per settings version and cached (`TenantDirectory`).
package final class TenantContext: Sendable {
    /// The tenant id.
    package let id: String
    /// `tenants.settings_version` this context was built from.
    package let version: Int64
    /// The settings.
    package let settings: TenantSettings
    /// Standard schemas plus the tenant's extensions and validators.
    package let registry: SchemaRegistry
    /// The User resource type joined with its schemas.
    package let users: ResourceSchema
    /// The Group resource type joined with its schemas.
    package let groups: ResourceSchema
    /// The default projections (no `attributes`/`excludedAttributes`), built once: most requests use them and
    /// building a projection walks every attribute definition.
    package let defaultUserProjection: Projection
    package let defaultGroupProjection: Projection
    let userRenderPlan: RenderPlan
    let groupRenderPlan: RenderPlan

    init(id: String, version: Int64, settings: TenantSettings) throws(SCIMError) {
        self.id = id
        self.version = version
        self.settings = settings
        let registry = try settings.registry()
        self.registry = registry
        guard let users = registry.resourceSchema("User"), let groups = registry.resourceSchema("Group") else {
            throw SCIMError(status: 500, detail: "the schema registry lacks User or Group")
        }
        self.users = users
        self.groups = groups
        self.defaultUserProjection = Projection(schema: users)
        self.defaultGroupProjection = Projection(schema: groups)
        self.userRenderPlan = RenderPlan(.user, users, defaultProjection: defaultUserProjection)
        self.groupRenderPlan = RenderPlan(.group, groups, defaultProjection: defaultGroupProjection)
    }

    package func renderPlan(_ kind: ResourceKind) -> RenderPlan { kind == .user ? userRenderPlan : groupRenderPlan }
}
