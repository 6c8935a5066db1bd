#!/usr/bin/env bash
# `make bench`. Today: the HTTP layer alone (`/healthz` of scim-region vs nginx serving the same bytes, under
# wrk on loopback), reported as a ratio measured in the same run. The SCIM scenarios (GET by id, filter, POST,
# PATCH, cursor paging, 100k-member groups, through the gateway vs region-direct vs pgbench -S) arrive with
# issue 7.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/swift-env.sh
source scripts/swift-env.sh
exec scripts/bench-http.sh "$@"
