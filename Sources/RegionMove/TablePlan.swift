package import JSON

/// How one tenant table is copied, compared and purged, as read from the live schema (`TenantTables`). Nothing here
/// names a particular table: the statements are generated from the columns, the primary key and the sequences the
/// catalog reports, so a table another migration adds is carried without a code change.
package struct TablePlan: Sendable, Equatable {
    /// One column of the table.
    package struct Column: Sendable, Equatable {
        package var name: String
        /// `format_type` of the column (used for casts of key values, e.g. `uuid`, `text`, `xid8`).
        package var type: String
        /// `GENERATED ALWAYS AS (…) STORED`: derived, never copied.
        package var generated: Bool
        /// An identity column or a serial one: its sequence (schema-qualified, as `pg_get_serial_sequence` says).
        package var sequence: String?
    }

    /// The table's name (in the region's schema).
    package var name: String
    /// The column holding the tenant id: `tenant_id`, or `id` for the `tenants` table itself.
    package var tenantColumn: String
    /// Every column, in table order.
    package var columns: [Column]
    /// The primary key's columns after the tenant column, in key order (empty: at most one row per tenant).
    package var key: [Column]
    /// Tables this one references (foreign keys): copied before it.
    package var references: [String]

    /// The columns copied and compared: all but generated ones.
    var copied: [Column] { columns.filter { !$0.generated } }

    var table: String { SQLName(name).quoted }
    var tenant: String { "t." + SQLName(tenantColumn).quoted }

    /// The row as PostgreSQL's text output of a record of the copied columns: the same bytes on any server for the
    /// same values (the session's TimeZone, DateStyle, extra_float_digits, bytea_output and IntervalStyle are fixed
    /// by `TenantCopy` before any of these statements run).
    var rowText: String { "ROW(" + copied.map { "t." + SQLName($0.name).quoted }.joined(separator: ", ") + ")::text" }

    /// The bucket of a row: the first 32 bits of the MD5 of its key's text, modulo the bucket count (`$2`). MD5 and
    /// record text are the same everywhere, so both regions put a row in the same bucket.
    var bucket: String {
        guard !key.isEmpty else { return "0::bigint" }
        let keyText = "ROW(" + key.map { "t." + SQLName($0.name).quoted }.joined(separator: ", ") + ")::text"
        return "(('x' || substr(md5(\(keyText)), 1, 8))::bit(32)::bigint % $2::bigint)"
    }

    var orderBy: String { key.map { "t." + SQLName($0.name).quoted }.joined(separator: ", ") }

    /// `AND (t.k1, …) > ($n::type1, …)` for keyset paging, with parameters from `first`.
    func after(_ first: Int) -> String {
        let columns = key.map { "t." + SQLName($0.name).quoted }.joined(separator: ", ")
        let values = key.enumerated().map { "$\(first + $0.offset)::\($0.element.type)" }.joined(separator: ", ")
        return " AND (\(columns)) > (\(values))"
    }

    /// The filters shared by hashing and export: the tenant, the page's start and the buckets asked for. Parameters:
    /// `$1` tenant, `$2` bucket count, `$3` limit, then the key values of `after`, then the bucket list.
    func filter(after: Bool, only: Bool) -> String {
        var sql = "\(tenant) = $1::uuid"
        if after && !key.isEmpty { sql += self.after(4) }
        if only { sql += " AND \(bucket) = ANY($\(4 + (after ? key.count : 0))::bigint[])" }
        return sql
    }

    // MARK: Statements

    /// One page of bucket digests: `{"rows": n, "last": [key…] | null, "buckets": [[b, count, "s1", "s2"], …]}`, where
    /// s1 and s2 are the sums modulo 2^64 of the two halves of each row's MD5 (order-independent, so pages and
    /// buckets add up across calls).
    func hashPage(after: Bool, only: Bool) -> String {
        let lastKey = key.isEmpty ? "NULL::json"
            : "(SELECT json_build_array(" + key.map { "p." + SQLName($0.name).quoted }.joined(separator: ", ") + ") FROM page p ORDER BY "
              + key.map { "p." + SQLName($0.name).quoted + " DESC" }.joined(separator: ", ") + " LIMIT 1)"
        let keySelect = key.map { "t." + SQLName($0.name).quoted }.joined(separator: ", ")
        let modulus = "18446744073709551616"
        return """
            WITH page AS MATERIALIZED (
                SELECT \(keySelect.isEmpty ? "" : keySelect + ", ")md5(\(rowText)) AS h, \(bucket) AS b
                FROM \(table) t WHERE \(filter(after: after, only: only))
                \(key.isEmpty ? "" : "ORDER BY " + orderBy) LIMIT $3),
            agg AS (SELECT b, count(*) AS n, sum(('x' || substr(h, 1, 16))::bit(64)::bigint) AS s1,
                           sum(('x' || substr(h, 17, 16))::bit(64)::bigint) AS s2
                    FROM page GROUP BY b)
            SELECT json_build_object(
                'rows', (SELECT count(*) FROM page),
                'last', \(lastKey),
                'buckets', (SELECT coalesce(json_agg(json_build_array(b, n, (((s1 % \(modulus)) + \(modulus)) % \(modulus))::text,
                                                                   (((s2 % \(modulus)) + \(modulus)) % \(modulus))::text)), '[]'::json)
                            FROM agg))::text
            """
    }

    /// One page of rows as JSON objects (one text per row), each with its key as a JSON array.
    func exportPage(after: Bool, only: Bool) -> String {
        let names = copied.map { SQLName($0.name).quoted }.joined(separator: ", ")
        let selected = copied.map { "t." + SQLName($0.name).quoted }.joined(separator: ", ")
        let keyArray = key.isEmpty ? "'[]'::json" : "json_build_array(" + key.map { "r." + SQLName($0.name).quoted }.joined(separator: ", ") + ")"
        let rOrder = key.map { "r." + SQLName($0.name).quoted }.joined(separator: ", ")
        return """
            SELECT row_to_json(r)::text, \(keyArray)::text FROM (
                SELECT \(selected) FROM \(table) t WHERE \(filter(after: after, only: only))
                \(key.isEmpty ? "" : "ORDER BY " + orderBy) LIMIT $3) AS r (\(names))
            \(key.isEmpty ? "" : "ORDER BY " + rOrder)
            """
    }

    /// How many rows of the JSON array `$2` belong to another tenant than `$1` (an import refuses them all).
    var foreignRows: String {
        "SELECT count(*) FROM json_populate_recordset(NULL::\(table), $2::json) t WHERE \(tenant) IS DISTINCT FROM $1::uuid"
    }

    /// Inserts the JSON array `$2` (rows as `exportPage` renders them). Identity values are kept (OVERRIDING SYSTEM
    /// VALUE); a row that is already there, or that collides with a unique index while the source is still changing,
    /// is left out — the next comparison round finds and fixes whatever that leaves different.
    var insertRows: String {
        let names = copied.map { SQLName($0.name).quoted }.joined(separator: ", ")
        let selected = copied.map { "t." + SQLName($0.name).quoted }.joined(separator: ", ")
        return """
            INSERT INTO \(table) (\(names)) OVERRIDING SYSTEM VALUE
            SELECT \(selected) FROM json_populate_recordset(NULL::\(table), $2::json) t
            WHERE \(tenant) = $1::uuid
            ON CONFLICT DO NOTHING
            """
    }

    /// Deletes the tenant's rows in the buckets `$3` (of `$2` buckets), or all of them when the table has no key
    /// beyond the tenant.
    var clearBuckets: String {
        if key.isEmpty { return "DELETE FROM \(table) t WHERE \(tenant) = $1::uuid AND $2::bigint > 0 AND $3::bigint[] IS NOT NULL" }
        return "DELETE FROM \(table) t WHERE \(tenant) = $1::uuid AND \(bucket) = ANY($3::bigint[])"
    }

    /// Deletes up to `$2` of the tenant's rows.
    var purgeBatch: String {
        "DELETE FROM \(table) WHERE ctid = ANY (ARRAY(SELECT ctid FROM \(table) t WHERE \(tenant) = $1::uuid LIMIT $2))"
    }

    /// The tenant's row count.
    var count: String { "SELECT count(*) FROM \(table) t WHERE \(tenant) = $1::uuid" }

    /// Whether the tenant has a row (cheaper than `count` for a yes/no).
    var exists: String { "SELECT EXISTS (SELECT 1 FROM \(table) t WHERE \(tenant) = $1::uuid)" }

    /// The tenant's largest value of a sequence-fed column.
    func maxValue(_ column: Column) -> String {
        "SELECT max(t.\(SQLName(column.name).quoted))::bigint FROM \(table) t WHERE \(tenant) = $1::uuid"
    }

    // MARK: Keys

    /// The key values of a page boundary (a JSON array from `hashPage`'s `last` or `exportPage`'s key) as text
    /// parameters in key order; nil when it does not fit the key.
    func keyParameters(_ value: JSONValue) -> [String]? {
        guard case .array(let items) = value, items.count == key.count, !key.isEmpty else { return nil }
        var out: [String] = []
        for item in items {
            switch item {
            case .string(let s): out.append(s)
            case .number(let n): out.append(n.description)
            case .bool(let b): out.append(b ? "true" : "false")
            default: return nil
            }
        }
        return out
    }

    // MARK: Description

    /// The plan as JSON (the schema endpoint; two regions must describe every table identically).
    package var json: JSONValue {
        func column(_ c: Column) -> JSONValue {
            var o: JSONObject = ["name": .string(c.name), "type": .string(c.type)]
            if c.generated { o.set("generated", true) }
            if let s = c.sequence { o.set("sequence", .string(s)) }
            return .object(o)
        }
        return ["name": .string(name), "tenantColumn": .string(tenantColumn), "columns": .array(columns.map(column)),
                "key": .array(key.map { .string($0.name) }), "references": .array(references.map { .string($0) })]
    }
}
