#!/usr/bin/env bash
# Installs the system packages the project needs, and only those that are missing.
# Idempotent and non-interactive (CI has no terminal). Never starts the Debian-packaged
# PostgreSQL cluster: our tests run their own throwaway cluster (scripts/pg.sh).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

die() { echo "deps.sh: $*" >&2; exit 1; }

# Server binaries: any installed major version under /usr/lib/postgresql/*/bin.
have_pg_server() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]] && return 0
    done
    return 1
}
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pc() { have_cmd pkg-config && pkg-config --exists "$1"; }

missing=()
have_pg_server || missing+=(postgresql postgresql-contrib)
have_cmd pkg-config || missing+=(pkg-config)
have_pc libpq || missing+=(libpq-dev)
have_pc openssl || missing+=(libssl-dev)
have_cmd curl || missing+=(curl)
# scripts/check-docker.py parses docker/compose.yaml.
if ! python3 -c 'import yaml' 2>/dev/null && ! /usr/bin/python3 -c 'import yaml' 2>/dev/null; then missing+=(python3-yaml); fi
# The TLS tests make a throwaway certificate with the openssl command.
have_cmd openssl || missing+=(openssl)
# pg.sh uses runuser to drop root privileges for initdb/pg_ctl (util-linux, normally present).
if [[ $(id -u) -eq 0 ]] && ! have_cmd runuser; then missing+=(util-linux); fi

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "deps.sh: all dependencies present (postgresql server, libpq-dev, libssl-dev, pkg-config, curl, openssl)"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif have_cmd sudo && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    die "missing ${missing[*]}; run as root or with passwordless sudo: apt-get install ${missing[*]}"
fi
have_cmd apt-get || die "missing ${missing[*]} and apt-get is not available; install them with your package manager"

# policy-rc.d exit 101 tells invoke-rc.d not to start services, so installing the
# postgresql package does not create+start the packaged cluster on port 5432.
policy=/usr/sbin/policy-rc.d
installed_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    installed_policy=1
fi
cleanup() { if [[ $installed_policy -eq 1 ]]; then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

# Debian's postgresql-common creates a "main" cluster on install unless told not to
# (--force-confold below keeps this file when the package ships its own).
if [[ " ${missing[*]} " == *" postgresql "* && ! -e /etc/postgresql-common/createcluster.conf ]]; then
    "${SUDO[@]}" mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | "${SUDO[@]}" tee /etc/postgresql-common/createcluster.conf >/dev/null
fi

log=$(mktemp)
if ! { "${SUDO[@]}" apt-get update -q && \
       "${SUDO[@]}" apt-get install -y -q --no-install-recommends \
           -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    die "apt-get install ${missing[*]} failed (see above)"
fi
rm -f "$log"

have_pg_server || die "postgresql installed but no server binaries under /usr/lib/postgresql/*/bin"
have_pc libpq || die "libpq-dev installed but pkg-config cannot find libpq"
echo "deps.sh: installed ${missing[*]}"
