package import Postgres

/// The region database schema, as migrations applied at start by `Migrator`.
///
/// Design notes (why it looks like this):
/// - Every tenant table carries `tenant_id` first in every key and index, and `FORCE ROW LEVEL SECURITY` with a
///   policy on `app.tenant_id` (set per transaction): a statement that forgets its explicit `tenant_id = $1` still
///   sees only one tenant, and an unscoped connection sees nothing. The policy compares against a scalar subquery so
///   the setting is read once per statement (an InitPlan), not once per row.
/// - Under RLS, PostgreSQL only uses *leakproof* operators as index conditions (texteq, text_lt, starts_with, uuid_eq
///   are; LIKE, lower() and array containment are not). So case-insensitive attributes are stored as Swift-folded
///   `*_key` columns in the "C" collation and compared with plain `=`, `<`, `^@`: index-backed under RLS, byte order
///   equal to the in-memory evaluator's, and independent of the database locale.
/// - Emails live in `user_emails` rows (btree on the folded value) rather than an array column with GIN: `@>` is not
///   leakproof, so a GIN index would never be used by the RLS-bound app role.
/// - The resource document (without `id`, `meta` and the row-backed `members`/`groups`) is `jsonb`; scalar columns
///   are derived from it by the one code path that writes rows (`ResourceRow`).
/// - Uniqueness is enforced by partial unique indexes (never check-then-insert): userName among live (not
///   soft-deleted) users, group displayName per tenant. externalId is the client's identifier and not unique
///   (RFC 7643 §3.1) unless a tenant opts in (`uniqueExternalId`, migration 5).
/// - A POST always inserts a new row with a new id. A soft-deleted user is a tombstone for the operator: it takes
///   no part in uniqueness and can never be updated again (a trigger refuses it), so a deleted id stays 404.
/// - Group membership is one row per member, changed by single INSERT … ON CONFLICT DO NOTHING / DELETE statements,
///   so concurrent PATCHes never lose a member and a 100k-member group is never rewritten.
package enum RegionSchema {
    /// All migrations, in order.
    package static let migrations: [Migration] = [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11]

    static let v1 = Migration(
        version: 1, name: "region_core",
        sql: """
            CREATE FUNCTION scim_current_tenant() RETURNS uuid
                LANGUAGE sql STABLE PARALLEL SAFE
                AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;

            -- RFC 7644 "pr": a value that is not null, not "", and (for arrays/objects) has a present member.
            CREATE FUNCTION scim_present(v jsonb) RETURNS boolean
                LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $$ SELECT CASE jsonb_typeof(v)
                    WHEN 'string' THEN (v #>> '{}') <> ''
                    WHEN 'number' THEN true
                    WHEN 'boolean' THEN true
                    WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(v) AS e WHERE scim_present(e))
                    WHEN 'object' THEN EXISTS (SELECT 1 FROM jsonb_each(v) AS e WHERE scim_present(e.value))
                    ELSE false END $$;

            -- The elements of a multi-valued attribute; a lone object counts as one element.
            CREATE FUNCTION scim_elements(v jsonb) RETURNS SETOF jsonb
                LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $$ SELECT jsonb_array_elements(CASE jsonb_typeof(v)
                    WHEN 'array' THEN v WHEN 'object' THEN jsonb_build_array(v) ELSE '[]'::jsonb END) $$;

            CREATE FUNCTION scim_numeric(v jsonb) RETURNS numeric
                LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN v::numeric END $$;

            CREATE FUNCTION scim_boolean(v jsonb) RETURNS boolean
                LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'boolean' THEN v::boolean END $$;

            -- xsd:dateTime text to an instant; NULL (not an error) for text PostgreSQL cannot read.
            CREATE FUNCTION scim_timestamptz(v text) RETURNS timestamptz
                LANGUAGE plpgsql STABLE PARALLEL SAFE
                AS $$ BEGIN RETURN v::timestamptz; EXCEPTION WHEN others THEN RETURN NULL; END $$;

            -- RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary value, else its first value.
            CREATE FUNCTION scim_sort_value(v jsonb, sub text) RETURNS jsonb
                LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $$ SELECT coalesce(
                    (SELECT e -> sub FROM scim_elements(v) AS e WHERE e -> 'primary' = 'true'::jsonb LIMIT 1),
                    (SELECT e -> sub FROM scim_elements(v) AS e LIMIT 1)) $$;

            CREATE TABLE tenants (
                id uuid PRIMARY KEY,
                name text NOT NULL,
                deprovision_policy text NOT NULL CHECK (deprovision_policy IN ('hard', 'soft', 'refuse')),
                schema_extensions jsonb NOT NULL DEFAULT '[]',
                validators jsonb NOT NULL DEFAULT '[]',
                settings_version bigint NOT NULL DEFAULT 1,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );

            CREATE TABLE users (
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                id uuid NOT NULL,
                user_name text NOT NULL,
                user_name_key text COLLATE "C" NOT NULL,
                external_id text COLLATE "C",
                display_name text,
                display_name_key text COLLATE "C",
                active boolean,
                resource jsonb NOT NULL,
                version bigint NOT NULL DEFAULT 1,
                created_at timestamptz NOT NULL,
                last_modified timestamptz NOT NULL,
                deleted_at timestamptz,
                PRIMARY KEY (tenant_id, id)
            );
            CREATE UNIQUE INDEX users_user_name_key ON users (tenant_id, user_name_key) WHERE deleted_at IS NULL;
            CREATE UNIQUE INDEX users_external_id_key ON users (tenant_id, external_id)
                WHERE deleted_at IS NULL AND external_id IS NOT NULL;
            CREATE INDEX users_display_name ON users (tenant_id, display_name_key) WHERE deleted_at IS NULL;
            CREATE INDEX users_last_modified ON users (tenant_id, last_modified) WHERE deleted_at IS NULL;
            CREATE INDEX users_created ON users (tenant_id, created_at) WHERE deleted_at IS NULL;
            -- Reactivating create looks soft-deleted users up by userName or externalId.
            CREATE INDEX users_deleted_user_name ON users (tenant_id, user_name_key) WHERE deleted_at IS NOT NULL;
            CREATE INDEX users_deleted_external_id ON users (tenant_id, external_id) WHERE deleted_at IS NOT NULL;

            CREATE TABLE user_emails (
                tenant_id uuid NOT NULL,
                user_id uuid NOT NULL,
                email_key text COLLATE "C" NOT NULL,
                PRIMARY KEY (tenant_id, user_id, email_key),
                FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
            );
            CREATE INDEX user_emails_key ON user_emails (tenant_id, email_key);

            CREATE TABLE groups (
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                id uuid NOT NULL,
                display_name text NOT NULL,
                display_name_key text COLLATE "C" NOT NULL,
                external_id text COLLATE "C",
                resource jsonb NOT NULL,
                version bigint NOT NULL DEFAULT 1,
                created_at timestamptz NOT NULL,
                last_modified timestamptz NOT NULL,
                PRIMARY KEY (tenant_id, id)
            );
            -- Entra expects 409 on a duplicate group displayName (case-insensitive).
            CREATE UNIQUE INDEX groups_display_name_key ON groups (tenant_id, display_name_key);
            CREATE INDEX groups_external_id ON groups (tenant_id, external_id);
            CREATE INDEX groups_last_modified ON groups (tenant_id, last_modified);

            -- Members reference users or groups of the same tenant; `display` is what the client sent (echoed back),
            -- otherwise the member's current name is shown. `seq` keeps members in the order they were added.
            CREATE TABLE group_members (
                tenant_id uuid NOT NULL,
                group_id uuid NOT NULL,
                member_id uuid NOT NULL,
                member_type text NOT NULL CHECK (member_type IN ('User', 'Group')),
                display text,
                seq bigint GENERATED ALWAYS AS IDENTITY,
                PRIMARY KEY (tenant_id, group_id, member_id),
                FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
            );
            CREATE INDEX group_members_member ON group_members (tenant_id, member_id);

            -- Region-wide secrets (not tenant data): the key that signs list cursors, shared by every replica.
            CREATE TABLE region_secrets (
                name text PRIMARY KEY,
                secret bytea NOT NULL
            );
            INSERT INTO region_secrets (name, secret)
                VALUES ('cursor', uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));

            \(RowLevelSecurity.tenantIsolation("tenants", column: "id"))
            \(RowLevelSecurity.tenantIsolation("users"))
            \(RowLevelSecurity.tenantIsolation("user_emails"))
            \(RowLevelSecurity.tenantIsolation("groups"))
            \(RowLevelSecurity.tenantIsolation("group_members"))
            """)

    /// IdP quirk counts per tenant (`QuirkCounts`): written in batches by the flusher, never on the request path.
    static let v2 = Migration(
        version: 2, name: "idp_quirks",
        sql: """
            CREATE TABLE idp_quirks (
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                quirk text NOT NULL,
                count bigint NOT NULL,
                first_seen timestamptz NOT NULL,
                last_seen timestamptz NOT NULL,
                PRIMARY KEY (tenant_id, quirk)
            );
            \(RowLevelSecurity.tenantIsolation("idp_quirks"))
            """)

    /// A group's member count, kept by statement-level triggers (one UPDATE per statement and group, however many rows
    /// the statement inserted or deleted). A write answering PATCH or PUT needs to know whether the group is too large
    /// to return with its members; counting up to the limit scanned 10,001 index entries (2.6 ms) on every write to a
    /// large group.
    static let v4 = Migration(
        version: 4, name: "group_member_count",
        sql: """
            ALTER TABLE groups ADD COLUMN member_count bigint NOT NULL DEFAULT 0;
            -- The backfill spans every tenant: row-level security is lifted for it, inside this transaction only.
            ALTER TABLE groups NO FORCE ROW LEVEL SECURITY;
            ALTER TABLE group_members NO FORCE ROW LEVEL SECURITY;
            UPDATE groups g SET member_count = c.n
                FROM (SELECT tenant_id, group_id, count(*) AS n FROM group_members GROUP BY tenant_id, group_id) c
                WHERE g.tenant_id = c.tenant_id AND g.id = c.group_id;
            ALTER TABLE groups FORCE ROW LEVEL SECURITY;
            ALTER TABLE group_members FORCE ROW LEVEL SECURITY;

            CREATE FUNCTION scim_group_member_count() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                -- Inside a cascade (the group or its tenant is being deleted) there is no group left to count for.
                IF pg_trigger_depth() > 1 THEN
                    RETURN NULL;
                END IF;
                IF TG_OP = 'INSERT' THEN
                    UPDATE groups g SET member_count = g.member_count + c.n
                    FROM (SELECT tenant_id, group_id, count(*) AS n FROM new_rows GROUP BY tenant_id, group_id) c
                    WHERE g.tenant_id = c.tenant_id AND g.id = c.group_id;
                ELSE
                    UPDATE groups g SET member_count = g.member_count - c.n
                    FROM (SELECT tenant_id, group_id, count(*) AS n FROM old_rows GROUP BY tenant_id, group_id) c
                    WHERE g.tenant_id = c.tenant_id AND g.id = c.group_id;
                END IF;
                RETURN NULL;
            END $$;
            CREATE TRIGGER group_member_count_insert AFTER INSERT ON group_members REFERENCING NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION scim_group_member_count();
            CREATE TRIGGER group_member_count_delete AFTER DELETE ON group_members REFERENCING OLD TABLE AS old_rows
                FOR EACH STATEMENT EXECUTE FUNCTION scim_group_member_count();
            """)

    /// A POST never takes over an existing account (issue 15):
    /// - externalId is not unique (RFC 7643 §3.1: "the server does not enforce uniqueness"); a plain partial index
    ///   serves `filter=externalId eq …`, which may now return several users. A tenant may opt in to uniqueness
    ///   (`tenants.unique_external_id`), enforced by the write path under an advisory lock.
    /// - Tombstones are final: nothing revives a soft-deleted user any more, and a trigger makes that a database
    ///   rule (RFC 7644 §3.6: a deleted resource's id answers 404 forever; RFC 7643 §3.1: ids are never reassigned).
    ///   The indexes that looked tombstones up by userName/externalId for "reactivating create" go.
    /// - The user event trigger loses its "revived tombstone → user.created" branch.
    static let v5 = Migration(
        version: 5, name: "create_never_takes_over",
        sql: """
            DROP INDEX users_external_id_key;
            CREATE INDEX users_external_id ON users (tenant_id, external_id)
                WHERE deleted_at IS NULL AND external_id IS NOT NULL;
            DROP INDEX users_deleted_user_name;
            DROP INDEX users_deleted_external_id;

            ALTER TABLE tenants ADD COLUMN unique_external_id boolean NOT NULL DEFAULT false;

            CREATE FUNCTION scim_tombstone_is_final() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'a deleted user cannot be changed or revived' USING ERRCODE = 'P0001',
                    CONSTRAINT = 'users_tombstone_final';
            END $$;
            CREATE TRIGGER users_tombstone_final BEFORE UPDATE ON users FOR EACH ROW
                WHEN (OLD.deleted_at IS NOT NULL) EXECUTE FUNCTION scim_tombstone_is_final();

            \(EventTriggers.userFunction(replacing: true, tombstonesRevive: false))
            """)
}
