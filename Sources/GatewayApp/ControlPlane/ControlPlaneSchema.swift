import Postgres

/// The control-plane database: tenants, token hashes, admin key hashes, audit log. No user data, no secrets.
enum ControlPlaneSchema {
    /// Where every replica learns that a token, tenant or key changed (payload `token:<id>`, `tenant:<id>`, `all`).
    static let channel = "scim_control"

    static let migrations: [Migration] = [
        Migration(version: 1, name: "control plane", sql: """
            CREATE TABLE tenants (
                id                 uuid PRIMARY KEY,
                name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
                home_region        text NOT NULL,
                integration_state  text NOT NULL DEFAULT 'active' CHECK (integration_state IN ('active', 'deactivated')),
                deprovision_policy text NOT NULL DEFAULT 'soft' CHECK (deprovision_policy IN ('hard', 'soft', 'refuse')),
                rate_limit_per_second integer CHECK (rate_limit_per_second >= 0),
                rate_limit_burst   integer CHECK (rate_limit_burst >= 0),
                settings           jsonb NOT NULL DEFAULT '{}',
                created_at         timestamptz NOT NULL DEFAULT now(),
                updated_at         timestamptz NOT NULL DEFAULT now(),
                deleted_at         timestamptz
            );
            CREATE UNIQUE INDEX tenants_name_live ON tenants (lower(name)) WHERE deleted_at IS NULL;

            CREATE TABLE tokens (
                id           text PRIMARY KEY,
                tenant_id    uuid NOT NULL REFERENCES tenants (id),
                hash         bytea NOT NULL,
                pepper_id    text NOT NULL,
                label        text,
                created_by   text NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT now(),
                last_used_at timestamptz,
                expires_at   timestamptz,
                revoked_at   timestamptz,
                revoked_reason text
            );
            CREATE INDEX tokens_tenant ON tokens (tenant_id);
            CREATE INDEX tokens_pepper ON tokens (pepper_id) WHERE revoked_at IS NULL;

            CREATE TABLE admin_keys (
                id           text PRIMARY KEY,
                hash         bytea NOT NULL,
                pepper_id    text NOT NULL,
                label        text NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT now(),
                last_used_at timestamptz,
                revoked_at   timestamptz
            );

            CREATE TABLE audit_log (
                id        bigserial PRIMARY KEY,
                at        timestamptz NOT NULL DEFAULT now(),
                actor     text NOT NULL,
                action    text NOT NULL,
                tenant_id uuid,
                token_id  text,
                detail    jsonb NOT NULL DEFAULT '{}'
            );
            CREATE INDEX audit_tenant ON audit_log (tenant_id, id);
            """),
        // OAuth 2.0 client credentials (docs/oauth.md). A client's secret is stored like a token's: an HMAC under a
        // pepper. During a rotation's grace window the previous secret's hash is kept too. The access tokens it
        // issues are rows of `tokens` (so the SCIM path treats them exactly like bearer tokens) that name their
        // client and always expire.
        Migration(version: 2, name: "oauth clients", sql: """
            CREATE TABLE oauth_clients (
                id             text PRIMARY KEY,
                tenant_id      uuid NOT NULL REFERENCES tenants (id),
                hash           bytea NOT NULL,
                pepper_id      text NOT NULL,
                previous_hash  bytea,
                previous_pepper_id text,
                previous_expires_at timestamptz,
                token_lifetime_seconds integer NOT NULL DEFAULT 3600 CHECK (token_lifetime_seconds BETWEEN 1 AND 21600),
                label          text,
                created_by     text NOT NULL,
                created_at     timestamptz NOT NULL DEFAULT now(),
                secret_rotated_at timestamptz,
                last_used_at   timestamptz,
                revoked_at     timestamptz,
                revoked_reason text,
                CHECK ((previous_hash IS NULL) = (previous_pepper_id IS NULL)
                       AND (previous_hash IS NULL) = (previous_expires_at IS NULL))
            );
            CREATE INDEX oauth_clients_tenant ON oauth_clients (tenant_id);

            ALTER TABLE tokens ADD COLUMN oauth_client_id text REFERENCES oauth_clients (id);
            ALTER TABLE tokens ADD CONSTRAINT tokens_access_expire CHECK (oauth_client_id IS NULL OR expires_at IS NOT NULL);
            CREATE INDEX tokens_oauth_client ON tokens (oauth_client_id, expires_at) WHERE oauth_client_id IS NOT NULL;
            """),
        // Setup links for a customer's IT admin (docs/web.md): like tokens, only an HMAC of the secret is kept; a
        // link always expires and can be revoked.
        Migration(version: 3, name: "setup links", sql: """
            CREATE TABLE setup_links (
                id           text PRIMARY KEY,
                tenant_id    uuid NOT NULL REFERENCES tenants (id),
                hash         bytea NOT NULL,
                pepper_id    text NOT NULL,
                label        text,
                created_by   text NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT now(),
                expires_at   timestamptz NOT NULL,
                last_used_at timestamptz,
                uses         integer NOT NULL DEFAULT 0,
                revoked_at   timestamptz
            );
            CREATE INDEX setup_links_tenant ON setup_links (tenant_id);
            """),
        // Moving a tenant between regions (docs/residency.md): the move's state machine, its mover's lease and
        // fencing token (`epoch`, raised by every claim), and its progress. At most one unfinished move per tenant.
        Migration(version: 4, name: "tenant moves", sql: """
            CREATE TABLE tenant_moves (
                id              uuid PRIMARY KEY,
                tenant_id       uuid NOT NULL REFERENCES tenants (id),
                source_region   text NOT NULL,
                target_region   text NOT NULL CHECK (target_region <> source_region),
                state           text NOT NULL CHECK (state IN ('preparing', 'copying', 'frozen', 'activating', 'cut_over',
                                                               'purging', 'done', 'aborting', 'aborted', 'failed')),
                abort_requested boolean NOT NULL DEFAULT false,
                epoch           bigint NOT NULL DEFAULT 0,
                owner           text,
                lease_until     timestamptz,
                requested_by    text NOT NULL,
                created_at      timestamptz NOT NULL DEFAULT now(),
                updated_at      timestamptz NOT NULL DEFAULT now(),
                frozen_at       timestamptz,
                cut_over_at     timestamptz,
                finished_at     timestamptz,
                attempts        integer NOT NULL DEFAULT 0,
                last_error      text,
                progress        jsonb NOT NULL DEFAULT '{}'
            );
            CREATE UNIQUE INDEX tenant_moves_one_unfinished ON tenant_moves (tenant_id)
                WHERE state NOT IN ('done', 'aborted', 'failed');
            CREATE INDEX tenant_moves_tenant ON tenant_moves (tenant_id, created_at);
            """),
    ]
}
