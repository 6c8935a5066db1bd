import JSON
package import Postgres
import SCIMCore

/// Effective roles in `user_roles`: recomputed for a set of users inside the caller's transaction (a SCIM write
/// whose memberships or group names changed, or one batch of the recompute job).
///
/// Concurrency: two transactions recomputing the same user must not both read the memberships before either
/// commits (the later commit would store roles missing the earlier one's change). So `refresh` first locks the
/// users' `user_roles` rows (creating the missing ones, in id order), and only then — in a new statement, hence a
/// new READ COMMITTED snapshot — reads their memberships. Whoever locks second waits for the first to commit and
/// then sees its memberships. Row locks live in the rows, not in the lock table, so a batch of thousands is fine.
package enum RoleStore {
    /// Locks (creating when missing) the `user_roles` rows of the live users among $2, in id order. `DO UPDATE …
    /// WHERE false` locks an existing row without writing it (PostgreSQL: "all rows will be locked when the ON
    /// CONFLICT DO UPDATE action is taken").
    static let lockRows = PreparedStatement(
        """
        INSERT INTO user_roles (tenant_id, user_id)
        SELECT $1, u.id FROM users u
        WHERE u.tenant_id = $1 AND u.id = ANY ($2::uuid[]) AND u.deleted_at IS NULL
        ORDER BY u.id
        ON CONFLICT (tenant_id, user_id) DO UPDATE SET roles = user_roles.roles WHERE false
        """)

    /// The locked users' current roles and the groups they are direct members of: `[[id, externalId, displayName]]`.
    static let state = PreparedStatement(
        """
        SELECT r.user_id::text, array_to_json(r.roles)::text,
               (SELECT json_agg(json_build_array(g.id, g.external_id, g.display_name))::text
                FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
                WHERE m.tenant_id = r.tenant_id AND m.member_id = r.user_id)
        FROM user_roles r JOIN users u ON u.tenant_id = r.tenant_id AND u.id = r.user_id AND u.deleted_at IS NULL
        WHERE r.tenant_id = $1 AND r.user_id = ANY ($2::uuid[])
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
    package static func refresh(_ users: some Collection<String>, mapping: RoleMapping?, tenant: String,
                                _ connection: PostgresConnection) throws -> Int {
        if users.isEmpty { return 0 }
        let ids = ArrayLiteral.text(Array(Set(users)).sorted())
        guard let mapping else {
            // No rules: nobody has roles. Only rows that still hold some change (no rows are created).
            return try connection.execute(clear, [.uuid(tenant), .text(ids)])
        }
        let results = try connection.pipeline([.prepared(lockRows, [.uuid(tenant), .text(ids)]),
                                               .prepared(state, [.uuid(tenant), .text(ids)])])
        let rows = results[1]
        var changes: [JSONValue] = []
        var grants: [GroupIdentity: [Int]] = [:]
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
            if current.compactMap(\.string) != wanted {
                changes.append(["u": .string(user), "r": .array(wanted.map(JSONValue.string))])
            }
        }
        if changes.isEmpty { return 0 }
        return try connection.execute(store, [.uuid(tenant), .jsonb(JSONValue.array(changes).description)])
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
