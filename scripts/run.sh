#!/usr/bin/env bash
# `make run`: build, start the embedded PostgreSQL cluster (.pg/dev), both regions and the gateway on loopback,
# print how to call them, and stop everything on Ctrl-C (or when any process dies).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/swift-env.sh
source scripts/swift-env.sh
CONFIG=${1:-release}
RUN_DIR=.run
PG_DIR=.pg/dev

scripts/deps.sh
echo "== building ($CONFIG); the first build takes a few minutes"
swift build -c "$CONFIG" --product scim-gateway
swift build -c "$CONFIG" --product scim-region
swift build -c "$CONFIG" --product scimctl
BIN=$(swift build -c "$CONFIG" --show-bin-path)

echo "== starting PostgreSQL ($PG_DIR)"
scripts/pg.sh start "$PG_DIR" >/dev/null
# shellcheck disable=SC1091
source "$PG_DIR/env"
for db in scim_control scim_us scim_eu2; do scripts/pg.sh createdb "$PG_DIR" "$db" >/dev/null; done

mkdir -p "$RUN_DIR"
rm -f "$RUN_DIR"/*.port
pids=()
names=()

stop_all() {
    trap - INT TERM EXIT
    echo
    echo "== stopping"
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[$i]}" 2>/dev/null || true
    done
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        local waited=0
        while kill -0 "${pids[$i]}" 2>/dev/null && ((waited < 150)); do sleep 0.1; waited=$((waited + 1)); done
        if kill -0 "${pids[$i]}" 2>/dev/null; then kill -KILL "${pids[$i]}" 2>/dev/null || true; fi
        wait "${pids[$i]}" 2>/dev/null || true
    done
    scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1 || true
    echo "== stopped (logs in $RUN_DIR/)"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# A preferred port when free, otherwise an ephemeral one.
port_or_zero() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then echo 0; else echo "$1"; fi
}

start() {  # name, then the command
    local name=$1; shift
    # Own session: Ctrl-C reaches only this script, which then stops the processes in order (gateway first).
    setsid "$@" >"$RUN_DIR/$name.log" 2>&1 &
    pids+=($!)
    names+=("$name")
}

wait_port() {  # name → prints the port
    local name=$1 file="$RUN_DIR/$1.port" i
    for ((i = 0; i < 300; i++)); do
        if [[ -s $file ]]; then cat "$file"; return 0; fi
        if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
        sleep 0.1
    done
    echo "run.sh: $name did not start; last log lines:" >&2
    tail -n 20 "$RUN_DIR/$name.log" >&2
    exit 1
}

db_url() { echo "${SCIM_PG_APP_URL%/*}/$1"; }
KEYRING=$RUN_DIR/keyring
[[ -f $KEYRING ]] || "$BIN/scimctl" keyring init "$KEYRING" >/dev/null

for region in us eu2; do
    case $region in us) preferred=8081 ;; eu2) preferred=8082 ;; esac
    start "region-$region" "$BIN/scim-region" --region "$region" --regions-dir Regions \
        --listen "127.0.0.1:$(port_or_zero $preferred)" --port-file "$RUN_DIR/region-$region.port" \
        --database-url "$(db_url "scim_$region")" --keyring-file "$KEYRING"
    declare "PORT_${region}=$(wait_port "region-$region")"
done
start gateway "$BIN/scim-gateway" --listen "127.0.0.1:$(port_or_zero 8080)" --port-file "$RUN_DIR/gateway.port" \
    --admin-listen "127.0.0.1:$(port_or_zero 9090)" --admin-port-file "$RUN_DIR/admin.port" \
    --admin-token-file "$RUN_DIR/admin-token" --control-database-url "$(db_url scim_control)" \
    --keyring-file "$KEYRING" --regions-dir Regions \
    --region-backends "us=http://127.0.0.1:$PORT_us,eu2=http://127.0.0.1:$PORT_eu2" \
    --allow-any-host  # development: answer on 127.0.0.1; production keeps the default (region hosts only)
GATEWAY_PORT=$(wait_port gateway)
for ((i = 0; i < 100; i++)); do [[ -s $RUN_DIR/admin.port ]] && break; sleep 0.1; done
ADMIN_PORT=$(cat "$RUN_DIR/admin.port")
scimctl() { "$BIN/scimctl" --url "http://127.0.0.1:$ADMIN_PORT" --admin-token-file "$RUN_DIR/admin-token" "$@"; }

# One demo tenant per region. On every start each gets exactly one fresh token (the previous one is revoked).
demo_token() {  # tenant name, region → prints the token
    local out
    if scimctl tenant show "$1" >/dev/null 2>&1; then
        out=$(scimctl --json integration update-token "$1")
    else
        out=$(scimctl --json tenant create "$1" --region "$2")
    fi
    echo "$out" | grep -o '"token":"scim_[A-Za-z0-9_]*"' | head -n1 | cut -d'"' -f4
}
TOKEN_US=$(demo_token demo-us us)
TOKEN_EU2=$(demo_token demo-eu2 eu2)
[[ -n $TOKEN_US && -n $TOKEN_EU2 ]] || { echo "run.sh: could not create the demo tenants (see $RUN_DIR/gateway.log)" >&2; exit 1; }
# A setup link for demo-us's IT admin, on this machine's gateway address (the API's URL names the public host).
# The previous run's link is revoked first (a tenant holds at most 10 live links).
for old in $(scimctl --json setup-link list demo-us | python3 -c 'import json,sys
for l in json.load(sys.stdin)["setupLinks"]:
    if l.get("label") == "make run" and l["status"] == "live": print(l["id"])' 2>/dev/null); do
    scimctl setup-link revoke demo-us "$old" >/dev/null || true
done
SETUP_PATH=$(scimctl --json setup-link create demo-us --label "make run" --expires-in 1d | grep -o '"path":"[^"]*"' | cut -d'"' -f4)

cat <<INFO

== running (Ctrl-C stops everything)
  gateway      http://127.0.0.1:$GATEWAY_PORT/scim/v2    (what IdPs call)
  admin API    http://127.0.0.1:$ADMIN_PORT/admin/v1     (scimctl; admin credential in $RUN_DIR/admin-token)
  console      http://127.0.0.1:$ADMIN_PORT/console      (sign in with the admin credential: cat $RUN_DIR/admin-token)
  region us    http://127.0.0.1:$PORT_us     region eu2  http://127.0.0.1:$PORT_eu2   (signed requests only)
  PostgreSQL   127.0.0.1:$SCIM_PG_PORT  (databases scim_control, scim_us, scim_eu2)
  logs         $RUN_DIR/*.log (JSON lines)

Demo tenant demo-us (home region us):
  curl -s http://127.0.0.1:$GATEWAY_PORT/scim/v2/Users -H 'Authorization: Bearer $TOKEN_US'
Demo tenant demo-eu2 (home region eu2):
  curl -s http://127.0.0.1:$GATEWAY_PORT/scim/v2/Users -H 'Authorization: Bearer $TOKEN_EU2'
Setup link for demo-us's IT admin (pick an IdP, get URL + token, watch requests arrive):
  http://127.0.0.1:$GATEWAY_PORT$SETUP_PATH
Create a user:
  curl -s http://127.0.0.1:$GATEWAY_PORT/scim/v2/Users -H 'Authorization: Bearer $TOKEN_US' \\
       -H 'Content-Type: application/scim+json' -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jane@example.com","active":true}'
Operate (from this directory):
  $BIN/scimctl tenant list
  $BIN/scimctl integration deactivate demo-us
INFO

# Stay in the foreground until Ctrl-C or until a process exits on its own.
while true; do
    for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            echo "run.sh: ${names[$i]} exited; last log lines:" >&2
            tail -n 20 "$RUN_DIR/${names[$i]}.log" >&2
            exit 1
        fi
    done
    sleep 1
done
