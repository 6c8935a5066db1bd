#!/usr/bin/env bash
# Failover demo: a 2-node Patroni cluster (synchronous_mode_strict) on loopback, a writer committing one row
# per transaction through the multi-host app_url, kill -9 of the primary, and a check that every row whose
# COMMIT was acknowledged is on the new primary (and on the rejoined standby).
#
#   scripts/ha/failover-demo.sh [postmaster|node]
#
#   postmaster (default)  cluster.py kill-primary: SIGKILL the leader's postmaster; its Patroni lives on, fails
#                         over at once (primary_start_timeout = 0) and brings the old primary back as a replica.
#   node                  cluster.py kill-node: SIGKILL the leader's Patroni and PostgreSQL (a lost machine).
#                         The standby takes over when the leader key expires (ttl 10 s); in strict mode its
#                         commits then wait until cluster.py start-node brings the old node back (after
#                         HOLD seconds, default 3), which it does with pg_rewind.
#
# Environment: WARMUP (s of writes before the kill, default 3), AFTER (s of writes after recovery, default 2),
# KEEP=1 keeps the cluster directory (logs) under .pg/ after the run.
# Prints: failover_ms (kill -> first acknowledged write), acknowledged, found, lost. Exit 1 if lost > 0.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HA=$REPO/scripts/ha
SCENARIO=${1:-postmaster}
WARMUP=${WARMUP:-3}
AFTER=${AFTER:-2}
HOLD=${HOLD:-3}
PSQL=/usr/lib/postgresql/15/bin/psql
case $SCENARIO in postmaster|node) ;; *) echo "usage: $0 [postmaster|node]" >&2; exit 2 ;; esac

cluster() { python3 "$HA/cluster.py" "$@"; }
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }
ms() { date +%s%3N; }

cluster install >&2
mkdir -p "$REPO/.pg"
DIR=$(mktemp -d "$REPO/.pg/ha-demo.XXXXXX")
WRITER_PID=
cleanup() {
    local rc=$?
    # Only what this script started: the writer (by PID) and the cluster in DIR (cluster.py stop, by PIDs).
    if [[ -n $WRITER_PID ]] && kill -0 "$WRITER_PID" 2>/dev/null; then
        kill "$WRITER_PID" 2>/dev/null || true
        wait "$WRITER_PID" 2>/dev/null || true
    fi
    cluster stop "$DIR" >&2 || true
    if [[ ${KEEP:-0} == 1 ]]; then echo "demo: kept $DIR" >&2; else rm -rf "$DIR"; fi
    exit "$rc"
}
trap cleanup EXIT

echo "demo: starting a 2-node cluster in $DIR" >&2
cluster start "$DIR" --nodes 2 --name demo --database scim >/dev/null
APP_URL=$(json "$DIR/cluster.json" 'd["app_url"]')
ADMIN_URL=$(json "$DIR/cluster.json" 'd["admin_url"]')
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$APP_URL" -c "CREATE TABLE ha_demo (id bigint PRIMARY KEY, writer_ms bigint NOT NULL)"

/usr/bin/python3 "$HA/writer.py" --url "$APP_URL" --acked "$DIR/acked.txt" --doubt "$DIR/doubt.txt" \
    --stop-file "$DIR/writer.stop" --seconds 180 2>"$DIR/writer.log" &
WRITER_PID=$!
sleep "$WARMUP"

