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
# KEEP=1 keeps the cluster directory (logs) under .pg/ after the run, STRICT=0 starts the cluster with
# --no-strict (to compare: writes resume sooner, but a lone primary then acknowledges non-durable writes).
# Prints: failover_ms (kill -> first acknowledged write on the new primary), acknowledged, found, lost.
# Exit 1 if lost > 0.
#
# Measured on this 2-core machine (Swift builds running beside it; 0.2-2.5 k commits/s depending on them):
#   postmaster, strict:    failover_ms 4450, 3302, 3271, 3421, 2773, 4477, 3142, 4814; lost 0 every time
#                          (1.3-13 k acknowledged per run; up to 11 of them acknowledged by the killed primary's
#                          orphaned backends in the ms after the SIGKILL, all found on both nodes)
#   node, strict, HOLD=3:  failover_ms 13717, 14397 (promotion 9.6-10.3 s after the kill = ttl, then commits wait
#                          for start-node, which rejoins with pg_rewind in ~1 s); lost 0
#   postmaster, STRICT=0:  failover_ms 564, 803; lost 0 (but until the old primary rejoined, ~3 s, the new primary
#                          acknowledged writes that existed on it alone)
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
# json FILE EXPR: prints EXPR evaluated with d = the parsed FILE (our own files only).
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }

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
STRICT_FLAG=()
[[ ${STRICT:-1} == 0 ]] && STRICT_FLAG=(--no-strict)
cluster start "$DIR" --nodes 2 --name demo --database scim "${STRICT_FLAG[@]}" >/dev/null
APP_URL=$(json "$DIR/cluster.json" 'd["app_url"]')
ADMIN_URL=$(json "$DIR/cluster.json" 'd["admin_url"]')
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$APP_URL" -c "CREATE TABLE ha_demo (id bigint PRIMARY KEY, writer_ms bigint NOT NULL)"

/usr/bin/python3 "$HA/writer.py" --url "$APP_URL" --acked "$DIR/acked.txt" --doubt "$DIR/doubt.txt" \
    --stop-file "$DIR/writer.stop" --seconds 180 2>"$DIR/writer.log" &
WRITER_PID=$!
sleep "$WARMUP"

cluster status "$DIR" --json >"$DIR/status.json" || true   # exit 1 = not healthy; the leader is what counts here
OLD=$(json "$DIR/status.json" 'd["leader"]')
[[ $OLD != None ]] || { echo "demo: no leader" >&2; exit 1; }
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
RECOVERED_MS=$(date +%s%3N)

# The writer must get acknowledgements from the new primary too: wait (bounded) for one stamped after
# the cluster recovered, then let it write AFTER seconds more.
ok=0
for _ in $(seq 1 600); do
    if awk -v t="$RECOVERED_MS" '$2 > t { found = 1; exit } END { exit !found }' "$DIR/acked.txt"; then ok=1; break; fi
    sleep 0.1
done
[[ $ok == 1 ]] || { echo "demo: no write acknowledged within 60 s of recovery" >&2; exit 1; }
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
"$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 -d "$ADMIN_URL" -c "SELECT id FROM ha_demo" >"$DIR/found.txt"
for port in $(json "$DIR/cluster.json" '" ".join(str(n["pg_port"]) for n in d["nodes"])'); do
    "$PSQL" -X -A -t -q -d "postgresql://postgres@127.0.0.1:$port/scim?connect_timeout=2" -c "SELECT id FROM ha_demo" \
        >"$DIR/found-$port.txt" 2>/dev/null || true
done

python3 - "$DIR" "$SCENARIO" "${STRICT:-1}" "$OLD" "$NEW" <<'PY'
import glob, json, os, sys
d, scenario, strict, old, new = sys.argv[1:]
def ids(path):
    try:
        return {int(l.split()[0]) for l in open(path) if l.strip()}
    except OSError:
        return set()
acks = sorted((int(t), int(i)) for i, t in (l.split()[:2] for l in open(f"{d}/acked.txt") if l.strip()))
kill = json.load(open(f"{d}/kill.json"))["at_ms"]
wait = json.load(open(f"{d}/wait.json"))
took = "a write" if wait.get("probe") == "write" else "read-write connections (promoted)"
# The outage is the longest pause between two consecutive acknowledgements that ends after the kill. (Not
# simply "the first acknowledgement after the kill": for a moment after SIGKILL of the postmaster its
# orphaned backends and walsender still run, and commits on them can still be acknowledged, replicated.)
prev, gap, end = None, 0, None
for t, _ in acks:
    if prev is not None and t > kill and t - prev > gap:
        gap, end = t - prev, t
    prev = t
late = sum(1 for t, _ in acks if kill < t <= (end or 0) - gap)
acked = {i for _, i in acks}
found = ids(f"{d}/found.txt")
doubt = ids(f"{d}/doubt.txt")
lost = len(acked - found)
print(f"scenario={scenario} strict={strict} old_primary={old} new_primary={new}")
print(f"failover_ms={end - kill} (kill -> first acknowledged write on the new primary; longest write pause "
      f"{gap} ms; wait-leader: new primary took {took} {wait.get('since_kill_ms')} ms after the kill; "
      f"{late} writes acknowledged by the dying primary after the kill)")
print(f"acknowledged={len(acked)} found={len(acked & found)} lost={lost} "
      f"(unacknowledged attempts: {len(doubt)}, of which present: {len(doubt & found)})")
per_node = " ".join(f"{os.path.basename(p)[6:-4]}:{len(acked & ids(p))}" for p in sorted(glob.glob(f"{d}/found-*.txt")))
print(f"acknowledged rows per node (port:count): {per_node}")
sys.exit(1 if lost else 0)
PY
