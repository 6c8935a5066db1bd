import JSON
package import Postgres
package import SCIMCore

/// SQL for users, groups and memberships. Every statement names `tenant_id = $1` (row-level security is the second
/// wall, not the first).
package enum ResourceStore {
    // MARK: Reading

    /// The related-attribute subquery for a row alias (`groups` of a user, `members` of a group), as JSON text.
    static func relatedAggregate(_ kind: ResourceKind, limit: String? = nil) -> String {
        switch kind {
        case .user:
            return "(SELECT json_agg(json_build_array(gm.group_id, g2.display_name) ORDER BY gm.seq)::text"
                + " FROM group_members gm JOIN groups g2 ON g2.tenant_id = gm.tenant_id AND g2.id = gm.group_id"
                + " WHERE gm.tenant_id = u.tenant_id AND gm.member_id = u.id)"
        case .group:
            return "(SELECT json_agg(json_build_array(m.member_id, m.member_type, \(FilterSQL.memberDisplay("m"))) ORDER BY m.seq)::text"
                + " FROM group_members m WHERE m.tenant_id = g.tenant_id AND m.group_id = g.id)"
        }
    }

    /// The columns `decode` reads: id, document, version, created, lastModified, related (or NULL).
    package static func columns(_ kind: ResourceKind, withRelated: Bool) -> String {
        let a = kind.alias
        return "\(a).id::text, \(a).resource::text, \(a).version, \(a).created_at, \(a).last_modified, "
            + (withRelated ? relatedAggregate(kind) : "NULL::text")
    }

    static let getUser = PreparedStatement(
        "SELECT \(columns(.user, withRelated: true)) FROM users u WHERE u.tenant_id = $1 AND u.id = $2::uuid AND u.deleted_at IS NULL")
    static let getUserWithoutGroups = PreparedStatement(
        "SELECT \(columns(.user, withRelated: false)) FROM users u WHERE u.tenant_id = $1 AND u.id = $2::uuid AND u.deleted_at IS NULL")
    static let getGroup = PreparedStatement(
        "SELECT \(columns(.group, withRelated: false)) FROM groups g WHERE g.tenant_id = $1 AND g.id = $2::uuid")
    /// Members in the order they were added.
    static let groupMembers = PreparedStatement(
        "SELECT m.member_id::text, m.member_type, \(FilterSQL.memberDisplay("m")) FROM group_members m"
            + " WHERE m.tenant_id = $1 AND m.group_id = $2::uuid ORDER BY m.seq")
    /// The member count and version of a group (the count is kept by triggers, migration 4).
    static let memberCount = PreparedStatement(
        "SELECT member_count, version FROM groups WHERE tenant_id = $1 AND id = $2::uuid")

    /// Statements that read one resource (plus its related rows when `withRelated`).
    static func get(_ kind: ResourceKind, tenant: String, id: String, withRelated: Bool) -> [PostgresStatement] {
        switch kind {
        case .user:
            return [.prepared(withRelated ? getUser : getUserWithoutGroups, [.uuid(tenant), .text(id)])]
        case .group:
            var statements: [PostgresStatement] = [.prepared(getGroup, [.uuid(tenant), .text(id)])]
            if withRelated {
                statements.append(.prepared(groupMembers, [.uuid(tenant), .text(id)]))
            }
            return statements
        }
    }

    /// Decodes the results of `get` (nil when the resource does not exist).
    static func decodeGet(_ kind: ResourceKind, _ results: [PostgresResult], baseURL: String, withRelated: Bool) throws
        -> StoredResource?
    {
        guard results[0].rowCount == 1 else { return nil }
        var stored = try decode(kind, results[0], row: 0, baseURL: baseURL, relatedLoaded: withRelated && kind == .user)
        if kind == .group, results.count > 1 {
            stored.related = decodeMembers(results[1], baseURL: baseURL)
        }
        return stored
    }

    package static func decode(_ kind: ResourceKind, _ result: PostgresResult, row: Int, baseURL: String, relatedLoaded: Bool = false) throws
        -> StoredResource
    {
        guard let id = result.string(row: row, column: 0), let version = result.int(row: row, column: 2),
              let created = result.timestamp(row: row, column: 3), let modified = result.timestamp(row: row, column: 4),
              case .object(let document)? = try result.withBytes(row: row, column: 1, { try JSONDecoder.decode($0) }) else {
            throw SCIMError(status: 500, detail: "a stored resource is unreadable")
        }
        var stored = StoredResource(id: id, document: document, version: version, created: created, lastModified: modified)
        if relatedLoaded {
            stored.related = try result.string(row: row, column: 5).map { try decodeRelated(kind, $0, baseURL: baseURL) } ?? []
        }
        return stored
    }

    /// `[[id, display], …]` (a user's groups) or `[[id, type, display], …]` (a group's members).
    static func decodeRelated(_ kind: ResourceKind, _ text: String, baseURL: String) throws -> [MemberRef] {
        guard case .array(let rows) = try JSONDecoder.decode(text) else { return [] }
        return rows.compactMap { row -> MemberRef? in
            guard let id = row[0]?.string else { return nil }
            switch kind {
            case .user:
                return MemberRef(value: id, type: "direct", display: row[1]?.string, ref: baseURL + "/Groups/" + id)
            case .group:
                let type = row[1]?.string ?? "User"
                return MemberRef(value: id, type: type, display: row[2]?.string,
                                 ref: baseURL + (type == "Group" ? "/Groups/" : "/Users/") + id)
            }
        }
    }

    static func decodeMembers(_ result: PostgresResult, baseURL: String) -> [MemberRef] {
        (0..<result.rowCount).compactMap { row in
            guard let id = result.string(row: row, column: 0), let type = result.string(row: row, column: 1) else { return nil }
            return MemberRef(value: id, type: type, display: result.string(row: row, column: 2),
                             ref: baseURL + (type == "Group" ? "/Groups/" : "/Users/") + id)
        }
    }

    // MARK: Locking reads for updates

    static let lockUser = PreparedStatement(
        "SELECT \(columns(.user, withRelated: false)) FROM users u WHERE u.tenant_id = $1 AND u.id = $2::uuid AND u.deleted_at IS NULL FOR UPDATE")
    static let lockGroup = PreparedStatement(
        "SELECT \(columns(.group, withRelated: false)) FROM groups g WHERE g.tenant_id = $1 AND g.id = $2::uuid FOR UPDATE")

    /// The resource, row-locked for the rest of the transaction (nil when absent).
    static func lock(_ kind: ResourceKind, _ connection: PostgresConnection, tenant: String, id: String, baseURL: String) throws
        -> StoredResource?
    {
        let result = try connection.query(kind == .user ? lockUser : lockGroup, [.uuid(tenant), .text(id)])
        guard result.rowCount == 1 else { return nil }
        return try decode(kind, result, row: 0, baseURL: baseURL)
    }

    // MARK: Writing users

    /// A user POST in one statement: a new row with a new id, and its email rows. It never looks at existing users:
    /// a duplicate userName among live users (active or not) meets the unique index (23505 → 409 uniqueness), and a
    /// soft-deleted user's tombstone takes no part (RFC 7644 §3.3, §3.6; issue 15: a POST never takes over an account).
    /// Parameters: `userValues` ($1 tenant … $9 resource), $10 the folded email keys (`emailValues`' array) and $11
    /// the mapped profile (`ProfileStore.value`).
    static let createUser = PreparedStatement(
        """
        WITH inserted AS (
            INSERT INTO users (tenant_id, id, user_name, user_name_key, external_id, display_name, display_name_key, active,
                               resource, created_at, last_modified, profile)
            VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8::boolean, $9::jsonb,
                    date_trunc('milliseconds', now()), date_trunc('milliseconds', now()), $11::jsonb)
            RETURNING id, resource, version, created_at, last_modified
        ), emails AS (
            INSERT INTO user_emails (tenant_id, user_id, email_key)
            SELECT $1, i.id, k FROM inserted i, unnest($10::text[]) AS k
            ON CONFLICT DO NOTHING
        )
        SELECT id::text, resource::text, version, created_at, last_modified, NULL::text FROM inserted
        """)

    /// For tenants that opted in to unique externalIds (`uniqueExternalId`): serialises writers of one externalId
    /// with a transaction-scoped advisory lock keyed by tenant and value, then (`externalIDTaken`, a separate
    /// statement so that under READ COMMITTED its snapshot is taken after the lock is held and sees the previous
    /// holder's commit) says whether another live user holds it. The value's 64-bit hash may collide, which costs a
    /// needless wait, never a wrong answer. $1 tenant, $2 externalId; $3 the writing user's id (NULL on create).
    static let lockExternalID = PreparedStatement(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2, 7643))")
    static let externalIDTaken = PreparedStatement(
        """
        SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND external_id = $2 AND deleted_at IS NULL
                       AND ($3::uuid IS NULL OR id <> $3::uuid))
        """)

    static func createValues(tenant: String, id: String, _ row: ResourceRow, _ document: JSONObject, profile: PostgresValue)
        -> [PostgresValue]
    {
        userValues(tenant: tenant, id: id, row, document) + [.text(ArrayLiteral.text(row.emailKeys)), profile]
    }

    /// Parameters: `userValues` and $10 the mapped profile (`ProfileStore.value`).
    static let updateUser = PreparedStatement(
        """
        UPDATE users SET user_name = $3, user_name_key = $4, external_id = $5, display_name = $6, display_name_key = $7,
                         active = $8::boolean, resource = $9::jsonb, version = version + 1,
                         last_modified = date_trunc('milliseconds', now()), profile = $10::jsonb
        WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL
        RETURNING id::text, resource::text, version, created_at, last_modified, NULL::text
        """)

    /// Makes `user_emails` hold exactly the given folded addresses (one statement: delete the others, add the new).
    static let syncEmails = PreparedStatement(
        """
        WITH gone AS (DELETE FROM user_emails WHERE tenant_id = $1 AND user_id = $2::uuid AND NOT (email_key = ANY ($3::text[])))
        INSERT INTO user_emails (tenant_id, user_id, email_key)
        SELECT $1, $2::uuid, k FROM unnest($3::text[]) AS k
        ON CONFLICT DO NOTHING
        """)

    static func userValues(tenant: String, id: String, _ row: ResourceRow, _ document: JSONObject) -> [PostgresValue] {
        [.uuid(tenant), .text(id), .text(row.name), .text(row.nameKey), PostgresValue(row.externalID),
         PostgresValue(row.displayName), PostgresValue(row.displayNameKey), PostgresValue(row.active),
         .jsonb(String(decoding: JSONEncoder.encode(.object(document)), as: UTF8.self))]
    }

    static func emailValues(tenant: String, id: String, _ row: ResourceRow) -> [PostgresValue] {
        [.uuid(tenant), .text(id), .text(ArrayLiteral.text(row.emailKeys))]
    }

    /// Hard delete: the user row (its emails cascade). Returns false when there was no live user.
    static let deleteUser = PreparedStatement(
        "DELETE FROM users WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL")
    /// Soft delete: a tombstone that frees the userName and externalId (the unique indexes skip deleted rows).
    static let softDeleteUser = PreparedStatement(
        """
        UPDATE users SET deleted_at = date_trunc('milliseconds', now()), version = version + 1,
                         last_modified = date_trunc('milliseconds', now())
        WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL
        """)
    /// Removes a deleted resource from every group it belonged to and bumps those groups' versions. Runs as its own
    /// statement after the delete, so (READ COMMITTED) it sees memberships committed while the delete waited on
    /// their row locks.
    static let dropMemberships = PreparedStatement(
        """
        WITH gone AS (DELETE FROM group_members WHERE tenant_id = $1 AND member_id = $2::uuid RETURNING group_id)
        UPDATE groups SET version = version + 1, last_modified = date_trunc('milliseconds', now())
        WHERE tenant_id = $1 AND id IN (SELECT group_id FROM gone)
        """)

    // MARK: Writing groups

    static let insertGroup = PreparedStatement(
        """
        INSERT INTO groups (tenant_id, id, display_name, display_name_key, external_id, resource, created_at, last_modified)
        VALUES ($1, $2::uuid, $3, $4, $5, $6::jsonb, date_trunc('milliseconds', now()), date_trunc('milliseconds', now()))
        RETURNING id::text, resource::text, version, created_at, last_modified, NULL::text
        """)

    static let updateGroup = PreparedStatement(
        """
        UPDATE groups SET display_name = $3, display_name_key = $4, external_id = $5, resource = $6::jsonb,
                          version = version + 1, last_modified = date_trunc('milliseconds', now())
        WHERE tenant_id = $1 AND id = $2::uuid
        RETURNING id::text, resource::text, version, created_at, last_modified, NULL::text
        """)

    /// A membership-only change still changes the group: new version and lastModified, document untouched.
    static let touchGroup = PreparedStatement(
        """
        UPDATE groups SET version = version + 1, last_modified = date_trunc('milliseconds', now())
        WHERE tenant_id = $1 AND id = $2::uuid
        RETURNING id::text, resource::text, version, created_at, last_modified, NULL::text
        """)

    static func groupValues(tenant: String, id: String, _ row: ResourceRow, _ document: JSONObject) -> [PostgresValue] {
        [.uuid(tenant), .text(id), .text(row.name), .text(row.nameKey), PostgresValue(row.externalID),
         .jsonb(String(decoding: JSONEncoder.encode(.object(document)), as: UTF8.self))]
    }

    static let deleteGroup = PreparedStatement("DELETE FROM groups WHERE tenant_id = $1 AND id = $2::uuid")

    // MARK: Memberships

    /// Adds members that exist in this tenant (live users or groups), locking them (FOR SHARE, in id order) so a
    /// concurrent delete of a member waits for this transaction and then removes the new row too. Returns one row per
    /// member found: its id and whether a row was inserted. `$3` is `[{"id": …, "display": …}]`.
    ///
    /// With `touch`, the same statement also bumps the group's version and `lastModified` when it inserted a row (a
    /// PATCH whose only change is this add): the answer's member count can then be read in the same round trip.
    static func addMembersSQL(upsertDisplay: Bool, touch: Bool = false) -> String {
        """
        WITH wanted AS (SELECT w.id, w.display FROM jsonb_to_recordset($3::jsonb) AS w(id uuid, display text)),
             u AS (SELECT id FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND id IN (SELECT id FROM wanted)
                   ORDER BY id FOR SHARE),
             g AS (SELECT id FROM groups WHERE tenant_id = $1 AND id IN (SELECT id FROM wanted) ORDER BY id FOR SHARE),
             found AS (SELECT id, 'User' AS member_type FROM u UNION ALL SELECT id, 'Group' FROM g),
             ins AS (INSERT INTO group_members (tenant_id, group_id, member_id, member_type, display)
                     SELECT $1, $2::uuid, f.id, f.member_type, w.display FROM found f JOIN wanted w ON w.id = f.id
                     ON CONFLICT (tenant_id, group_id, member_id) \(upsertDisplay
                        ? "DO UPDATE SET display = EXCLUDED.display WHERE group_members.display IS DISTINCT FROM EXCLUDED.display"
                        : "DO NOTHING")
                     RETURNING member_id)\(touch ? touchAfterInsert : "")
        SELECT f.id::text, f.id IN (SELECT member_id FROM ins) FROM found f
        """
    }
    static let addMembers = PreparedStatement(addMembersSQL(upsertDisplay: false))
    static let addMembersTouching = PreparedStatement(addMembersSQL(upsertDisplay: false, touch: true))
    /// `touchGroup` as a sibling of `ins`: runs only when the insert added a row. (The member-count trigger updates
    /// the same row after the statement, as a later command, so the two updates do not collide.)
    static let touchAfterInsert = """
        ,
             touched AS (UPDATE groups SET version = version + 1, last_modified = date_trunc('milliseconds', now())
                         WHERE tenant_id = $1 AND id = $2::uuid AND EXISTS (SELECT 1 FROM ins) RETURNING 1)
        """
    static let replaceMembers = PreparedStatement(addMembersSQL(upsertDisplay: true))
    static let removeMembers = PreparedStatement(
        "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2::uuid AND member_id = ANY ($3::uuid[])")
    static let removeOtherMembers = PreparedStatement(
        "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2::uuid AND NOT (member_id = ANY ($3::uuid[]))")
    static let removeAllMembers = PreparedStatement("DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2::uuid")
    /// The same, naming the user members removed: for a group whose members' roles depend on it (`RoleRefresh`).
    static let removeMembersReturning = PreparedStatement(removeMembers.sql + returningUsers)
    static let removeOtherMembersReturning = PreparedStatement(removeOtherMembers.sql + returningUsers)
    static let removeAllMembersReturning = PreparedStatement(removeAllMembers.sql + returningUsers)
    /// Appended to a membership DELETE: the ids of the user members it removed (groups among members have no roles).
    static let returningUsers = " RETURNING CASE WHEN member_type = 'User' THEN member_id::text END"
}
