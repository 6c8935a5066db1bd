#!/usr/bin/env bash
# `make bench`: release build, a PostgreSQL cluster under .pg/bench (1M users loaded once and kept), both regions and
# the gateway on loopback, then every scenario measured with wrk and reported next to references measured in the
# same run (pgbench -S on the same PostgreSQL; the region called directly). See scripts/bench.py for the scenarios.
# Environment: BENCH_USERS (default 1000000), BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 16),
# BENCH_ONLY (comma-separated scenario names), BENCH_SKIP_HTTP=1 to skip the nginx comparison.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/swift-env.sh
source scripts/swift-env.sh
scripts/deps.sh >/dev/null
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
if ((${#need[@]})); then
    echo "bench: installing ${need[*]}"
    if [[ $(id -u) -eq 0 ]]; then SUDO=(); else SUDO=(sudo -n); fi
    "${SUDO[@]}" apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "== building (release)"
for product in scim-gateway scim-region scimctl; do swift build -c release --product "$product" >/dev/null; done
BIN=$(swift build -c release --show-bin-path)
scripts/pg.sh start .pg/bench >/dev/null
python3 scripts/bench.py --bin "$BIN" --pg-env .pg/bench/env "$@"
if [[ -z ${BENCH_SKIP_HTTP:-} && -z ${BENCH_ONLY:-} ]]; then
    echo
    echo "== HTTP layer alone: scim-region /healthz vs nginx"
    ROUNDS=${ROUNDS:-3} SECONDS_PER_RUN=${BENCH_SECONDS:-10} scripts/bench-http.sh
fi
