#!/usr/bin/env bash
# `make ha`: installs what is missing (deps.sh; Patroni + etcd through cluster.py install), builds the release
# binaries, then runs scripts/ha/scenario.py (Patroni failover, a region replica killed, a rolling restart, all under
# an IdP-like write load through the gateway; see its header). Extra arguments go to scenario.py, e.g.
#   scripts/ha/ha.sh --short            the version `make test` runs
#   scripts/ha/ha.sh --keep             keep /tmp/scim-ha-* (logs, data) after a successful run
#   SCIM_BIN_DIR=.build/debug scripts/ha/ha.sh   use binaries already built (no build step)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/swift-env.sh
source scripts/swift-env.sh
[[ $(id -u) -eq 0 ]] || { echo "ha: run as root (the PostgreSQL servers are started as the postgres user)" >&2; exit 2; }
scripts/deps.sh
python3 scripts/ha/cluster.py install
if [[ -z ${SCIM_BIN_DIR:-} ]]; then
    echo "== building (release)"
    for product in scim-gateway scim-region scimctl; do swift build -c release --product "$product"; done
    SCIM_BIN_DIR=$(swift build -c release --show-bin-path)
fi
# exec: the scenario gets Ctrl-C and SIGTERM itself and stops what it started.
exec python3 scripts/ha/scenario.py --bin "$SCIM_BIN_DIR" "$@"
