#!/usr/bin/env bash
# PostgreSQL from Debian's packages: a dedicated cluster "tingjian" on its own
# port, with role and database. Idempotent.
#   scripts/postgres.sh start|stop|status
set -euo pipefail
PORT="${TINGJIAN_PG_PORT:-15432}"
CLUSTER=tingjian
USER_NAME="${TINGJIAN_PG_USER:-tingjian}"
PASSWORD="${TINGJIAN_PG_PASSWORD:-tingjian}"
DB="${TINGJIAN_PG_DB:-tingjian}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install() {
  command -v pg_createcluster >/dev/null && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && return 0
  echo "postgres: installing from Debian packages ..."
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
}

version() { ls /usr/lib/postgresql | sort -V | tail -n1; }
exists() { pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$(version) $CLUSTER"; }
online() { pg_lsclusters -h 2>/dev/null | awk -v c="$CLUSTER" '$2==c{print $4}' | grep -q online; }
psql_admin() { as_root runuser -u postgres -- psql -X -q -p "$PORT" -v ON_ERROR_STOP=1 "$@"; }

start() {
  install
  if ! exists; then
    as_root pg_createcluster -p "$PORT" "$(version)" "$CLUSTER" >/dev/null
  fi
  if ! online; then
    as_root pg_ctlcluster "$(version)" "$CLUSTER" start
  fi
  for _ in $(seq 1 60); do
    psql_admin -tAc "SELECT 1" >/dev/null 2>&1 && break; sleep 0.5
  done
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname='$USER_NAME'")" != 1 ]; then
    psql_admin -c "CREATE ROLE $USER_NAME LOGIN CREATEDB PASSWORD '$PASSWORD'"
  fi
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'")" != 1 ]; then
    psql_admin -c "CREATE DATABASE $DB OWNER $USER_NAME"
  fi
  echo "postgres: running $(version) cluster '$CLUSTER' on 127.0.0.1:$PORT (db $DB, role $USER_NAME)"
}

stop() {
  if exists && online; then as_root pg_ctlcluster "$(version)" "$CLUSTER" stop; fi
  echo "postgres: stopped"
}

status() {
  if exists && online; then echo "postgres: running on 127.0.0.1:$PORT"; else echo "postgres: not running"; return 1; fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 64 ;;
esac
