#!/usr/bin/env bash
# `make chaos`: the fault-injection suites (Tests/IntegrationTests/*FaultTests.swift) with longer load phases and more
# writers, for several rounds, printing each round's figures: a region killed with SIGKILL under writes,
# PostgreSQL restarted and crashed (immediate stop) under load, the gateway killed and restarted, a hung region (data
# plane), and a region's replica set (one replica killed, a rolling restart, a replica added and removed with SIGHUP).
# Loopback only; the tests start their own processes and a scratch PostgreSQL cluster (.pg/reliability) and stop only
# those.
# Usage: scripts/chaos.sh [rounds] [scale]   (defaults 3 and 3; the scale multiplies load phases and writer threads)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-3}
export SCIM_CHAOS_SCALE=${2:-3}
mkdir -p .build
status=0
for ((round = 1; round <= rounds; round++)); do
    echo "== chaos round $round/$rounds (scale $SCIM_CHAOS_SCALE)"
    log=.build/chaos-round-$round.log
    if scripts/test.sh --filter FaultTests >"$log" 2>&1; then result=passed; else result=FAILED; status=1; fi
    grep 'RELIABILITY' "$log" | sed 's/^RELIABILITY /  /' || true
    echo "  round $round: $result (log: $log)"
    [[ $result == passed ]] || grep -E '✘' "$log" | head -10
done
exit $status
