import Postgres

extension RegionDatabase {
    /// Live users (tombstones excluded) and groups of a tenant, for the operator console. Index-only counts under
    /// the tenant's row-level security; a statement timeout keeps a huge tenant from holding a connection long.
    package func tenantCounts(id: String) throws -> (users: Int, groups: Int) {
        try pool.withTransaction(setup: [.prepared(Self.setTenant, [.text(id)])]) { connection in
            _ = try connection.execute("SET LOCAL statement_timeout = '5s'")
            let r = try connection.query("""
                SELECT (SELECT count(*) FROM users WHERE tenant_id = $1::uuid AND deleted_at IS NULL),
                       (SELECT count(*) FROM groups WHERE tenant_id = $1::uuid)
                """, [.text(id)])
            return (Int(r.int(row: 0, column: 0) ?? 0), Int(r.int(row: 0, column: 1) ?? 0))
        }
    }
}
