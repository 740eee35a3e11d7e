#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests.
#
#   pg_cluster.sh start DIR PORT   initdb (once) and start; creates database dropgate_test
#   pg_cluster.sh stop DIR         stop it (the data stays for the next start)
#
# Both are idempotent. The server listens on 127.0.0.1:PORT only, keeps its
# unix socket inside DIR, keeps fsync on (the store's durability is what is
# under test) and trusts every local connection: for test use only.
# Tests run as root; PostgreSQL refuses to, so the server runs as `postgres`.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DB_NAME=dropgate_test

usage() {
  echo "usage: $0 start DIR PORT | stop DIR" >&2
  exit 2
}

# Runs a command as the postgres OS user when we are root, as ourselves otherwise.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

is_running() {
  [[ -f "$DATA/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

init_cluster() {
  mkdir -p "$DIR"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$DIR"; fi
  as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || {
    cat "$DIR/initdb.log" >&2
    exit 1
  }
}

start() {
  [[ -f "$DATA/PG_VERSION" ]] || init_cluster
  if ! is_running; then
    # -w waits for startup; pg_isready below confirms it answers on TCP.
    as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 start -o \
      "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories='$DIR' \
       -c fsync=on -c synchronous_commit=on -c max_connections=200 -c log_min_messages=warning" \
      >/dev/null || {
      echo "postgres did not start; its log:" >&2
      tail -n 30 "$DIR/server.log" >&2
      exit 1
    }
  fi
  for _ in $(seq 1 100); do
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then break; fi
    sleep 0.1
  done
  "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PORT" >/dev/null || {
    echo "postgres is not answering on 127.0.0.1:$PORT" >&2
    exit 1
  }
  local exists
  exists=$("$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")
  if [[ "$exists" != "1" ]]; then
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB_NAME"
  fi
  echo "postgres ready: postgresql://postgres@127.0.0.1:$PORT/$DB_NAME"
}

stop() {
  if is_running; then
    as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  fi
  echo "postgres stopped ($DIR)"
}

[[ $# -ge 2 ]] || usage
COMMAND=$1
DIR=$(realpath -m "$2")
DATA="$DIR/data"
case "$COMMAND" in
  start)
    [[ $# -eq 3 && "$3" =~ ^[0-9]+$ ]] || usage
    PORT=$3
    start
    ;;
  stop)
    [[ $# -eq 2 ]] || usage
    stop
    ;;
  *) usage ;;
esac
