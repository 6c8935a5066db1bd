#!/usr/bin/env bash
# The 1M-user measurement (issue 4): one tenant with COUNT users (default 1,000,000), then GET /Users/{id} and
# GET /Users?filter=userName eq "…" with random keys, measured with wrk on loopback (p50/p99 from wrk --latency).
#
#   scripts/bench-region-1m.sh [COUNT]        env: DURATION (s, default 20), CONNECTIONS (default "1 8")
#
# Uses its own PostgreSQL cluster (.pg/bench, kept between runs so the load happens once) and a release build of
# scim-region in development mode (the bearer token is the tenant id). Not part of `make test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/swift-env.sh
source scripts/swift-env.sh
COUNT=${1:-1000000}
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-"1 8"}
TENANT=0b5e0000-0000-4000-8000-000000000001
PG_DIR=.pg/bench
WORK=$(mktemp -d /tmp/region-bench.XXXXXX)
command -v wrk >/dev/null || { echo "bench-region-1m: wrk is required (apt-get install wrk)" >&2; exit 1; }

scripts/deps.sh >/dev/null
echo "== building scim-region (release)"
swift build -c release --product scim-region >/dev/null
BIN=$(swift build -c release --show-bin-path)
scripts/pg.sh start "$PG_DIR" >/dev/null
# shellcheck disable=SC1091
source "$PG_DIR/env"
scripts/pg.sh createdb "$PG_DIR" scim_bench >/dev/null
DB_URL="postgresql://scim@127.0.0.1:$SCIM_PG_PORT/scim_bench"

"$BIN/scim-region" --region us --listen 127.0.0.1:0 --port-file "$WORK/port" --database-url "$DB_URL" \
    --dev-unsigned-tenants --log-level warning >"$WORK/region.log" 2>&1 &
REGION_PID=$!
trap 'kill -TERM $REGION_PID 2>/dev/null || true; wait $REGION_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do [[ -s $WORK/port ]] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

have=$(psql "$DB_URL" -XAtq -c "SELECT set_config('app.tenant_id', '$TENANT', false)" \
    -c "SELECT count(*) FROM users WHERE tenant_id = '$TENANT'" | tail -n1)
if ((have < COUNT)); then
    echo "== loading $COUNT users (have $have)"
    load_start=$(date +%s)
    scripts/load-users.sh "$DB_URL" "$TENANT" "$COUNT"
    echo "load time: $(( $(date +%s) - load_start )) s"
else
    echo "== $have users already loaded"
fi
psql "$DB_URL" -XAtq -c "SELECT 'database size: ' || pg_size_pretty(pg_database_size(current_database()))"
# Measure a warm server, as in production: read the tables and indexes into the OS page cache first (random reads
# from this VM's disk otherwise put 100 ms stalls into the tail while the cache fills).
ADMIN_URL="postgresql://postgres@127.0.0.1:$SCIM_PG_PORT/scim_bench"
psql "$ADMIN_URL" -XAtq -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
    -c "SELECT sum(pg_prewarm(c.oid, 'read')) FROM pg_class c WHERE c.relname IN ('users', 'users_pkey', 'users_user_name_key', 'user_emails', 'user_emails_key', 'user_emails_pkey', 'groups', 'group_members', 'group_members_member', 'tenants')" >/dev/null

cat >"$WORK/by-id.lua" <<LUA
math.randomseed(os.time())
request = function()
  local i = math.random(1, $COUNT)
  return wrk.format("GET", string.format("/scim/v2/Users/018f0000-0000-7000-8000-%012x", i))
end
LUA
cat >"$WORK/by-filter.lua" <<LUA
math.randomseed(os.time() + 1)
request = function()
  local i = math.random(1, $COUNT)
  return wrk.format("GET", "/scim/v2/Users?filter=userName%20eq%20%22user" .. i .. "%40EXAMPLE.com%22")
end
LUA
# Sanity: both shapes answer 200 with the expected user.
curl -sf -H "Authorization: Bearer $TENANT" "http://127.0.0.1:$PORT/scim/v2/Users/018f0000-0000-7000-8000-000000000007" | grep -q '"userName":"user7@example.com"'
curl -sf -H "Authorization: Bearer $TENANT" "http://127.0.0.1:$PORT/scim/v2/Users?filter=userName%20eq%20%22USER7%40example.com%22" | grep -q '"totalResults":1'

for c in $CONNECTIONS; do
    for shape in by-id by-filter; do
        # Warm-up, then the measured run.
        wrk -t1 -c"$c" -d3s -s "$WORK/$shape.lua" -H "Authorization: Bearer $TENANT" "http://127.0.0.1:$PORT" >/dev/null
        out=$(wrk -t1 -c"$c" -d"${DURATION}s" --latency -s "$WORK/$shape.lua" -H "Authorization: Bearer $TENANT" "http://127.0.0.1:$PORT")
        p50=$(awk '/^ +50%/ {print $2}' <<<"$out")
        p99=$(awk '/^ +99%/ {print $2}' <<<"$out")
        rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
        errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" || true)
        printf '%-10s connections=%-3s p50=%-9s p99=%-9s req/s=%s %s\n' "$shape" "$c" "$p50" "$p99" "$rps" "$errors"
    done
done
