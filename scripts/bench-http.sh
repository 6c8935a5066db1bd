#!/usr/bin/env bash
# HTTP layer throughput: GET /healthz on scim-region vs nginx returning the same 53-byte JSON, both on loopback,
# measured alternately (ROUNDS rounds of SECONDS each) by wrk -t2 -c64. Prints each round and the median ratio.
# Only processes started here are stopped, by PID.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/swift-env.sh
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
WORKERS=${WORKERS:-8}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
if ((${#need[@]})); then
    echo "bench: installing ${need[*]}"
    if [[ $(id -u) -eq 0 ]]; then SUDO=(); else SUDO=(sudo -n); fi
    "${SUDO[@]}" apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

swift build -c release --product scim-region >/dev/null
BIN=$(swift build -c release --show-bin-path)
WORK=$(mktemp -d /tmp/scim-bench-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    [[ -f $WORK/nginx.pid ]] && kill -TERM "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    sleep 0.3
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX_PORT=$(free_port)
BODY='{"status":"ok","service":"scim-region","region":"us"}'
cat >"$WORK/nginx.conf" <<CONF
worker_processes auto;
error_log $WORK/error.log;
pid $WORK/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = /healthz { default_type application/json; return 200 '$BODY'; }
  }
}
CONF
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK"

"$BIN/scim-region" --region us --listen 127.0.0.1:0 --port-file "$WORK/region.port" --workers "$WORKERS" \
    --log-level warning 2>"$WORK/region.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $WORK/region.port ]] && break; sleep 0.1; done
REGION_PORT=$(cat "$WORK/region.port")
[[ $(curl -s "http://127.0.0.1:$REGION_PORT/healthz") == "$BODY" ]] || { echo "bench: region body differs" >&2; exit 1; }
[[ $(curl -s "http://127.0.0.1:$NGINX_PORT/healthz") == "$BODY" ]] || { echo "bench: nginx body differs" >&2; exit 1; }

rps() { wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "$1" | awk '/Requests\/sec/ {print $2} / 99%/ {print $2 > "/dev/stderr"}'; }
echo "HTTP /healthz, wrk -t2 -c$CONNECTIONS -d${SECONDS_PER_RUN}s, $ROUNDS rounds, scim-region --workers $WORKERS, nginx worker_processes auto"
printf '%-6s %14s %10s %14s %10s %8s\n' round nginx_rps p99 ours_rps p99 ratio
ratios=()
for r in $(seq "$ROUNDS"); do
    n=$(rps "http://127.0.0.1:$NGINX_PORT/healthz" 2>"$WORK/n99"); n99=$(cat "$WORK/n99")
    o=$(rps "http://127.0.0.1:$REGION_PORT/healthz" 2>"$WORK/o99"); o99=$(cat "$WORK/o99")
    ratio=$(python3 -c "print(f'{$o/$n:.2f}')")
    ratios+=("$ratio")
    printf '%-6s %14s %10s %14s %10s %8s\n' "$r" "$n" "$n99" "$o" "$o99" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median ratio scim-region/nginx: $median (goal >= 0.5)"
