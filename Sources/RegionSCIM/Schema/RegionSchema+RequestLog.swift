import Postgres

/// Migration 6: the request log (issue 17), one row per SCIM request of a tenant whose home is this region, and the
/// tenant's request-log settings. It holds PII (userNames, bodies), which is why it lives here and nowhere else.
///
/// Design notes (why it looks like this):
/// - **Written in batches by one background writer per process** (`RegionRequestLog`), never on the request path:
///   one transaction per batch, one multi-row INSERT per tenant in it (`json_to_recordset`), each under its own
///   `app.tenant_id`, so row-level security checks every row as for any other tenant write.
/// - **No foreign key to `tenants`**: a foreign key checks (and key-share locks) the tenant row once per inserted row,
///   2.8 µs of PostgreSQL CPU of the 11 µs a row costs (measured). The writer's INSERT checks it once per statement
///   instead (`EXISTS (… FOR KEY SHARE)`: a batch for a deleted tenant inserts nothing), and deleting a tenant
///   deletes its records in the same transaction, after the tenant row (`RegionDatabase.deleteTenant`), so a batch
///   that held the row has committed and is seen.
/// - **Order without a counter lock**, as for `events`: a row records its writing transaction's id (`xid`) and a
///   sequence value (`seq`). Readers see only rows whose `xid` is below the snapshot's xmin (every transaction there
///   has finished), so a "newer than this cursor" page never skips a row that commits later (several replicas
///   write concurrently). `(tenant_id, xid, seq)` is the key and the listing order (newest first by default).
/// - `at` is when the request arrived (the region's clock; the gateway's for requests it refused itself, which
///   arrive up to a few seconds later): `(tenant_id, at)` serves time ranges, the summary's window and the
///   retention purge. userName, the filter an IT admin starts from, has a partial index (only rows that name one)
///   ending in the listing order, so it reads only matching rows. Every index costs each of the many inserts (measured
///   about 2-3 µs per row each), so externalId and resource id have none: their filters scan the tenant's records,
///   which retention bounds (100,000 by default).
/// - Bodies are stored as text, already redacted and cut to the tenant's `maxBodyBytes` (a cut JSON document is
///   no longer JSON); `request_omitted` / `response_omitted` say why a body is absent.
/// - The purge works per tenant (its own retention time and count) in small batches; it lists tenants and their
///   settings through a read-only policy for the region's background work (`app.region_worker`, as in migration 3).
extension RegionSchema {
    static let v6 = Migration(
        version: 6, name: "request_log",
        sql: """
            ALTER TABLE tenants ADD COLUMN request_log jsonb NOT NULL DEFAULT '{}';
            CREATE POLICY region_worker_read ON tenants FOR SELECT USING ((SELECT scim_region_worker()));

            CREATE TABLE request_log (
                tenant_id uuid NOT NULL,
                xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
                seq bigint GENERATED ALWAYS AS IDENTITY,
                at timestamptz NOT NULL,
                request_id text NOT NULL,
                source text NOT NULL CHECK (source IN ('region', 'gateway')),
                idp text,
                user_agent text,
                method text NOT NULL,
                route text NOT NULL,
                resource_type text,
                resource_id text,
                user_name text,
                external_id text,
                display_name text,
                query text,
                status smallint NOT NULL,
                scim_type text,
                detail text,
                outcome text,
                quirks text[] NOT NULL DEFAULT '{}',
                duration_ms double precision NOT NULL,
                results integer,
                request_body text,
                request_bytes integer NOT NULL DEFAULT 0,
                request_truncated boolean NOT NULL DEFAULT false,
                request_omitted text,
                response_body text,
                response_bytes integer NOT NULL DEFAULT 0,
                response_truncated boolean NOT NULL DEFAULT false,
                response_omitted text,
                PRIMARY KEY (tenant_id, xid, seq)
            );
            CREATE INDEX request_log_at ON request_log (tenant_id, at);
            CREATE INDEX request_log_user_name ON request_log (tenant_id, user_name, xid, seq) WHERE user_name IS NOT NULL;

            \(RowLevelSecurity.tenantIsolation("request_log"))
            """)
}

/// Migration 10: which process wrote each request-log record (`written_by`: the region, the host and the process id
/// of the `scim-region` replica whose writer inserted it, e.g. `us/host-a/4711`). The residency report's "who
/// processed this tenant's requests" counts records per region and process from it; a record keeps it when it moves
/// with its tenant to another region. Numbered 10: 7 and 8 (roles) belong to another branch.
///
/// A nullable column without a default: adding it changes only the catalog (no table rewrite), and each insert
/// carries one more text value, the same for the whole batch (one parameter). Records written before it have none.
extension RegionSchema {
    static let v10 = Migration(
        version: 10, name: "request_log_written_by",
        sql: """
            ALTER TABLE request_log ADD COLUMN written_by text;
            """)
}
