#!/usr/bin/env bash
# The reference layout of docs/deployment.md on one machine, under the soak (figures, not a test):
#   two web nodes     gunicorn on two ports (config/gunicorn.conf.py, one worker with threads each)
#   worker A          celery worker -Q celery,telemetry,notifications
#   worker B          celery worker -Q checks,exports
#   beat              exactly one
#   PgBouncer         transaction pooling (scripts/pgbouncer.sh) in front of a fresh database on the
#                     primary; every process above, and the soak itself, connects through it with
#                     DATABASE_POOLER=pgbouncer
#   Redis             the broker, on a database number of its own
# It migrates and seeds the database (the demo portfolio), starts everything, runs bench/soak.py against
# both web ports (round robin), stops everything it started (also on failure or Ctrl-C) and prints the
# soak's figures: requests and latencies, 5xx, deadlocks, sweep outcomes.
#
#   bash scripts/cluster-soak.sh            # or: bash scripts/bench.sh cluster
# Environment: CLUSTER_PG (postgres://postgres@127.0.0.1:5432), CLUSTER_DB (agentreg_bench_cluster,
# dropped and created afresh), CLUSTER_BROKER (redis://127.0.0.1:6379/10), CLUSTER_WEB_THREADS (4),
# SOAK_SECONDS (240), SOAK_CLIENTS (50), SOAK_CHECKS_EVERY (60); CLUSTER_KEEP=1 keeps the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export PATH="$PWD/$VENV/bin:$PATH"

PG="${CLUSTER_PG:-postgres://postgres@127.0.0.1:5432}"
DB="${CLUSTER_DB:-agentreg_bench_cluster}"
BROKER="${CLUSTER_BROKER:-redis://127.0.0.1:6379/10}"
THREADS="${CLUSTER_WEB_THREADS:-4}"
RUN="$(mktemp -d /tmp/agentreg-cluster.XXXXXX)"
chmod 755 "$RUN"

say() { echo "== cluster: $*"; }

free_port() {
  python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

PIDS=()
export PGBOUNCER_DIR="$RUN/pgbouncer" PGBOUNCER_PORT="${CLUSTER_PGBOUNCER_PORT:-$(free_port)}"
PGBOUNCER_UPSTREAM_HOST="$(python -c "from urllib.parse import urlparse; print(urlparse('$PG').hostname or '127.0.0.1')")"
PGBOUNCER_UPSTREAM_PORT="$(python -c "from urllib.parse import urlparse; print(urlparse('$PG').port or 5432)")"
export PGBOUNCER_UPSTREAM_HOST PGBOUNCER_UPSTREAM_PORT

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  say "stopping what it started"
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  bash scripts/pgbouncer.sh stop || true
  if [ "${CLUSTER_KEEP:-}" = 1 ] || [ "$status" -ne 0 ]; then say "logs kept in $RUN"; else rm -rf "$RUN"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- The database, fresh, and the pooler in front of it ----------------------------------------------
say "fresh database $DB on $PG"
psql "$PG/postgres" -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" -c "CREATE DATABASE \"$DB\""
bash scripts/pgbouncer.sh start
POOLED="postgres://postgres@127.0.0.1:$PGBOUNCER_PORT/$DB"

# Every process: production settings, through the pooler, the soak's knobs.
export DJANGO_SETTINGS_MODULE=config.settings
export DATABASE_URL="$POOLED" DATABASE_POOLER=pgbouncer DB_CONN_MAX_AGE=60
export CELERY_BROKER_URL="$BROKER"
export SECRET_KEY="cluster-soak-secret-key-not-for-production-0123456789abcdefghijkl"
export DEBUG=false ALLOWED_HOSTS=127.0.0.1,localhost SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false
export CSRF_COOKIE_SECURE=false SECURE_HSTS_SECONDS=0 EMAIL_BACKEND=locmem LOG_LEVEL=INFO
export CHECKS_INTERVAL_SECONDS="${SOAK_CHECKS_EVERY:-60}" SOAK_SECONDS="${SOAK_SECONDS:-240}"
export VAR_DIR="$RUN/var" PYTHONUNBUFFERED=1
redis-cli -u "$BROKER" FLUSHDB >/dev/null

say "migrate, collect static files, load the demo portfolio (through the pooler)"
started=$SECONDS
python manage.py migrate --verbosity 0
python manage.py collectstatic --noinput --verbosity 0
python manage.py load_demo --verbosity 0
say "seeded in $((SECONDS - started)) s"

# --- The processes -----------------------------------------------------------------------------------
start() {  # name command...
  local name="$1"; shift
  "$@" >"$RUN/$name.log" 2>&1 &
  PIDS+=("$!")
  say "$name: pid $! ($*)"
}
WEB_PORTS=("$(free_port)" "$(free_port)")
for i in 0 1; do
  start "web-$((i + 1))" gunicorn -c config/gunicorn.conf.py config.wsgi --workers 1 --threads "$THREADS" \
    --worker-class gthread --bind "127.0.0.1:${WEB_PORTS[$i]}" --no-control-socket
done
start worker-a celery -A config worker -n "a@%h" -Q celery,telemetry,notifications --concurrency 1 -l INFO
start worker-b celery -A config worker -n "b@%h" -Q checks,exports --concurrency 1 -l INFO
start beat celery -A config beat --schedule "$RUN/celerybeat-schedule" -l INFO

for port in "${WEB_PORTS[@]}"; do
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { say "web node on $port did not come up"; exit 1; }
done
for name in worker-a worker-b; do
  for _ in $(seq 1 120); do grep -q "ready." "$RUN/$name.log" && break; sleep 0.5; done
  grep -q "ready." "$RUN/$name.log" || { say "$name did not come up"; tail -n 30 "$RUN/$name.log"; exit 1; }
done
say "all up; soak for ${SOAK_SECONDS}s against both web nodes"

# --- The soak ----------------------------------------------------------------------------------------
SOAK_BASE_URLS="http://127.0.0.1:${WEB_PORTS[0]},http://127.0.0.1:${WEB_PORTS[1]}" SOAK_LOG_DIR="$RUN" \
  SOAK_BROKER="$BROKER" python bench/soak.py

say "the pooler after the run:"
psql "postgres://postgres@127.0.0.1:$PGBOUNCER_PORT/pgbouncer" -c "SHOW POOLS" | grep -E "database|$DB" || true
