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

    /// The export's filter: the tenant, the page's start and the buckets asked for. Parameters: `$1` tenant, `$2`
    /// bucket count, `$3` limit, then the key values of `after`, then the bucket list.
    func filter(after: Bool, only: Bool) -> String {
        var sql = "\(tenant) = $1::uuid"
        if after && !key.isEmpty { sql += self.after(4) }
        // IN (SELECT unnest(…)) is a hashed subplan: a list of thousands of buckets costs one probe per row.
        if only { sql += " AND \(bucket) IN (SELECT unnest($\(4 + (after ? key.count : 0))::bigint[]))" }
        return sql
    }

    // MARK: Statements

    /// The bucket digests of the tenant's rows in buckets `$3 ..< $4` (of `$2`), as rows `(b, n, s1, s2)`: per
    /// bucket the row count and the sums modulo 2^64 of the two halves of each row's MD5 (order-independent, so no
    /// sort). The bucket is computed once per row, the row's MD5 only for rows in the range (`OFFSET 0` keeps each
    /// lateral expression from being inlined, and so evaluated twice).
    /// `filter` narrows the buckets further (an SQL condition on `k.b`, e.g. a bucket list).
    func digestRows(filter: String? = nil) -> String {
        let modulus = "18446744073709551616"
        return """
            SELECT k.b, count(*) AS n,
                   (((sum(('x' || substr(x.h, 1, 16))::bit(64)::bigint) % \(modulus)) + \(modulus)) % \(modulus)) AS s1,
                   (((sum(('x' || substr(x.h, 17, 16))::bit(64)::bigint) % \(modulus)) + \(modulus)) % \(modulus)) AS s2
            FROM \(table) t CROSS JOIN LATERAL (SELECT \(bucket) AS b OFFSET 0) k
                 CROSS JOIN LATERAL (SELECT md5(\(rowText)) AS h OFFSET 0) x
            WHERE \(tenant) = $1::uuid AND k.b >= $3::bigint AND k.b < $4::bigint\(filter.map { " AND " + $0 } ?? "")
            GROUP BY k.b
            """
    }

    /// `digestRows` as a JSON array `[[b, n, "s1", "s2"], …]` in bucket order (what the source sends the target);
    /// with `only`, just the buckets of the bigint[] `$5`.
    func digests(only: Bool) -> String {
        "SELECT coalesce(json_agg(json_build_array(d.b, d.n, d.s1::text, d.s2::text) ORDER BY d.b), '[]'::json)::text FROM ("
            + digestRows(filter: only ? "k.b IN (SELECT unnest($5::bigint[]))" : nil) + ") d"
    }

    /// Compares the source's digests with this side's for the same buckets, in SQL: `$5` is
    /// `{"digests": [...] (from digests), "only": [buckets] or null}`. Answers the buckets that differ (to clear
    /// here, to copy from the source), row counts and a digest of each side.
    var compareDigests: String {
        """
        WITH src AS (SELECT (e->>0)::bigint AS b, (e->>1)::bigint AS n, (e->>2)::numeric AS s1, (e->>3)::numeric AS s2
                     -- Not an array (missing, null, an object): a data exception, which the API answers with 400.
                     FROM json_array_elements(CASE WHEN json_typeof($5::json -> 'digests') = 'array' THEN $5::json -> 'digests'
                                                   ELSE '"digests must be an array"'::json END) e),
             tgt AS (\(digestRows(filter: "(json_typeof($5::json -> 'only') IS DISTINCT FROM 'array' OR k.b IN (SELECT o::bigint FROM json_array_elements_text($5::json -> 'only') o))"))),
             diff AS (SELECT coalesce(s.b, g.b) AS b, s.n AS sn, g.n AS gn FROM src s FULL JOIN tgt g ON s.b = g.b
                      WHERE s.n IS DISTINCT FROM g.n OR s.s1 IS DISTINCT FROM g.s1 OR s.s2 IS DISTINCT FROM g.s2)
        SELECT json_build_object(
            'clear', (SELECT coalesce(json_agg(b ORDER BY b), '[]'::json) FROM diff WHERE gn IS NOT NULL),
            'copy', (SELECT coalesce(json_agg(b ORDER BY b), '[]'::json) FROM diff WHERE sn IS NOT NULL),
            'sourceRows', (SELECT coalesce(sum(n), 0) FROM src), 'targetRows', (SELECT coalesce(sum(n), 0) FROM tgt),
            'sourceDigest', (SELECT md5(coalesce(string_agg(b || ':' || n || ':' || s1 || ':' || s2, ',' ORDER BY b), '')) FROM src),
            'targetDigest', (SELECT md5(coalesce(string_agg(b || ':' || n || ':' || s1 || ':' || s2, ',' ORDER BY b), '')) FROM tgt))::text
        """
    }

    /// The buckets (of `$2`) of the tenant's rows whose `xmin` is at or after the 32-bit transaction id `$3` (the
    /// low half of a horizon: `age` compares within the current wraparound window), and how many rows that is.
    var changedBuckets: String {
        """
        SELECT coalesce(json_agg(DISTINCT c.b ORDER BY c.b), '[]'::json)::text, count(*) FROM (
            SELECT \(bucket) AS b FROM \(table) t
            WHERE \(tenant) = $1::uuid AND age(t.xmin) <= age($3::bigint::text::xid)) c
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
        return "DELETE FROM \(table) t WHERE \(tenant) = $1::uuid AND \(bucket) IN (SELECT unnest($3::bigint[]))"
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

    /// The key values of a page boundary (a JSON array from `exportPage`'s key) as text
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
