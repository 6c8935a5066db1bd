#!/usr/bin/env bash
# Bulk-loads synthetic users into one tenant of a region database, server-side (INSERT … SELECT generate_series,
# in batches), far faster than the SCIM API. For the 1M-user latency measurements; never part of `make test`.
#
#   scripts/load-users.sh DATABASE_URL TENANT_UUID COUNT
#
# DATABASE_URL connects as the app role (`scim`); the region's migrations must have run (start scim-region once).
# User i (1-based) gets id 018f0000-0000-7000-8000-<i as 12 hex digits>, userName user<i>@example.com,
# externalId ext-<i>, displayName "User <i>", one work email, and a name. The derived columns are filled exactly as
# the region fills them (ASCII data, so lower() here equals the region's Swift case folding).
# Idempotent: users that already exist are skipped.
set -euo pipefail
url=${1:?usage: load-users.sh DATABASE_URL TENANT_UUID COUNT}
tenant=${2:?usage: load-users.sh DATABASE_URL TENANT_UUID COUNT}
count=${3:?usage: load-users.sh DATABASE_URL TENANT_UUID COUNT}
[[ $tenant =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || { echo "TENANT_UUID must be a lowercase UUID" >&2; exit 2; }
[[ $count =~ ^[0-9]+$ ]] || { echo "COUNT must be a number" >&2; exit 2; }
batch=100000

psql_() { psql "$url" -X -q -v ON_ERROR_STOP=1 -v tenant="$tenant" "$@"; }

psql_ <<'SQL'
BEGIN;
SELECT set_config('app.tenant_id', :'tenant', true) \g /dev/null
INSERT INTO tenants (id, name, deprovision_policy) VALUES (:'tenant', 'load-test', 'hard') ON CONFLICT (id) DO NOTHING;
COMMIT;
SQL

start=$(date +%s)
for ((from = 1; from <= count; from += batch)); do
    to=$((from + batch - 1)); ((to > count)) && to=$count
    psql_ -v from="$from" -v to="$to" <<'SQL'
BEGIN;
SELECT set_config('app.tenant_id', :'tenant', true) \g /dev/null
INSERT INTO users (tenant_id, id, user_name, user_name_key, external_id, display_name, display_name_key, active,
                   resource, created_at, last_modified)
SELECT :'tenant'::uuid, ('018f0000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
       'user' || i || '@example.com', 'user' || i || '@example.com', 'ext-' || i, 'User ' || i, 'user ' || i, true,
       jsonb_build_object(
           'schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
           'userName', 'user' || i || '@example.com',
           'name', jsonb_build_object('givenName', 'Given' || i, 'familyName', 'Family' || i),
           'displayName', 'User ' || i,
           'emails', jsonb_build_array(jsonb_build_object('value', 'user' || i || '@example.com', 'type', 'work', 'primary', true)),
           'externalId', 'ext-' || i,
           'active', true),
       date_trunc('milliseconds', now()), date_trunc('milliseconds', now())
FROM generate_series(:from::bigint, :to::bigint) AS i
ON CONFLICT DO NOTHING;
INSERT INTO user_emails (tenant_id, user_id, email_key)
SELECT :'tenant'::uuid, ('018f0000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'user' || i || '@example.com'
FROM generate_series(:from::bigint, :to::bigint) AS i
ON CONFLICT DO NOTHING;
COMMIT;
SQL
    echo "load-users: $to / $count" >&2
done
# VACUUM sets hint bits and the visibility map now, so the first reads after a load do not dirty every page.
psql_ -c "VACUUM (ANALYZE) users" -c "VACUUM (ANALYZE) user_emails"
echo "load-users: $count users in tenant $tenant loaded in $(( $(date +%s) - start )) s" >&2
