/// The outbox triggers' PL/pgSQL, written once and generated for each migration that needs it (migration 3 created
/// them, migration 5 replaced the user function when creates stopped reviving tombstones). Byte for byte what those
/// migrations were applied with: `MigrationChecksumTests` pins their checksums.
enum EventTriggers {
    /// `scim_events_user()`: one event per user change (created, deactivated, reactivated, updated, deleted).
    /// `tombstonesRevive`: an update of a tombstone counts as a creation (only migration 3's world had that).
    /// `withProfile`: resource events also store the user's mapped profile (`users.profile`, migration 8).
    static func userFunction(replacing: Bool, tombstonesRevive: Bool, withProfile: Bool = false) -> String {
        let lastModified = "'lastModified', (extract(epoch FROM NEW.last_modified) * 1000)::bigint"
            + (withProfile ? ",\n                                       'profile', NEW.profile" : "")
        let created = tombstonesRevive
            ? "IF TG_OP = 'INSERT' OR OLD.deleted_at IS NOT NULL THEN\n        kind := 'user.created';  -- a revived tombstone comes back with its old id"
            : "IF TG_OP = 'INSERT' THEN\n        kind := 'user.created';"
        return """
            CREATE \(replacing ? "OR REPLACE " : "")FUNCTION scim_events_user() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                kind text;
            BEGIN
                IF TG_OP = 'DELETE' OR NEW.deleted_at IS NOT NULL THEN
                    -- Hard delete, or soft delete (a tombstone).
                    INSERT INTO events (tenant_id, type, resource_id, data)
                    VALUES (OLD.tenant_id, 'user.deleted', OLD.id,
                            jsonb_build_object('userName', OLD.user_name, 'externalId', OLD.external_id));
                    RETURN NULL;
                END IF;
                \(created)
                ELSIF OLD.active IS NOT FALSE AND NEW.active IS FALSE THEN
                    kind := 'user.deactivated';
                ELSIF OLD.active IS FALSE AND NEW.active IS NOT FALSE THEN
                    kind := 'user.reactivated';
                ELSE
                    kind := 'user.updated';
                END IF;
                INSERT INTO events (tenant_id, type, resource_id, data)
                VALUES (NEW.tenant_id, kind, NEW.id,
                        jsonb_build_object('resource', NEW.resource, 'version', NEW.version,
                                           'created', (extract(epoch FROM NEW.created_at) * 1000)::bigint,
                                           \(lastModified)));
                RETURN NULL;
            END $$;
            """
    }

    /// The INSERT of one `group.member_added`/`group.member_removed` event per group and 500 members of a statement's
    /// transition table `rows`, in the order the members were added (indented for its place in `scim_events_members`).
    static func membershipEvents(_ type: String, rows: String) -> String {
        """
        INSERT INTO events (tenant_id, type, resource_id, data)
                SELECT c.tenant_id, '\(type)', c.group_id,
                       jsonb_build_object('group', jsonb_build_object('displayName', g.display_name, 'externalId', g.external_id),
                                          'members', c.members)
                FROM (SELECT s.tenant_id, s.group_id, (s.rn - 1) / 500 AS chunk,
                             jsonb_agg(jsonb_build_object('value', s.member_id, 'type', s.member_type) ORDER BY s.seq) AS members
                      FROM (SELECT m.tenant_id, m.group_id, m.member_id, m.member_type, m.seq,
                                   row_number() OVER (PARTITION BY m.tenant_id, m.group_id ORDER BY m.seq) AS rn
                            FROM \(rows) m) s
                      GROUP BY s.tenant_id, s.group_id, chunk) c
                JOIN groups g ON g.tenant_id = c.tenant_id AND g.id = c.group_id
                ORDER BY c.group_id, c.chunk;
        """
    }
}
