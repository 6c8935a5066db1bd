import Postgres

/// Migration 3: the transactional outbox (`events`), webhook endpoints with their delivery state, and dead letters.
///
/// Design notes (why it looks like this):
/// - **Events are written by triggers** on `users`, `groups` (row triggers, with WHEN clauses so non-events cost
///   nothing) and `group_members` (statement triggers with transition tables, one INSERT per statement). That is the
///   one place every change passes through — every SCIM write path (POST, PUT, PATCH, DELETE, Bulk, reviving create,
///   the membership clean-up after a delete, and whatever fast path comes next) — and it runs inside the writing
///   transaction, so a rolled-back change never leaves an event and a committed one always does. Cascades stay
///   silent: deleting a group does not add one `member_removed` per member, and deleting a tenant adds nothing (its
///   events go with it). Measured cost: about 35 µs of server CPU per single-row write (one more index insert and a
///   PL/pgSQL call); helper SQL functions in the payload expressions tripled that (they are not inlined), so the
///   expressions are written out.
/// - **Membership events are chunked**: one `group.member_added` / `group.member_removed` per statement and group
///   carries up to 500 members, so a 100k-member `replace` adds 200 event rows, not 100k (the member rows it writes
///   are the work it has to do anyway).
/// - **Order without a counter lock.** A per-tenant counter row would serialise every write of a tenant behind the
///   previous commit's fsync. Instead each event records the writing transaction's id (`pg_current_xact_id()`, a
///   64-bit xid8 that never wraps) and a sequence value (`seq`, only needed to order events within a transaction).
///   Readers return only events whose `xid` is below `pg_snapshot_xmin(pg_current_snapshot())`: every transaction
///   below that horizon has finished, so the set of such events never changes again. Any event committed later
///   belongs to a transaction at or above the horizon, hence sorts after every `(xid, seq)` already returned: a
///   cursor never skips an event. The cost is latency: events wait until older concurrent write transactions end.
///   (After a logical dump/restore into a new cluster, xids restart lower: bump the cluster's xid epoch first.)
/// - Row-level security as everywhere, plus a second, narrower policy for the region's own background work (the
///   webhook claim query and the retention purge read across tenants): it applies only in a transaction that set
///   `app.region_worker` to `on`, which no request path does.
/// - The purge deletes by `occurred_at` through a BRIN index (tiny, nearly free to maintain on an append-only table).
/// - Webhook secrets are stored sealed (AES-256-GCM under a keyring key, see `SecretBox`); delivery state (cursor,
///   attempts, next attempt, lease) is in the endpoint row, so it survives restarts and is shared by replicas.
extension RegionSchema {
    static let v3 = Migration(
        version: 3, name: "events_and_webhooks",
        sql: """
            CREATE FUNCTION scim_region_worker() RETURNS boolean
                LANGUAGE sql STABLE PARALLEL SAFE
                AS $$ SELECT coalesce(current_setting('app.region_worker', true), '') = 'on' $$;

            CREATE TABLE events (
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
                seq bigint GENERATED ALWAYS AS IDENTITY,
                type text NOT NULL,
                resource_id uuid NOT NULL,
                occurred_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
                data jsonb NOT NULL,
                PRIMARY KEY (tenant_id, xid, seq)
            );
            CREATE INDEX events_occurred_at ON events USING brin (occurred_at);

            -- Users and groups: row triggers whose WHEN clauses keep non-events (a version-less update, a tombstone
            -- purge, a membership-only touch of a group) from even calling the function. A resource event stores the
            -- document with its version and times (epoch milliseconds); the region renders it like a GET when read.
            -- The expressions are written out: SQL helper functions here are not inlined and cost more than the rest.
            \(EventTriggers.userFunction(replacing: false, tombstonesRevive: true))

            CREATE FUNCTION scim_events_group() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    INSERT INTO events (tenant_id, type, resource_id, data)
                    VALUES (OLD.tenant_id, 'group.deleted', OLD.id,
                            jsonb_build_object('displayName', OLD.display_name, 'externalId', OLD.external_id));
                    RETURN NULL;
                END IF;
                INSERT INTO events (tenant_id, type, resource_id, data)
                VALUES (NEW.tenant_id, CASE TG_OP WHEN 'INSERT' THEN 'group.created' ELSE 'group.updated' END, NEW.id,
                        jsonb_build_object('resource', NEW.resource, 'version', NEW.version,
                                           'created', (extract(epoch FROM NEW.created_at) * 1000)::bigint,
                                           'lastModified', (extract(epoch FROM NEW.last_modified) * 1000)::bigint));
                RETURN NULL;
            END $$;

            -- Membership: one statement trigger per direction; one event per group and 500 members, in the order the
            -- members were added.
            CREATE FUNCTION scim_events_members() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                -- Inside a cascade (the group or the tenant is being deleted): group.deleted says it all.
                IF pg_trigger_depth() > 1 THEN
                    RETURN NULL;
                END IF;
                IF TG_OP = 'INSERT' THEN
                    \(EventTriggers.membershipEvents("group.member_added", rows: "new_rows"))
                ELSE
                    \(EventTriggers.membershipEvents("group.member_removed", rows: "old_rows"))
                END IF;
                RETURN NULL;
            END $$;

            -- `pg_trigger_depth() = 0`: a delete that is not a cascade. Users and groups are only ever cascaded from
            -- their tenant, whose deletion takes its events with it and must not write new ones.
            CREATE TRIGGER events_users_insert AFTER INSERT ON users FOR EACH ROW
                WHEN (NEW.deleted_at IS NULL) EXECUTE FUNCTION scim_events_user();
            CREATE TRIGGER events_users_update AFTER UPDATE ON users FOR EACH ROW
                WHEN (OLD.version IS DISTINCT FROM NEW.version AND (OLD.deleted_at IS NULL OR NEW.deleted_at IS NULL))
                EXECUTE FUNCTION scim_events_user();
            CREATE TRIGGER events_users_delete AFTER DELETE ON users FOR EACH ROW
                WHEN (OLD.deleted_at IS NULL AND pg_trigger_depth() = 0) EXECUTE FUNCTION scim_events_user();
            CREATE TRIGGER events_groups_insert AFTER INSERT ON groups FOR EACH ROW EXECUTE FUNCTION scim_events_group();
            CREATE TRIGGER events_groups_update AFTER UPDATE ON groups FOR EACH ROW
                WHEN (OLD.resource IS DISTINCT FROM NEW.resource) EXECUTE FUNCTION scim_events_group();
            CREATE TRIGGER events_groups_delete AFTER DELETE ON groups FOR EACH ROW
                WHEN (pg_trigger_depth() = 0) EXECUTE FUNCTION scim_events_group();
            CREATE TRIGGER events_members_insert AFTER INSERT ON group_members REFERENCING NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION scim_events_members();
            CREATE TRIGGER events_members_delete AFTER DELETE ON group_members REFERENCING OLD TABLE AS old_rows
                FOR EACH STATEMENT EXECUTE FUNCTION scim_events_members();

            -- One endpoint per tenant. The cursor is the last delivered (xid, seq); `lease_*` marks the replica that
            -- is delivering right now (a lease, not a row lock: no transaction stays open across an HTTP call, which
            -- would also hold back every tenant's event horizon).
            CREATE TABLE webhook_endpoints (
                tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
                url text NOT NULL,
                secret_key_id text NOT NULL,
                secret_sealed bytea NOT NULL,
                cursor_xid xid8 NOT NULL,
                cursor_seq bigint NOT NULL DEFAULT 0,
                attempts integer NOT NULL DEFAULT 0,
                next_attempt_at timestamptz NOT NULL DEFAULT now(),
                lease_owner text,
                lease_until timestamptz,
                dead_lettered_at timestamptz,
                last_attempt_at timestamptz,
                last_status integer,
                last_error text,
                last_delivered_at timestamptz,
                delivered_events bigint NOT NULL DEFAULT 0,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );

            -- A batch that failed `max attempts` times: the endpoint stops (order is kept) until redelivery.
            CREATE TABLE webhook_dead_letters (
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                id bigint GENERATED ALWAYS AS IDENTITY,
                after_xid xid8 NOT NULL,
                after_seq bigint NOT NULL,
                last_xid xid8 NOT NULL,
                last_seq bigint NOT NULL,
                event_count integer NOT NULL,
                attempts integer NOT NULL,
                last_status integer,
                last_error text,
                created_at timestamptz NOT NULL DEFAULT now(),
                resolved_at timestamptz,
                resolution text CHECK (resolution IN ('redelivered', 'skipped')),
                PRIMARY KEY (tenant_id, id)
            );

            \(RowLevelSecurity.tenantIsolation("events"))
            CREATE POLICY region_worker_read ON events FOR SELECT USING ((SELECT scim_region_worker()));
            CREATE POLICY region_worker_purge ON events FOR DELETE USING ((SELECT scim_region_worker()));
            \(RowLevelSecurity.tenantIsolation("webhook_endpoints"))
            CREATE POLICY region_worker_read ON webhook_endpoints FOR SELECT USING ((SELECT scim_region_worker()));
            CREATE POLICY region_worker_claim ON webhook_endpoints FOR UPDATE USING ((SELECT scim_region_worker()))
                WITH CHECK ((SELECT scim_region_worker()));
            \(RowLevelSecurity.tenantIsolation("webhook_dead_letters"))
            """)
}
