import JSON
package import Postgres
import SCIMCore

/// Effective roles in `user_roles`: recomputed for a set of users inside the caller's transaction (a SCIM write
/// whose memberships or group names changed, or one batch of the recompute job).
///
/// Concurrency: two transactions recomputing the same user must not both read the memberships before either
/// commits (the later commit would store roles missing the earlier one's change). So the roles are stored only
/// after the users' `user_roles` rows are locked (created when missing, in id order) and their memberships read
/// in a later statement — a new READ COMMITTED snapshot: whoever locks second waits for the first to commit and
/// then sees its memberships. Row locks live in the rows, not in the lock table, so a batch of thousands is fine.
///
/// The recompute job first reads without locking (`lockingAll: false`) and locks only the users whose roles differ:
/// after a rule change most users of a large tenant keep theirs, and locking (or creating a row for) each of them
/// would write a million rows for nothing. Skipping an unchanged user is safe: a SCIM write changing its memberships
/// concurrently recomputes it itself, with the same rules (`DirectoryLock`).
package enum RoleStore {
    /// Creates the missing `user_roles` rows of the live users among $2 (empty: no event), in id order; a row another
    /// transaction is creating is waited for. Then `lockRows` locks them all, in id order. (Two statements rather than
    /// one `ON CONFLICT DO UPDATE … WHERE false`, which locks too but fires the UPDATE statement trigger on every
    /// member add for nothing.)
    static let ensureRows = PreparedStatement(
        """
        INSERT INTO user_roles (tenant_id, user_id)
        SELECT $1, u.id FROM users u
        WHERE u.tenant_id = $1 AND u.id = ANY ($2::uuid[]) AND u.deleted_at IS NULL
        ORDER BY u.id
        ON CONFLICT (tenant_id, user_id) DO NOTHING
        """)
    static let lockRows = PreparedStatement(
        "SELECT r.user_id FROM user_roles r WHERE r.tenant_id = $1 AND r.user_id = ANY ($2::uuid[]) ORDER BY r.user_id FOR UPDATE")

    /// The live users' current roles (`[]` without a row) and the groups they are direct members of:
    /// `[[id, externalId, displayName]]`.
    static let state = PreparedStatement(
        """
        SELECT u.id::text, coalesce(array_to_json(r.roles), '[]')::text,
               (SELECT json_agg(json_build_array(g.id, g.external_id, g.display_name))::text
                FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
                WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id)
        FROM users u LEFT JOIN user_roles r ON r.tenant_id = u.tenant_id AND r.user_id = u.id
        WHERE u.tenant_id = $1 AND u.id = ANY ($2::uuid[]) AND u.deleted_at IS NULL
        """)

    /// Stores new roles for the users in $2 (`[{"u": id, "r": [keys]}]`); the trigger writes the events.
    static let store = PreparedStatement(
        """
        UPDATE user_roles r SET roles = ARRAY(SELECT jsonb_array_elements_text(v.r)), version = r.version + 1, updated_at = now()
        FROM jsonb_to_recordset($2::jsonb) AS v(u uuid, r jsonb)
        WHERE r.tenant_id = $1 AND r.user_id = v.u AND r.roles IS DISTINCT FROM ARRAY(SELECT jsonb_array_elements_text(v.r))
        """)

    /// No roles for the users in $2 (the tenant's rules were removed).
    static let clear = PreparedStatement(
        "UPDATE user_roles SET roles = '{}', version = version + 1, updated_at = now() WHERE tenant_id = $1 AND user_id = ANY ($2::uuid[]) AND roles <> '{}'")

    /// A new user's first roles (it has no groups yet: the default role), in the transaction that creates it.
    static let insertNew = PreparedStatement(
        "INSERT INTO user_roles (tenant_id, user_id, roles, version) VALUES ($1, $2::uuid, $3::text[], 1)")

    /// Every user member of a group (for a group whose rules changed).
    static let memberUsers = PreparedStatement(
        "SELECT member_id::text FROM group_members WHERE tenant_id = $1 AND group_id = $2::uuid AND member_type = 'User'")

    /// Recomputes the effective roles of `users` (ids; groups and deleted users among them are skipped) under
    /// `mapping` (nil: the tenant has no rules, so no roles) and stores the ones that changed. Returns how many.
    /// `lockingAll: false` first reads without locks and then locks only the users whose roles differ.
    package static func refresh(_ users: some Collection<String>, mapping: RoleMapping?, tenant: String,
                                _ connection: PostgresConnection, lockingAll: Bool = true) throws -> Int {
        if users.isEmpty { return 0 }
        var ids = Array(Set(users)).sorted()
        guard let mapping else {
            // No rules: nobody has roles. Only rows that still hold some change (no rows are created).
            return try connection.execute(clear, [.uuid(tenant), .text(ArrayLiteral.text(ids))])
        }
        var grants: [GroupIdentity: [Int]] = [:]
        if !lockingAll {
            let unlocked = try connection.query(state, [.uuid(tenant), .text(ArrayLiteral.text(ids))])
            ids = try changes(unlocked, mapping, &grants).map(\.user).sorted()
            if ids.isEmpty { return 0 }
        }
        let literal = ArrayLiteral.text(ids)
        let results = try connection.pipeline([.prepared(ensureRows, [.uuid(tenant), .text(literal)]),
                                               .prepared(lockRows, [.uuid(tenant), .text(literal)]),
                                               .prepared(state, [.uuid(tenant), .text(literal)])])
        let changed = try changes(results[2], mapping, &grants)
        if changed.isEmpty { return 0 }
        let rows = JSONValue.array(changed.map { ["u": .string($0.user), "r": .array($0.roles.map(JSONValue.string))] })
        return try connection.execute(store, [.uuid(tenant), .jsonb(rows.description)])
    }

    /// The users of a `state` result whose roles under `mapping` differ from their stored ones, with the new roles.
    /// `grants` caches each group's matched roles across calls (a batch's users share their groups).
    static func changes(_ rows: PostgresResult, _ mapping: RoleMapping, _ grants: inout [GroupIdentity: [Int]]) throws
        -> [(user: String, roles: [String])]
    {
        var out: [(user: String, roles: [String])] = []
        for row in 0..<rows.rowCount {
            guard let user = rows.string(row: row, column: 0),
                  case .array(let current)? = rows.string(row: row, column: 1).flatMap({ try? JSONDecoder.decode($0) }) else {
                throw SCIMError(status: 500, detail: "stored roles are unreadable")
            }
            var matched: Set<Int> = []
            for group in groups(rows.string(row: row, column: 2)) {
                if let known = grants[group] {
                    matched.formUnion(known)
                } else {
                    let g = mapping.grants(group)
                    grants[group] = g
                    matched.formUnion(g)
                }
            }
            let wanted = mapping.effectiveRoles(matched: matched)
            if current.compactMap(\.string) != wanted { out.append((user, wanted)) }
        }
        return out
    }

    /// `[[id, externalId, displayName], …]` as group identities.
    static func groups(_ text: String?) -> [GroupIdentity] {
        guard let text, case .array(let rows)? = try? JSONDecoder.decode(text) else { return [] }
        return rows.compactMap { row in
            guard let id = row[0]?.string, let name = row[2]?.string else { return nil }
            return GroupIdentity(id: id, externalId: row[1]?.string, displayName: name)
        }
    }
}