OLD=$(cluster status "$DIR" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
BEFORE=$(wc -l <"$DIR/acked.txt")
echo "demo: $BEFORE writes acknowledged; killing the primary ($OLD, scenario $SCENARIO)" >&2
if [[ $SCENARIO == postmaster ]]; then
    cluster kill-primary "$DIR" >"$DIR/kill.json"
    cluster wait-leader "$DIR" --exclude "$OLD" --timeout 60 >"$DIR/wait.json"
else
    cluster kill-node "$DIR" "$OLD" >"$DIR/kill.json"
    # Promotion only (pg_is_in_recovery() = false): a committed write would wait for the old node.
    cluster wait-leader "$DIR" --exclude "$OLD" --timeout 60 --probe rw >"$DIR/wait.json"
    sleep "$HOLD"
    cluster start-node "$DIR" "$OLD" --timeout 90 >"$DIR/start-node.json"
fi
KILL_MS=$(json "$DIR/kill.json" 'd["at_ms"]')
NEW=$(json "$DIR/wait.json" 'd["leader"]')
LEADER_MS=$(json "$DIR/wait.json" 'd["since_kill_ms"]')

# Writes succeed again when the writer's first acknowledgement after the kill arrives (bounded wait).
FIRST=""
for _ in $(seq 1 600); do
    FIRST=$(awk -v k="$KILL_MS" '$2 > k { print $2; exit }' "$DIR/acked.txt")
    [[ -n $FIRST ]] && break
    sleep 0.1
done
[[ -n $FIRST ]] || { echo "demo: no write succeeded within 60 s after the kill" >&2; tail -n 20 "$DIR/writer.log" >&2; exit 1; }
sleep "$AFTER"
touch "$DIR/writer.stop"
for _ in $(seq 1 100); do kill -0 "$WRITER_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$WRITER_PID" 2>/dev/null; then kill "$WRITER_PID"; fi
wait "$WRITER_PID" 2>/dev/null || true
WRITER_PID=
cat "$DIR/writer.log" >&2

# The old primary must be back as the synchronous standby before its copy can be checked too (bounded).
for _ in $(seq 1 60); do cluster status "$DIR" >/dev/null && break; sleep 0.5; done
cluster status "$DIR" >&2 || true

# Every acknowledged id must be on the new primary (read-write target) and on every node (its own port).
ACKED=$(wc -l <"$DIR/acked.txt")
"$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 -d "$ADMIN_URL" -c "SELECT id FROM ha_demo" >"$DIR/found.txt"
FOUND=$(awk 'NR == FNR { have[$1] = 1; next } ($1 in have) { n++ } END { print n + 0 }' "$DIR/found.txt" "$DIR/acked.txt")
LOST=$((ACKED - FOUND))
DOUBT=$(wc -l <"$DIR/doubt.txt" 2>/dev/null || echo 0)
DOUBT_PRESENT=$(awk 'NR == FNR { have[$1] = 1; next } ($1 in have) { n++ } END { print n + 0 }' "$DIR/found.txt" "$DIR/doubt.txt" 2>/dev/null || echo 0)
NODES=""
for port in $(json "$DIR/cluster.json" '" ".join(str(n["pg_port"]) for n in d["nodes"])'); do
    "$PSQL" -X -A -t -q -d "postgresql://postgres@127.0.0.1:$port/scim?connect_timeout=2" -c "SELECT id FROM ha_demo" \
        >"$DIR/found-$port.txt" 2>/dev/null || true
    n=$(awk 'NR == FNR { have[$1] = 1; next } ($1 in have) { n++ } END { print n + 0 }' "$DIR/found-$port.txt" "$DIR/acked.txt")
    NODES+=" $port:$n"
done
# (print the field as read: mawk prints numbers >= 2^31 in %.6g or wraps them with %d)
LAST_BEFORE=$(awk -v k="$KILL_MS" '$2 <= k { t = $2 } END { print t }' "$DIR/acked.txt")

echo "scenario=$SCENARIO old_primary=$OLD new_primary=$NEW"
echo "failover_ms=$((FIRST - KILL_MS)) (kill -> first acknowledged write; write gap $((FIRST - LAST_BEFORE)) ms;" \
     "new leader took writes ${LEADER_MS} ms after the kill per wait-leader)"
echo "acknowledged=$ACKED found=$FOUND lost=$LOST (unacknowledged attempts: $DOUBT, of which present: $DOUBT_PRESENT)"
echo "acknowledged rows per node (port:count):$NODES"
if [[ $LOST -ne 0 ]]; then echo "demo: LOST $LOST acknowledged writes" >&2; exit 1; fi
