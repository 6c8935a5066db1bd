import Postgres

/// Migrations 7 and 8: what the operator's app needs from the directory (issue 18) — the app's roles given by IdP
/// groups, and the users' profile fields mapped from their SCIM attributes. (Version 6 is another change's.)
///
/// Design notes (why it looks like this):
/// - **Derived state is stored, not computed on read.** Each user's effective roles live in `user_roles` and the
///   mapped profile in `users.profile`, written by the region in the transaction that changed their inputs (a
///   membership, a group's name, the user's attributes) or, after a rule or mapping change, by the recompute job
///   (`directory_jobs`). Reads, the snapshot and the events then show one value, the same everywhere, and an event
///   says exactly when it changed.
/// - **Events by triggers, as for everything else** (`RegionSchema.v3`): a statement trigger on updates of
///   `user_roles` writes one `user.roles_changed` per user whose roles differ (the statement touches each user once,
///   so "exactly one event per user whose roles changed" holds per write; a recompute batch writes its events with
///   one INSERT), and a row trigger does for a row created with roles (a new user's default role; the empty rows
///   created only to be locked fire nothing); a row trigger writes `user.profile_changed` when only the
///   profile changed (a recompute); a user write that changes the profile carries it in its `user.*` event.
/// - **`user_roles` is narrow and separate from `users`**: a member add to a mapped group rewrites a 60-byte row, not
///   the user's document and its six indexes. Its rows double as the lock that serialises two writers recomputing
///   the same user (`RoleStore.lockRows`), with no lock-table entries (advisory locks for a 100k-user change would
///   exhaust the lock table).
/// - A row with `'{}'` means "no access"; a user without a row has no roles either (the tenant had no rules when it
///   was last computed).
/// - Tenant tables as everywhere: `tenant_id` first in every key, row-level security; the job table also has the
///   region-worker policies the recompute worker uses to find work across tenants (as `webhook_endpoints`).
extension RegionSchema {
    static let v7 = Migration(
        version: 7, name: "roles",
        sql: """
            -- The app's roles and the rules that give them (validated JSON, see RoleMapping), one row per tenant.
            CREATE TABLE role_configs (
                tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
                config jsonb NOT NULL,
                version bigint NOT NULL DEFAULT 1,
                updated_at timestamptz NOT NULL DEFAULT now()
            );

            -- Each live user's effective roles, highest precedence first ('{}': no access). `version` counts its changes:
            -- two transactions that change one user's roles commit in lock order, which need not be their events' feed
            -- order (a transaction's id is taken at its first write, before it waits for this row), so consumers keep the
            -- highest version they have seen.
            CREATE TABLE user_roles (
                tenant_id uuid NOT NULL,
                user_id uuid NOT NULL,
                roles text[] NOT NULL DEFAULT '{}',
                version bigint NOT NULL DEFAULT 0,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, user_id),
                FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
            );

            -- One recompute job per tenant: every live user in id order, `after_user` the last one done. A new request
            -- bumps `generation` and starts over; the worker records progress in the same transaction as each batch,
            -- so a crash loses at most the batch in flight (guaranteed catch-up). `lease_*` names the worker.
            CREATE TABLE directory_jobs (
                tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
                generation bigint NOT NULL DEFAULT 1,
                roles boolean NOT NULL,
                profiles boolean NOT NULL,
                state text NOT NULL CHECK (state IN ('pending', 'running', 'done')),
                reason text NOT NULL,
                after_user uuid,
                processed bigint NOT NULL DEFAULT 0,
                changed bigint NOT NULL DEFAULT 0,
                total bigint,
                lease_owner text,
                lease_until timestamptz,
                last_error text,
                requested_at timestamptz NOT NULL DEFAULT now(),
                started_at timestamptz,
                finished_at timestamptz
            );

            -- One event per user whose roles changed, per statement (the statement touches each user once): a statement
            -- trigger, so that a recompute batch of 500 users writes its events with one INSERT.
            CREATE FUNCTION scim_events_roles() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO events (tenant_id, type, resource_id, data)
                SELECT n.tenant_id, 'user.roles_changed', n.user_id,
                       jsonb_build_object('userName', u.user_name, 'externalId', u.external_id,
                                          'before', to_jsonb(o.roles), 'after', to_jsonb(n.roles), 'version', n.version)
                FROM new_rows n
                JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.user_id = n.user_id
                JOIN users u ON u.tenant_id = n.tenant_id AND u.id = n.user_id
                WHERE o.roles IS DISTINCT FROM n.roles
                ORDER BY n.user_id;
                RETURN NULL;
            END $$;
            CREATE TRIGGER events_roles_update AFTER UPDATE ON user_roles REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION scim_events_roles();
            -- A row created with roles (a new user's default role): a row trigger whose WHEN skips the empty rows that
            -- recomputes create to lock (so those cost no function call).
            CREATE FUNCTION scim_events_roles_created() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO events (tenant_id, type, resource_id, data)
                SELECT NEW.tenant_id, 'user.roles_changed', NEW.user_id,
                       jsonb_build_object('userName', u.user_name, 'externalId', u.external_id,
                                          'before', '[]'::jsonb, 'after', to_jsonb(NEW.roles), 'version', NEW.version)
                FROM users u WHERE u.tenant_id = NEW.tenant_id AND u.id = NEW.user_id;
                RETURN NULL;
            END $$;
            CREATE TRIGGER events_roles_insert AFTER INSERT ON user_roles FOR EACH ROW WHEN (NEW.roles <> '{}')
                EXECUTE FUNCTION scim_events_roles_created();

            \(RowLevelSecurity.tenantIsolation("role_configs"))
            \(RowLevelSecurity.tenantIsolation("user_roles"))
            \(RowLevelSecurity.tenantIsolation("directory_jobs"))
            CREATE POLICY region_worker_read ON directory_jobs FOR SELECT USING ((SELECT scim_region_worker()));
            CREATE POLICY region_worker_claim ON directory_jobs FOR UPDATE USING ((SELECT scim_region_worker()))
                WITH CHECK ((SELECT scim_region_worker()));
            """)

    static let v8 = Migration(
        version: 8, name: "attribute_mapping",
        sql: """
            -- The user's canonical profile fields, mapped from its SCIM attributes (NULL: the tenant maps none).
            ALTER TABLE users ADD COLUMN profile jsonb;

            -- The mapping (validated JSON, see AttributeMapping), one row per tenant.
            CREATE TABLE attribute_mappings (
                tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
                mapping jsonb NOT NULL,
                version bigint NOT NULL DEFAULT 1,
                updated_at timestamptz NOT NULL DEFAULT now()
            );

            -- Only the profile changed (a recompute after a mapping change: the version stays): its own event.
            CREATE FUNCTION scim_events_profile() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO events (tenant_id, type, resource_id, data)
                VALUES (NEW.tenant_id, 'user.profile_changed', NEW.id,
                        jsonb_build_object('userName', NEW.user_name, 'externalId', NEW.external_id,
                                           'before', OLD.profile, 'after', NEW.profile));
                RETURN NULL;
            END $$;
            CREATE TRIGGER events_users_profile AFTER UPDATE OF profile ON users FOR EACH ROW
                WHEN (OLD.version = NEW.version AND OLD.profile IS DISTINCT FROM NEW.profile AND NEW.deleted_at IS NULL)
                EXECUTE FUNCTION scim_events_profile();

            -- User events store the profile with the resource.
            \(EventTriggers.userFunction(replacing: true, tombstonesRevive: false, withProfile: true))

            \(RowLevelSecurity.tenantIsolation("attribute_mappings"))
            """)
}
