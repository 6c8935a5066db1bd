#!/usr/bin/env bash
# `make test`: installs what is missing, starts a throwaway PostgreSQL cluster under .pg/test, builds, runs
# every test (unit and integration, against that real PostgreSQL), and stops the cluster again. A full run (no
# arguments) also fuzzes briefly, checks the module structure and docker/, and runs the short HA scenario
# (Patroni + etcd, installed if missing; skipped with a message only when they cannot be installed).
# Extra arguments go to `swift test` (e.g. scripts/test.sh --filter HTTPCoreTests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/swift-env.sh
source scripts/swift-env.sh

scripts/deps.sh
PG_DIR=.pg/test
started_here=0
if ! scripts/pg.sh status "$PG_DIR" >/dev/null 2>&1; then
    scripts/pg.sh start "$PG_DIR" >/dev/null
    started_here=1
fi
stop_cluster() {
    if [[ $started_here -eq 1 ]]; then scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1 || true; fi
}
trap stop_cluster EXIT
# shellcheck disable=SC1091
source "$PG_DIR/env"

# schemathesis (PyPI) checks the admin API against its OpenAPI description; it lives in a venv outside the repo.
ST_VENV=${XDG_CACHE_HOME:-$HOME/.cache}/scim-schemathesis/venv
if [[ ! -x $ST_VENV/bin/st ]]; then
    echo "== installing schemathesis into $ST_VENV"
    python3 -m venv "$ST_VENV" && timeout 600 "$ST_VENV/bin/pip" install -q schemathesis==4.32.5 \
        || echo "warning: schemathesis could not be installed; the OpenAPI conformance test will fail"
fi
[[ -x $ST_VENV/bin/st ]] && export SCIM_SCHEMATHESIS=$ST_VENV/bin/st
# Unmodified OAuth client libraries for the token endpoint's interoperability test (same venv).
if [[ -x $ST_VENV/bin/python ]] && ! "$ST_VENV/bin/python" -c 'import requests_oauthlib, authlib' 2>/dev/null; then
    echo "== installing requests-oauthlib and authlib into $ST_VENV"
    timeout 600 "$ST_VENV/bin/pip" install -q requests-oauthlib==2.0.0 authlib==1.3.2 \
        || echo "warning: requests-oauthlib/authlib could not be installed; the OAuth client test will fail"
fi
if [[ -x $ST_VENV/bin/python ]] && ! "$ST_VENV/bin/python" -c 'import selenium' 2>/dev/null; then
    echo "== installing selenium into $ST_VENV"
    timeout 600 "$ST_VENV/bin/pip" install -q selenium==4.27.1 || echo "warning: selenium could not be installed; the browser test will fail"
fi
[[ -x $ST_VENV/bin/python ]] && export SCIM_TEST_PYTHON=$ST_VENV/bin/python
# The browser test drives Debian's chromium through chromedriver.
if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
    echo "== installing chromium and chromium-driver (browser tests)"
    if [[ $(id -u) -eq 0 ]]; then SUDO=(); else SUDO=(sudo -n); fi
    { "${SUDO[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null; } \
        || echo "warning: chromium could not be installed; the browser test will fail"
fi

echo "== building (debug, with tests)"
swift build --build-tests
SCIM_BIN_DIR=$(swift build --show-bin-path)
export SCIM_BIN_DIR
echo "== running tests (PostgreSQL on 127.0.0.1:$SCIM_PG_PORT)"
swift test --skip-build "$@"
if [[ $# -eq 0 ]]; then
    # Every libFuzzer target briefly (its seed corpus and past crashes replay first); `make fuzz` runs longer.
    echo "== fuzzing each target for ${SCIM_CI_FUZZ_SECONDS:-12} s"
    scripts/fuzz.sh "${SCIM_CI_FUZZ_SECONDS:-12}"
    echo "== checking the module structure (Package.swift, docs/ARCHITECTURE.md)"
    python3 scripts/check-architecture.py
    echo "== checking docker/ (no Docker engine needed)"
    if python3 -c 'import yaml' 2>/dev/null; then
        python3 scripts/check-docker.py
    elif [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
        /usr/bin/python3 scripts/check-docker.py
    else
        echo "check-docker: skipped: PyYAML not installed (apt-get install python3-yaml)"
    fi
    # Issue 20's guarantees on a real Patroni pair, briefly (about a minute): kill -9 of the us primary and of one
    # us replica under write load through the gateway. `make ha` runs the long scenario on release binaries.
    echo "== PostgreSQL HA, short (Patroni + etcd; scripts/ha/scenario.py --short)"
    if [[ $(id -u) -ne 0 ]]; then
        echo "ha: SKIPPED: needs root to install Patroni/etcd and to start PostgreSQL as the postgres user"
    elif ! timeout 900 python3 scripts/ha/cluster.py install; then
        echo "ha: SKIPPED: Patroni/etcd could not be installed (apt-get: patroni etcd-server); see above"
    else
        python3 scripts/ha/scenario.py --short --bin "$SCIM_BIN_DIR"
    fi
fi
