import Postgres

/// What a region schema must keep so that Citus could distribute every tenant table by tenant id, read from the
/// live catalog (pg_catalog) of a migrated database. The rules, after Citus's multi-tenant data modelling
/// (https://docs.citusdata.com/en/stable/sharding/data_modeling.html) and its constraints on distributed tables
/// (https://docs.citusdata.com/en/stable/develop/reference_ddl.html#coordinator-and-worker-constraints):
/// - every table is either a tenant table (it has `tenant_id`; `tenants` itself is keyed by `id`) or listed in
///   `referenceTables` (small, shared, copied to every node);
/// - the tenant column leads the primary key and every unique constraint or unique index of a tenant table (a
///   uniqueness check then stays inside one shard);
/// - a foreign key between tenant tables starts with the tenant column on both sides (both rows live on the same
///   node, in co-located shards); a tenant table may reference a reference table; a reference table may not
///   reference a tenant table;
/// - no tenant table draws values from a sequence (identity or `nextval` default), except those in
///   `sharedSequences`, each with the reason a value drawn across tenants is harmless there.
enum DistributionRules {
    /// Shared tables: Citus reference tables.
    static let referenceTables: [String: String] = [
        "region_secrets": "the region's own keys (list-cursor signing); no tenant data",
        "schema_migrations": "the migrator's bookkeeping",
    ]

    /// Columns of tenant tables filled from a sequence shared by all tenants, and why that is harmless: none of these
    /// values has to be unique, or ordered, across tenants or across nodes, only within what the key before it
    /// already confines to one tenant.
    static let sharedSequences: [String: String] = [
        "group_members.seq": "orders one group's members (compared only within tenant_id, group_id); in no key",
        "events.seq": "orders the events one transaction wrote (compared only within tenant_id, xid); the key is (tenant_id, xid, seq)",
        "webhook_dead_letters.id": "names a dead letter within its tenant; the key is (tenant_id, id) and the API addresses it under the tenant",
        "request_log.seq": "orders the records one batch wrote (compared only within tenant_id, xid); the key is (tenant_id, xid, seq)",
    ]

    /// The column a table would be distributed by.
    static func distributionColumn(_ table: String) -> String { table == "tenants" ? "id" : "tenant_id" }

    /// Every rule broken in `schema`, one line each (empty: Citus-ready).
    static func violations(_ connection: PostgresConnection, schema: String = "public") throws -> [String] {
        var problems: [String] = []
        let tables = try connection.query("""
            SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
                                                                  AND NOT a.attisdropped)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            ORDER BY c.relname
            """, [.text(schema)])
        var tenantTables = Set<String>()
        for row in 0..<tables.rowCount {
            let name = tables.string(row: row, column: 0)!
            let hasTenant = tables.bool(row: row, column: 1) ?? false
            if name == "tenants" || hasTenant {
                tenantTables.insert(name)
                if referenceTables[name] != nil { problems.append("\(name): listed as a reference table but holds tenant rows") }
            } else if referenceTables[name] == nil {
                problems.append("\(name): neither a tenant table (no tenant_id) nor listed as a reference table")
            }
        }

        // Primary keys, unique constraints and unique indexes: the first key column (0 for an expression).
        let keys = try connection.query("""
            SELECT t.relname, ci.relname, i.indisprimary, coalesce(a.attname, '(expression)')
            FROM pg_index i
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            JOIN pg_class ci ON ci.oid = i.indexrelid
            LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE n.nspname = $1 AND (i.indisunique OR i.indisprimary)
            ORDER BY t.relname, ci.relname
            """, [.text(schema)])
        var hasPrimaryKey = Set<String>()
        for row in 0..<keys.rowCount {
            let table = keys.string(row: row, column: 0)!, index = keys.string(row: row, column: 1)!
            let primary = keys.bool(row: row, column: 2) ?? false, first = keys.string(row: row, column: 3)!
            if primary { hasPrimaryKey.insert(table) }
            guard tenantTables.contains(table) else { continue }
            let column = distributionColumn(table)
            if first != column {
                problems.append("\(table): \(primary ? "primary key" : "unique index") \(index) does not start with \(column) (starts with \(first))")
            }
        }
        for table in tenantTables.sorted() where !hasPrimaryKey.contains(table) {
            problems.append("\(table): no primary key (it must start with \(distributionColumn(table)))")
        }

        // Foreign keys: the first column on each side.
        let foreignKeys = try connection.query("""
            SELECT con.conname, src.relname, dst.relname,
                   (SELECT attname FROM pg_attribute WHERE attrelid = con.conrelid AND attnum = con.conkey[1]),
                   (SELECT attname FROM pg_attribute WHERE attrelid = con.confrelid AND attnum = con.confkey[1])
            FROM pg_constraint con
            JOIN pg_class src ON src.oid = con.conrelid
            JOIN pg_class dst ON dst.oid = con.confrelid
            JOIN pg_namespace n ON n.oid = src.relnamespace
            WHERE n.nspname = $1 AND con.contype = 'f'
            ORDER BY src.relname, con.conname
            """, [.text(schema)])
        for row in 0..<foreignKeys.rowCount {
            let name = foreignKeys.string(row: row, column: 0)!, from = foreignKeys.string(row: row, column: 1)!
            let to = foreignKeys.string(row: row, column: 2)!
            let fromFirst = foreignKeys.string(row: row, column: 3) ?? "?", toFirst = foreignKeys.string(row: row, column: 4) ?? "?"
            switch (tenantTables.contains(from), tenantTables.contains(to)) {
            case (true, true):
                if fromFirst != distributionColumn(from) || toFirst != distributionColumn(to) {
                    problems.append("\(from): foreign key \(name) to \(to) does not start with the tenant column on both sides "
                                    + "(\(fromFirst) → \(toFirst))")
                }
            case (false, true):
                problems.append("\(from): reference table with foreign key \(name) to tenant table \(to)")
            case (true, false), (false, false):
                break
            }
        }

        // Columns of tenant tables filled from a sequence.
        let sequenced = try connection.query("""
            SELECT c.relname, a.attname
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
              AND (a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) LIKE '%nextval(%')
            ORDER BY c.relname, a.attname
            """, [.text(schema)])
        for row in 0..<sequenced.rowCount {
            let table = sequenced.string(row: row, column: 0)!, column = sequenced.string(row: row, column: 1)!
            guard tenantTables.contains(table), sharedSequences["\(table).\(column)"] == nil else { continue }
            problems.append("\(table).\(column): filled from a sequence shared by every tenant (not listed as harmless)")
        }
        return problems
    }
}
