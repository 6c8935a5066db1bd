#!/bin/sh
# Run by Patroni once per cluster, on the node that ran initdb; $1 is a superuser connection string.
# Same role as docker/postgres-init/10-app-role.sh: the services connect as `scim`, a NON-superuser role, so
# row-level security applies to them. SCIM_DATABASE (compose.ha.yaml) names the region's database.
set -eu
password=$(cat /run/secrets/postgres-password)
case $password in *"'"*) echo "postgres-password must not contain a single quote" >&2; exit 1 ;; esac
# Statements one by one (CREATE DATABASE cannot run inside a transaction block); the password stays off argv.
psql -v ON_ERROR_STOP=1 -d "$1" <<SQL
CREATE ROLE scim LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE PASSWORD '$password';
CREATE DATABASE "$SCIM_DATABASE" OWNER scim;
\connect "$SCIM_DATABASE"
ALTER SCHEMA public OWNER TO scim;
-- Moving a tenant between regions copies rows with triggers off, as logical replication does (docs/residency.md).
GRANT SET ON PARAMETER session_replication_role TO scim;
SQL
