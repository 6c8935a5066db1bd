#!/bin/sh
# Runs once, when the official postgres image initialises an empty data directory.
# The services connect as `scim`: a NON-superuser role, so row-level security applies to them.
set -eu
password=$(cat /run/secrets/postgres-password)
case $password in *"'"*) echo "postgres-password must not contain a single quote" >&2; exit 1 ;; esac
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE scim LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE PASSWORD '$password';
ALTER DATABASE "$POSTGRES_DB" OWNER TO scim;
ALTER SCHEMA public OWNER TO scim;
-- Moving a tenant between regions copies rows with triggers off, as logical replication does (docs/residency.md).
GRANT SET ON PARAMETER session_replication_role TO scim;
SQL
