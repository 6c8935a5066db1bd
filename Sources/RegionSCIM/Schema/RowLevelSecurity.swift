/// The row-level security every tenant table carries, written once: `ENABLE` and `FORCE` (the table owner is not
/// exempt either) and the `tenant_isolation` policy on `app.tenant_id` (a scalar subquery, so the setting is read
/// once per statement, not per row). Migrations interpolate it for each table they create; a new tenant table that
/// uses it cannot get the policy subtly wrong. (The text is byte for byte what migrations 1–3 wrote by hand, so
/// their recorded checksums still match: `MigrationChecksumTests`.)
enum RowLevelSecurity {
    /// The statements for `table`, whose tenant column is `column`.
    static func tenantIsolation(_ table: String, column: String = "tenant_id") -> String {
        """
        ALTER TABLE \(table) ENABLE ROW LEVEL SECURITY;
        ALTER TABLE \(table) FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON \(table)
            USING (\(column) = (SELECT scim_current_tenant())) WITH CHECK (\(column) = (SELECT scim_current_tenant()));
        """
    }
}
