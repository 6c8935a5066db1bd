/// A tenant's role rules and attribute mapping, as one write transaction or recompute batch uses them.
package struct DirectoryConfig: Sendable {
    /// The roles and rules; nil when the tenant has none (every user has no roles).
    package var roles: RoleMapping?
    /// `role_configs.version` (0 without a configuration).
    package var rolesVersion: Int64
    /// The profile mapping; nil when the tenant maps nothing (`users.profile` stays NULL).
    package var mapping: AttributeMapping?
    /// `attribute_mappings.version` (0 without a mapping).
    package var mappingVersion: Int64

    /// A tenant without either.
    package static let none = DirectoryConfig(roles: nil, rolesVersion: 0, mapping: nil, mappingVersion: 0)
}
