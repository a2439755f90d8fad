#!/usr/bin/env bash
# A local PgBouncer in transaction pooling mode in front of a PostgreSQL server: the pooler the test
# suite's phase 3, the fault lab and scripts/cluster-soak.sh run the application through.
#   bash scripts/pgbouncer.sh start|stop|status|url
# It trusts every local client (auth_type=trust): a test and demo pooler on 127.0.0.1, never a
# production one (docs/deployment.md shows that configuration, with scram-sha-256).
#
# Environment (defaults in brackets):
#   PGBOUNCER_PORT [6432]            where it listens (on PGBOUNCER_LISTEN [127.0.0.1])
#   PGBOUNCER_UPSTREAM_HOST [127.0.0.1], PGBOUNCER_UPSTREAM_PORT [5432]   the PostgreSQL behind it
#   PGBOUNCER_DIR [var/pgbouncer]    its configuration, pid file, log and unix socket
#   PGBOUNCER_USERS [postgres]       the user names it lets in (comma separated); the first administers it
#   PGBOUNCER_POOL_SIZE [20]         server connections per database and user
#   PGBOUNCER_MAX_CLIENT_CONN [2000] client connections in all
#
# Every database name is passed through (a wildcard entry), so pytest-django's test databases and the
# run's own database need no entry of their own. The pooler keeps idle server connections to a
# database, which would block DROP DATABASE: tests/pooler.py closes them through the admin console
# (KILL, then RESUME) before the test database is dropped, and server_idle_timeout lets them go
# after a minute anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PGBOUNCER_PORT:-6432}"
LISTEN="${PGBOUNCER_LISTEN:-127.0.0.1}"
UPSTREAM_HOST="${PGBOUNCER_UPSTREAM_HOST:-127.0.0.1}"
UPSTREAM_PORT="${PGBOUNCER_UPSTREAM_PORT:-5432}"
DIR="${PGBOUNCER_DIR:-$PWD/var/pgbouncer}"
USERS="${PGBOUNCER_USERS:-postgres}"
POOL_SIZE="${PGBOUNCER_POOL_SIZE:-20}"
MAX_CLIENT_CONN="${PGBOUNCER_MAX_CLIENT_CONN:-2000}"
ADMIN="${USERS%%,*}"
INI="$DIR/pgbouncer.ini"
PIDFILE="$DIR/pgbouncer.pid"
LOG="$DIR/pgbouncer.log"

say() { echo "== pgbouncer: $*"; }

find_binary() {
  command -v pgbouncer 2>/dev/null || { [ -x /usr/sbin/pgbouncer ] && echo /usr/sbin/pgbouncer; } || true
}

running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

answers() {
  (exec 3<>"/dev/tcp/$LISTEN/$PORT") 2>/dev/null
}

# PgBouncer refuses to run as root: as root it runs as the postgres user, as the fault lab's
# PostgreSQL does, and its directory belongs to that user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

write_config() {
  mkdir -p "$DIR"
  : >"$DIR/userlist.txt"
  local user
  IFS=',' read -ra user_list <<<"$USERS"
  for user in "${user_list[@]}"; do
    printf '"%s" ""\n' "$user" >>"$DIR/userlist.txt"
  done
  cat >"$INI" <<EOF
; Written by scripts/pgbouncer.sh; edit the script (or its environment), not this file.
[databases]
* = host=$UPSTREAM_HOST port=$UPSTREAM_PORT

[pgbouncer]
listen_addr = $LISTEN
listen_port = $PORT
unix_socket_dir = $DIR
pidfile = $PIDFILE
logfile = $LOG
auth_type = trust
auth_file = $DIR/userlist.txt
admin_users = $ADMIN
stats_users = $ADMIN
pool_mode = transaction
default_pool_size = $POOL_SIZE
min_pool_size = 0
reserve_pool_size = 5
max_client_conn = $MAX_CLIENT_CONN
max_db_connections = 0
server_idle_timeout = 60
server_lifetime = 3600
server_connect_timeout = 5
server_login_retry = 1
query_wait_timeout = 60
; A transaction left open by a dead client would pin its server connection.
idle_transaction_timeout = 300
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
EOF
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$DIR"; fi
}

configured_port() {
  sed -n 's/^listen_port = //p' "$INI" 2>/dev/null
}

start() {
  if running; then
    if [ "$(configured_port)" != "$PORT" ]; then
      echo "the PgBouncer of $DIR already runs on port $(configured_port), not $PORT: stop it, or give this one a PGBOUNCER_DIR of its own" >&2
      exit 1
    fi
    say "already running (pid $(cat "$PIDFILE")) on $LISTEN:$PORT"
    return 0
  fi
  local binary
  binary="$(find_binary)"
  if [ -z "$binary" ]; then
    echo "pgbouncer is not installed (Debian: apt-get install -y pgbouncer)" >&2
    exit 3
  fi
  write_config
  rm -f "$PIDFILE"
  if ! as_owner test -r "$INI"; then
    echo "the postgres user cannot read $INI (as root the pooler runs as postgres): set PGBOUNCER_DIR to a directory it can reach, e.g. under /tmp" >&2
    exit 1
  fi
  as_owner "$binary" -d "$INI"
  for _ in $(seq 1 50); do
    if answers; then
      say "started (pid $(cat "$PIDFILE" 2>/dev/null || echo '?')) on $LISTEN:$PORT, transaction pooling in front of $UPSTREAM_HOST:$UPSTREAM_PORT"
      return 0
    fi
    sleep 0.1
  done
  echo "pgbouncer did not start; its log ($LOG):" >&2
  tail -n 20 "$LOG" >&2 2>/dev/null || true
  exit 1
}

stop() {
  if ! running; then
    say "not running"
    rm -f "$PIDFILE"
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  # PgBouncer 1.18 (Debian 12) shuts down at once on SIGTERM and after its transactions on SIGINT;
  # later releases swapped the two. Either way, one of them ends it within a few seconds.
  local signal
  for signal in TERM INT KILL; do
    kill -"$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || { say "stopped (pid $pid, SIG$signal)"; rm -f "$PIDFILE"; return 0; }
      sleep 0.1
    done
  done
  say "pid $pid did not stop"
  return 1
}

status() {
  local port
  port="$(configured_port)"
  PORT="${port:-$PORT}"
  if running && answers; then
    say "running (pid $(cat "$PIDFILE")) on $LISTEN:$PORT in front of $UPSTREAM_HOST:$UPSTREAM_PORT"
  else
    say "not running"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "postgres://$ADMIN@$LISTEN:$PORT" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
