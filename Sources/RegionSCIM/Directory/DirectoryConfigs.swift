import JSON
package import Postgres
import SCIMCore
import Locking

/// The tenants' role rules and attribute mappings, compiled once per tenant settings version. A configuration change
/// bumps `tenants.settings_version`, which every write transaction reads after taking the directory lock
/// (`DirectoryLock`): a cached configuration is used only while that version still matches, so no write computes
/// with rules older than its own transaction's view.
package final class DirectoryConfigs: Sendable {
    private let cache = Lock<[String: (version: Int64, config: DirectoryConfig)]>([:])

    package init() {}

    static let load = PreparedStatement(
        """
        SELECT r.config::text, r.version, m.mapping::text, m.version
        FROM (SELECT $1::uuid AS tenant_id) t
        LEFT JOIN role_configs r ON r.tenant_id = t.tenant_id
        LEFT JOIN attribute_mappings m ON m.tenant_id = t.tenant_id
        """)

    /// The configuration for `context`'s settings version, read on `connection` (inside the caller's transaction)
    /// when not cached.
    package func config(_ context: TenantContext, _ connection: PostgresConnection) throws -> DirectoryConfig {
        if let hit = cache.withLock({ $0[context.id] }), hit.version == context.version { return hit.config }
        let row = try connection.query(Self.load, [.uuid(context.id)])
        let config = try Self.decode(row, context: context)
        cache.withLock { $0[context.id] = (context.version, config) }
        return config
    }

    /// The configuration read fresh (no cache): for the API's answers.
    static func decode(_ row: PostgresResult, context: TenantContext) throws -> DirectoryConfig {
        var config = DirectoryConfig.none
        guard row.rowCount == 1 else { return config }
        if let text = row.string(row: 0, column: 0) {
            guard let json = try? JSONDecoder.decode(text), let mapping = try? RoleMapping.parse(json) else {
                throw SCIMError(status: 500, detail: "the tenant's stored role configuration is unreadable")
            }
            config.roles = mapping
            config.rolesVersion = row.int(row: 0, column: 1) ?? 0
        }
        if let text = row.string(row: 0, column: 2) {
            guard let json = try? JSONDecoder.decode(text) else {
                throw SCIMError(status: 500, detail: "the tenant's stored attribute mapping is unreadable")
            }
            config.mapping = AttributeMapping.load(json, schema: context.users)
            config.mappingVersion = row.int(row: 0, column: 3) ?? 0
        }
        return config
    }
}
