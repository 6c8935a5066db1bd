import Crypto
package import JSON
package import Postgres

/// The tenant tables of a region database, read from `pg_catalog` at the moment they are needed: every table of the
/// schema with a `tenant_id` column, plus `tenants` itself (keyed by `id`). Ordered by their foreign keys (a table
/// after the tables it references), so a copy could even run with foreign keys enforced.
///
/// Only `excluded` names tables by hand: the ones a move must never copy. A table someone adds in a later migration
/// is copied, compared and purged like the others without a code change; if it cannot be (no primary key, or one
/// that does not start with the tenant column), it is listed in `problems` and a move refuses to start, naming it.
package struct TenantTables: Sendable {
    /// Tables that hold tenant rows but must not be copied, with the reason (checked by `TenantTablesTests`).
    package static let excluded: [String: String] = [
        "tenant_moves": "this region's own state of a move (the write fence and its fencing token), not the tenant's data",
    ]

    /// The table whose `id` is the tenant id (every other tenant table has `tenant_id`).
    package static let root = "tenants"
    /// The tenant column of every other tenant table.
    package static let tenantColumn = "tenant_id"

    /// The tables a move copies, parents before children.
    package var plans: [TablePlan]
    /// Every tenant table's name, copied or excluded (for purges and residue counts).
    package var all: [String]
    /// Why a tenant table cannot be copied (empty when every one can).
    package var problems: [String]

    /// Reads the live schema through `connection`.
    package static func discover(_ connection: PostgresConnection) throws -> TenantTables {
        let tables = try connection.query("""
            SELECT c.oid::bigint, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND (c.relname = $1 OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = $2
                                             AND a.attnum > 0 AND NOT a.attisdropped))
            ORDER BY c.relname
            """, [.text(root), .text(tenantColumn)])
        var names: [Int64: String] = [:]
        for row in 0..<tables.rowCount {
            guard let oid = tables.int(row: row, column: 0), let name = tables.string(row: row, column: 1) else { continue }
            names[oid] = name
        }
        let oids = "{" + names.keys.sorted().map(String.init).joined(separator: ",") + "}"
        let columns = try connection.query("""
            SELECT a.attrelid::bigint, a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '',
                   pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attrelid, a.attnum
            """, [.text(oids)])
        var columnsOf: [Int64: [TablePlan.Column]] = [:]
        for row in 0..<columns.rowCount {
            guard let oid = columns.int(row: row, column: 0), let name = columns.string(row: row, column: 1),
                  let type = columns.string(row: row, column: 2) else { continue }
            columnsOf[oid, default: []].append(TablePlan.Column(name: name, type: type, generated: columns.bool(row: row, column: 3) ?? false,
                                                                sequence: columns.string(row: row, column: 4)))
        }
        let keys = try connection.query("""
            SELECT i.indrelid::bigint, a.attname FROM pg_index i
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indisprimary AND i.indrelid = ANY($1::oid[])
            ORDER BY i.indrelid, k.ord
            """, [.text(oids)])
        var keyOf: [Int64: [String]] = [:]
        for row in 0..<keys.rowCount {
            guard let oid = keys.int(row: row, column: 0), let name = keys.string(row: row, column: 1) else { continue }
            keyOf[oid, default: []].append(name)
        }
        let references = try connection.query("""
            SELECT DISTINCT conrelid::bigint, confrelid::bigint FROM pg_constraint
            WHERE contype = 'f' AND conrelid = ANY($1::oid[]) AND confrelid = ANY($1::oid[]) AND conrelid <> confrelid
            """, [.text(oids)])
        var parentsOf: [Int64: [String]] = [:]
        for row in 0..<references.rowCount {
            guard let child = references.int(row: row, column: 0), let parent = references.int(row: row, column: 1),
                  let parentName = names[parent] else { continue }
            parentsOf[child, default: []].append(parentName)
        }

        var plans: [TablePlan] = []
        var problems: [String] = []
        for (oid, name) in names.sorted(by: { $0.value < $1.value }) where excluded[name] == nil {
            let tenantColumn = name == root ? "id" : Self.tenantColumn
            let columns = columnsOf[oid] ?? []
            let primaryKey = keyOf[oid] ?? []
            guard primaryKey.first == tenantColumn else {
                problems.append(primaryKey.isEmpty
                                ? "table \(name) has no primary key: a move cannot compare or copy its rows"
                                : "table \(name): its primary key (\(primaryKey.joined(separator: ", "))) does not start with \(tenantColumn)")
                continue
            }
            let key = primaryKey.dropFirst().compactMap { k in columns.first { $0.name == k } }
            if key.contains(where: \.generated) {
                problems.append("table \(name): a generated column is part of its primary key")
                continue
            }
            plans.append(TablePlan(name: name, tenantColumn: tenantColumn, columns: columns, key: Array(key),
                                   references: (parentsOf[oid] ?? []).sorted()))
        }
        return TenantTables(plans: Self.parentsFirst(plans), all: names.values.sorted(), problems: problems)
    }

    /// Orders plans so that every table comes after the tables it references (ties and cycles by name).
    static func parentsFirst(_ plans: [TablePlan]) -> [TablePlan] {
        var placed: [TablePlan] = []
        var done = Set<String>()
        // The tenant row first: it is every other table's parent, with or without a foreign key (the request log has
        // none), then by name.
        var waiting = plans.sorted { ($0.name == root ? "" : $0.name) < ($1.name == root ? "" : $1.name) }
        let copied = Set(plans.map(\.name))
        while !waiting.isEmpty {
            if let i = waiting.firstIndex(where: { plan in plan.references.allSatisfy { done.contains($0) || !copied.contains($0) || $0 == plan.name } }) {
                let plan = waiting.remove(at: i)
                placed.append(plan)
                done.insert(plan.name)
            } else {
                // A cycle: take the first by name (the copy runs with triggers and foreign-key checks off anyway).
                let plan = waiting.removeFirst()
                placed.append(plan)
                done.insert(plan.name)
            }
        }
        return placed
    }

    /// The plan of `table`, if it is copied.
    package func plan(_ table: String) -> TablePlan? { plans.first { $0.name == table } }

    /// What two regions compare before a move: the same tables, columns, types and keys on both sides.
    package var fingerprint: String {
        Hex.encode(SHA256.hash(Array(String(decoding: json.encoded(), as: UTF8.self).utf8)))
    }

    /// The description the schema endpoint returns.
    package var json: JSONValue {
        ["tables": .array(plans.map(\.json)),
         "excluded": .array(Self.excluded.keys.sorted().map { ["name": .string($0), "reason": .string(Self.excluded[$0]!)] }),
         "problems": .array(problems.map { .string($0) })]
    }
}
