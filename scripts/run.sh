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

for region in us eu2; do
    case $region in us) preferred=8081 ;; eu2) preferred=8082 ;; esac
    start "region-$region" "$BIN/scim-region" --region "$region" \
        --listen "127.0.0.1:$(port_or_zero $preferred)" --port-file "$RUN_DIR/region-$region.port"
    declare "PORT_${region}=$(wait_port "region-$region")"
done
start gateway "$BIN/scim-gateway" --listen "127.0.0.1:$(port_or_zero 8080)" --port-file "$RUN_DIR/gateway.port"
GATEWAY_PORT=$(wait_port gateway)

cat <<INFO

== running (Ctrl-C stops everything)
  PostgreSQL   127.0.0.1:$SCIM_PG_PORT  (databases scim_control, scim_us, scim_eu2)
  region us    http://127.0.0.1:$PORT_us
  region eu2   http://127.0.0.1:$PORT_eu2
  gateway      http://127.0.0.1:$GATEWAY_PORT
  logs         $RUN_DIR/*.log

Try:
  curl -s http://127.0.0.1:$GATEWAY_PORT/healthz
  curl -s http://127.0.0.1:$PORT_us/healthz
  curl -s http://127.0.0.1:$PORT_eu2/healthz
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
