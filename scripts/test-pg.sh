#!/usr/bin/env bash
# Starts the test cluster in .pg/test (creating it on first use), loads its environment and runs
# the PostgreSQL tests. Extra arguments go to `swift test` (e.g. --filter PoolTests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH=/opt/swift/usr/bin:$PATH
fi
scripts/deps.sh
scripts/pg.sh start .pg/test >/dev/null
# shellcheck disable=SC1091
source .pg/test/env
if [[ $# -eq 0 ]]; then set -- --filter PostgresTests; fi
exec swift test "$@"
