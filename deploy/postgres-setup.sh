#!/usr/bin/env bash
# Create the GeoSCADA database and its least-privilege roles in the system's PostgreSQL 15, as
# root: TimescaleDB preloaded, database "geoscada", roles from deploy/postgres-setup.sql, each
# login role's password generated into /etc/geoscada/<role>.password (0600) unless it exists,
# and libpq password files for the services. Passwords go to psql on its standard input, never
# on a command line. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"

PG_MAJOR=${PG_MAJOR:-15}
CLUSTER=${PG_CLUSTER:-main}
CONF=/etc/postgresql/$PG_MAJOR/$CLUSTER/conf.d/geoscada.conf
SECRETS=/etc/geoscada
DB_HOST=${GEOSCADA_DB_HOST:-localhost:5432}

install -d -m 0755 "$(dirname "$CONF")"
if [ ! -f "$CONF" ]; then
  printf "shared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n" >"$CONF"
  systemctl restart "postgresql@$PG_MAJOR-$CLUSTER"
fi

psql_root() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_root -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'geoscada'" | grep -q 1 \
  || psql_root -d postgres -c "CREATE DATABASE geoscada"
psql_root -d geoscada -v db=geoscada -f postgres-setup.sql
psql_root -d geoscada -c "ALTER DATABASE geoscada OWNER TO geoscada_ingest"

install -d -m 0750 "$SECRETS"
umask 077
for role in geoscada_ingest geoscada_query geoscada_report; do
  file=$SECRETS/$role.password
  [ -s "$file" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$file"
  # printf is a shell builtin: the password reaches psql through a pipe, on no command line
  printf "ALTER ROLE %s PASSWORD '%s';\n" "$role" "$(cat "$file")" | psql_root -d geoscada
done
# libpq password files the systemd units hand over as credentials
host=${DB_HOST%:*} port=${DB_HOST##*:}
printf '%s:%s:geoscada:geoscada_ingest:%s\n' "$host" "$port" \
  "$(cat "$SECRETS/geoscada_ingest.password")" >"$SECRETS/historian.pgpass"
printf '%s:%s:geoscada:geoscada_query:%s\n' "$host" "$port" \
  "$(cat "$SECRETS/geoscada_query.password")" >"$SECRETS/controller.pgpass"
echo "postgres-setup: database geoscada with roles geoscada_ingest, geoscada_query," \
     "geoscada_report; passwords in $SECRETS (0600)"
