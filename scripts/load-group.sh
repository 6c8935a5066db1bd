#!/usr/bin/env bash
# Creates (once) a group with the first COUNT users of a tenant as members, server-side, for the benchmark's
# "member add to a 100k-member group" scenario. Never part of `make test`.
#   scripts/load-group.sh DATABASE_URL TENANT_UUID GROUP_UUID COUNT
set -euo pipefail
url=${1:?usage}; tenant=${2:?usage}; group=${3:?usage}; count=${4:?usage}
psql "$url" -X -q -v ON_ERROR_STOP=1 -v tenant="$tenant" -v group="$group" -v count="$count" <<'SQL'
BEGIN;
SELECT set_config('app.tenant_id', :'tenant', true) \g /dev/null
INSERT INTO groups (tenant_id, id, display_name, display_name_key, resource, created_at, last_modified)
VALUES (:'tenant', :'group', 'Bench 100k', 'bench 100k',
        jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:Group'), 'displayName', 'Bench 100k'),
        now(), now())
ON CONFLICT DO NOTHING;
INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
SELECT :'tenant'::uuid, :'group'::uuid, ('018f0000-0000-7000-8000-' || lpad(to_hex(i::bigint), 12, '0'))::uuid, 'User'
FROM generate_series(1, :count) AS i
ON CONFLICT DO NOTHING;
COMMIT;
SQL
