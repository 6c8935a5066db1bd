#!/bin/sh
# Starts Patroni for one node (docker/compose.ha.yaml). Shared settings: /etc/patroni/scim.yml. Per-node
# settings: PATRONI_* environment variables, which Patroni lays over the file (PATRONI_NAME, PATRONI_SCOPE,
# PATRONI_ETCD3_HOSTS, PATRONI_RESTAPI_CONNECT_ADDRESS, PATRONI_POSTGRESQL_CONNECT_ADDRESS).
# Passwords come from the postgres-password secret, not from the compose file; Patroni removes PATRONI_*
# variables from its environment, so PostgreSQL and the scripts it runs do not inherit them.
set -eu
password=$(cat /run/secrets/postgres-password)
export PATRONI_SUPERUSER_PASSWORD="$password"
export PATRONI_REPLICATION_PASSWORD="$password"
export PATRONI_REWIND_PASSWORD="$password"
exec /usr/bin/patroni /etc/patroni/scim.yml
