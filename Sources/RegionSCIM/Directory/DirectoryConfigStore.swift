package import JSON
import Postgres
import SCIMCore

/// The operator's API over a tenant's role rules and attribute mapping: read, replace (validated first: a refused
/// configuration changes nothing), delete, and a preview of a mapping on sample users before it is saved.
///
/// A change runs in one short transaction that takes the tenant's directory lock exclusively (`DirectoryLock`),
/// stores the configuration, bumps the tenant's settings version (so every write after it reloads the rules) and
/// asks the recompute job to go over every user; the answer comes back at once with the job's state, which
/// `GET` reports as it progresses.
package final class DirectoryConfigStore: Sendable {
    let database: RegionDatabase

    /// The store over `database`.
    package init(database: RegionDatabase) {
        self.database = database
    }

    /// The kind of configuration.
    package enum Kind: Sendable {
        case roles, attributeMapping

        var table: String { self == .roles ? "role_configs" : "attribute_mappings" }
        var column: String { self == .roles ? "config" : "mapping" }
        var name: String { self == .roles ? "role configuration" : "attribute mapping" }
    }

    // MARK: Read

    /// `{"config": {...}|null, "version": n, "updatedAt": …|null, "recompute": {...}}` (`mapping` instead of
    /// `config` for the attribute mapping).
    package func get(_ kind: Kind, tenant: String) throws -> JSONValue {
        try database.pool.withTransaction(readOnly: true, setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)])]) { connection in
            try requireTenant(connection, tenant)
            return try answer(kind, connection, tenant: tenant)
        }
    }

    func answer(_ kind: Kind, _ connection: PostgresConnection, tenant: String) throws -> JSONValue {
        let row = try connection.query(
            "SELECT \(kind.column)::text, version, updated_at FROM \(kind.table) WHERE tenant_id = $1", [.uuid(tenant)])
        let job = try connection.query(DirectoryJobs.statusRow, [.uuid(tenant)])
        var o = JSONObject()
        let stored = row.rowCount == 1 ? row.string(row: 0, column: 0).flatMap { try? JSONDecoder.decode($0) } : nil
        o.appendUnchecked(key: kind == .roles ? "config" : "mapping", value: stored ?? .null)
        o.appendUnchecked(key: "version", value: .number(JSONNumber(row.rowCount == 1 ? row.int(row: 0, column: 1) ?? 0 : 0)))
        o.appendUnchecked(key: "updatedAt", value: row.rowCount == 1 ? row.timestamp(row: 0, column: 2).map { .string($0.iso8601) } ?? .null : .null)
        o.appendUnchecked(key: "recompute", value: DirectoryJobs.status(job))
        return .object(o)
    }

    static let tenantExists = PreparedStatement("SELECT settings_version FROM tenants WHERE id = $1::uuid")

    func requireTenant(_ connection: PostgresConnection, _ tenant: String) throws {
        guard try connection.query(Self.tenantExists, [.text(tenant)]).rowCount == 1 else {
            throw SCIMError.tenantNotProvisioned(region: database.region)
        }
    }

    // MARK: Change

    /// Replaces the tenant's role configuration; 400 (nothing changed) for anything invalid, including a rule
    /// naming a group id this tenant does not have. Returns whether it changed and the `get` answer.
    package func putRoles(tenant: String, body: JSONValue) throws -> (changed: Bool, answer: JSONValue) {
        let mapping = try RoleMapping.parse(body)
        return try change(.roles, tenant: tenant, value: mapping.json) { connection in
            let ids = mapping.groupIDs
            if ids.isEmpty { return }
            let found = try connection.query("SELECT id::text FROM groups WHERE tenant_id = $1 AND id = ANY ($2::uuid[])",
                                             [.uuid(tenant), .text(ArrayLiteral.text(ids))])
            let known = Set((0..<found.rowCount).compactMap { found.string(row: $0, column: 0) })
            if let (i, rule) = mapping.rules.enumerated().first(where: { $0.element.attribute == .id && !known.contains($0.element.value) }) {
                throw SCIMError.invalidValue("'rules[\(i)].group.id': this tenant has no group \(rule.value)")
            }
        }
    }

    /// Replaces the tenant's attribute mapping, checked against its User schema (core, enterprise extension and its
    /// own extensions); 400 (nothing changed) for anything invalid.
    package func putMapping(tenant: String, body: JSONValue) throws -> (changed: Bool, answer: JSONValue) {
        let mapping = try AttributeMapping.parse(body, schema: try userSchema(tenant))
        return try change(.attributeMapping, tenant: tenant, value: mapping.json) { _ in }
    }

    /// Removes the configuration (every user's roles, or profile, are then cleared by the recompute job); nil when
    /// there was none.
    package func delete(_ kind: Kind, tenant: String) throws -> JSONValue? {
        let result = try change(kind, tenant: tenant, value: nil) { _ in }
        // (Not `changed ? answer : nil`: JSONValue is ExpressibleByNilLiteral, so that nil would be JSON null.)
        guard result.changed else { return nil }
        return result.answer
    }

    /// Stores `value` (nil: deletes) under the exclusive directory lock, then bumps the settings version and asks
    /// for a recompute, all in one transaction; `check` runs first inside it (its error rolls everything back).
    func change(_ kind: Kind, tenant: String, value: JSONValue?, check: (PostgresConnection) throws -> Void) throws
        -> (changed: Bool, answer: JSONValue)
    {
        defer { database.invalidate(tenant: tenant) }
        // The tenant row's KEY SHARE lock and the fence, as every write takes them (`TenantFence`): a tenant whose
        // move has frozen its writes here gets a 503 + Retry-After, and its rows stay as the mover compares them.
        return try database.pool.withTransaction(setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)]),
                                                         .prepared(DirectoryLock.exclusive, [.text(tenant)]),
                                                         .prepared(TenantFence.lockTenant, [.text(tenant)])]) { connection in
            try TenantFence.check(try connection.query(TenantFence.state, [.text(tenant)]))
            try requireTenant(connection, tenant)
            try check(connection)
            let changed: Bool
            if let value {
                changed = try connection.query(
                    """
                    INSERT INTO \(kind.table) (tenant_id, \(kind.column)) VALUES ($1, $2::jsonb)
                    ON CONFLICT (tenant_id) DO UPDATE SET \(kind.column) = EXCLUDED.\(kind.column), version = \(kind.table).version + 1,
                        updated_at = now()
                    WHERE \(kind.table).\(kind.column) IS DISTINCT FROM EXCLUDED.\(kind.column)
                    RETURNING version
                    """, [.uuid(tenant), .jsonb(value.description)]).rowCount == 1
            } else {
                changed = try connection.execute("DELETE FROM \(kind.table) WHERE tenant_id = $1", [.uuid(tenant)]) == 1
            }
            if changed {
                try connection.query("UPDATE tenants SET settings_version = settings_version + 1, updated_at = now() WHERE id = $1::uuid",
                                     [.text(tenant)])
                try DirectoryJobs.request(tenant: tenant, roles: kind == .roles, profiles: kind == .attributeMapping,
                                          reason: "\(kind.name) \(value == nil ? "removed" : "changed")", connection)
                _ = try connection.query("SELECT pg_notify($1, $2)", [.text(RegionDatabase.tenantChannel), .text(tenant)])
            }
            return (changed, try answer(kind, connection, tenant: tenant))
        }
    }

    /// The tenant's User resource schema (its extensions included).
    func userSchema(_ tenant: String) throws -> ResourceSchema {
        guard let settings = try database.tenantSettings(id: tenant) else { throw SCIMError.tenantNotProvisioned(region: database.region) }
        guard let schema = try settings.registry().resourceSchema("User") else {
            throw SCIMError(status: 500, detail: "the schema registry lacks User")
        }
        return schema
    }

    // MARK: Preview

    /// Limits of a preview.
    package static let maxPreviewUsers = 50

    static let sampleUsers = PreparedStatement(
        """
        SELECT id::text, resource::text, profile::text FROM users WHERE tenant_id = $1 AND deleted_at IS NULL
        ORDER BY last_modified DESC LIMIT $2
        """)
    static let namedUsers = PreparedStatement(
        "SELECT id::text, resource::text, profile::text FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND id = ANY ($2::uuid[])")

    /// Applies a mapping that is not saved to sample users: `{"mapping": {...}, "users": [ids]}` or
    /// `{"mapping": {...}, "sample": n}` (default 5: the most recently changed users). Nothing is written.
    ///
    ///     {"mapping": {...normalised...},
    ///      "users": [{"id", "userName", "profile": {...}, "current": {...}|null, "changed": ["field", …],
    ///                 "problems": ["'field': 'source' holds a number, not string"], "unmapped": ["nickName", …]}],
    ///      "coverage": {"field": <sample users with a value>, …}}
    package func preview(tenant: String, body: JSONValue) throws -> JSONValue {
        guard case .object(let o) = body else { throw SCIMError.invalidSyntax("the preview request must be a JSON object") }
        for key in o.keys where !["mapping", "users", "sample"].contains(key) {
            throw SCIMError.invalidValue("'\(key.prefix(64))' is not a field of a preview request (mapping, users, sample)")
        }
        let schema = try userSchema(tenant)
        guard let mappingJSON = o["mapping"] else { throw SCIMError.invalidValue("'mapping' is required: the mapping to try") }
        let mapping = try AttributeMapping.parse(mappingJSON, schema: schema)
        var named: [String]? = nil
        if let u = o["users"], !u.isNull {
            guard let list = u.array, (1...Self.maxPreviewUsers).contains(list.count) else {
                throw SCIMError.invalidValue("'users' must list 1 to \(Self.maxPreviewUsers) user ids")
            }
            named = try list.enumerated().map { (i, v) throws(SCIMError) -> String in
                guard let s = v.string, let id = UUIDText.canonical(s) else { throw .invalidValue("'users[\(i)]' must be a user id") }
                return id
            }
        }
        var sample = 5
        if let s = o["sample"], !s.isNull {
            guard named == nil else { throw SCIMError.invalidValue("give 'users' or 'sample', not both") }
            guard let n = s.int, (1...Self.maxPreviewUsers).contains(n) else {
                throw SCIMError.invalidValue("'sample' must be an integer from 1 to \(Self.maxPreviewUsers)")
            }
            sample = n
        }
        let rows = try database.pool.withTransaction(readOnly: true, setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)])]) { connection in
            if let named {
                return try connection.query(Self.namedUsers, [.uuid(tenant), .text(ArrayLiteral.text(named))])
            }
            return try connection.query(Self.sampleUsers, [.uuid(tenant), .int(Int64(sample))])
        }
        var found: [String: (document: JSONObject, current: JSONValue)] = [:]
        var order: [String] = []
        for row in 0..<rows.rowCount {
            guard let id = rows.string(row: row, column: 0),
                  case .object(let document)? = try rows.withBytes(row: row, column: 1, { try JSONDecoder.decode($0) }) else { continue }
            found[id] = (document, rows.string(row: row, column: 2).flatMap { try? JSONDecoder.decode($0) } ?? .null)
            order.append(id)
        }
        if let named {
            if let missing = named.first(where: { found[$0] == nil }) {
                throw SCIMError.invalidValue("'users': this tenant has no user \(missing)")
            }
            order = named
        }
        var users: [JSONValue] = []
        var coverage: [String: Int] = [:]
        for id in order {
            guard let (document, current) = found[id] else { continue }
            var problems: [String] = []
            let profile = mapping.profile(document, problems: &problems)
            var changed: [JSONValue] = []
            for (field, value) in profile {
                if !(value.isNull || value == .array([])) { coverage[field, default: 0] += 1 }
                if current[field] != value { changed.append(.string(field)) }
            }
            var u = JSONObject()
            u.appendUnchecked(key: "id", value: .string(id))
            u.appendUnchecked(key: "userName", value: document["userName"] ?? .null)
            u.appendUnchecked(key: "profile", value: .object(profile))
            u.appendUnchecked(key: "current", value: current)
            u.appendUnchecked(key: "changed", value: .array(changed))
            u.appendUnchecked(key: "problems", value: .array(problems.map(JSONValue.string)))
            u.appendUnchecked(key: "unmapped", value: .array(mapping.unmapped(document, schema: schema).map(JSONValue.string)))
            users.append(.object(u))
        }
        var cover = JSONObject()
        for field in mapping.fields { cover.appendUnchecked(key: field.name, value: .number(JSONNumber(coverage[field.name] ?? 0))) }
        return ["mapping": mapping.json, "users": .array(users), "coverage": .object(cover)]
    }
}
