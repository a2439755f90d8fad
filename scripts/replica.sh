#!/usr/bin/env bash
# A real local streaming replica of the PostgreSQL 15 cluster on 127.0.0.1:5432, for trying the read
# replica routing (config/db_router.py) and its lag gauge. Debian's cluster tools, run as root:
#   bash scripts/replica.sh up      # cluster "replica" on port 5433, streaming from 5432
#   bash scripts/replica.sh check   # measured: /metrics caught up, replay paused, resumed, replica stopped, back
#   bash scripts/replica.sh down    # stop and drop the replica, take back the pg_hba.conf line
# It never restarts the primary: when the primary's settings would need a restart (wal_level, max_wal_senders)
# it says so and stops. It adds one pg_hba.conf line (replication from 127.0.0.1, trust) and reloads.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${PG_VERSION:-15}"
NAME="${REPLICA_CLUSTER:-replica}"
PORT="${REPLICA_PORT:-5433}"
PRIMARY="postgres://postgres@127.0.0.1:5432"
CHECK_DB="agentreg_replica_check"
MARK="# agent-registry scripts/replica.sh"
HBA="$(psql "$PRIMARY/postgres" -Atc 'SHOW hba_file')"
DATA="/var/lib/postgresql/$VERSION/$NAME"
as_postgres() { runuser -u postgres -- "$@"; }

up() {
  local wal senders
  wal="$(psql "$PRIMARY/postgres" -Atc 'SHOW wal_level')"
  senders="$(psql "$PRIMARY/postgres" -Atc 'SHOW max_wal_senders')"
  if [ "$wal" = minimal ] || [ "$senders" -lt 1 ]; then
    echo "The primary has wal_level=$wal, max_wal_senders=$senders: streaming needs a restart of it. Not done." >&2
    exit 1
  fi
  if ! grep -q "$MARK" "$HBA"; then
    echo "host replication all 127.0.0.1/32 trust $MARK" >>"$HBA"
    psql "$PRIMARY/postgres" -qAtc 'SELECT pg_reload_conf()' >/dev/null
  fi
  if pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$VERSION $NAME"; then
    echo "cluster $VERSION/$NAME exists already"
  else
    pg_createcluster "$VERSION" "$NAME" --port "$PORT" >/dev/null
    # The replica answers clients as the primary does.
    cp "$HBA" "/etc/postgresql/$VERSION/$NAME/pg_hba.conf"
    rm -rf "${DATA:?}"/*
    local started=$SECONDS
    as_postgres pg_basebackup -h 127.0.0.1 -p 5432 -U postgres -D "$DATA" -R -X stream --checkpoint=fast
    echo "base backup: $((SECONDS - started)) s, $(du -sh "$DATA" | cut -f1)"
  fi
  pg_ctlcluster "$VERSION" "$NAME" start || true
  for _ in $(seq 30); do
    [ "$(psql "postgres://postgres@127.0.0.1:$PORT/postgres" -Atc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ] && break
    sleep 1
  done
  echo "replica on 127.0.0.1:$PORT, in recovery: $(psql "postgres://postgres@127.0.0.1:$PORT/postgres" -Atc 'SELECT pg_is_in_recovery()')"
  echo "DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:$PORT/<the DATABASE_URL database>"
}

scrape() {  # label: the replica gauges of /metrics, as a web process of the app serves them
  DATABASE_URL="$PRIMARY/$CHECK_DB" DATABASE_REPLICA_URL="postgres://postgres@127.0.0.1:$PORT/$CHECK_DB" \
    SECRET_KEY=replica-check-only SECURE_SSL_REDIRECT=false ALLOWED_HOSTS=testserver LOG_LEVEL=ERROR \
    DJANGO_SETTINGS_MODULE=config.settings .venv/bin/python - "$1" <<'EOF'
import sys
import django

django.setup()
from django.test import Client  # noqa: E402

from config import db_router  # noqa: E402

db_router.reset_lag_cache()
text = Client().get("/metrics").content.decode()
gauges = [line for line in text.splitlines() if line.startswith("registry_replica_") and "routed" not in line]
usable, reason = db_router.replica_usable()
print(f"{sys.argv[1]:<28} {' | '.join(gauges)} | routed reads: {'replica' if usable else 'primary'} ({reason})")
EOF
}

check() {
  local replica="postgres://postgres@127.0.0.1:$PORT/$CHECK_DB"
  psql "$PRIMARY/postgres" -qtc "SELECT 1 FROM pg_database WHERE datname = '$CHECK_DB'" | grep -q 1 \
    || psql "$PRIMARY/postgres" -qc "CREATE DATABASE $CHECK_DB"
  psql "$PRIMARY/$CHECK_DB" -qc "CREATE TABLE IF NOT EXISTS replica_check (at timestamptz DEFAULT now())"
  for _ in $(seq 30); do psql "$replica" -Atc 'SELECT 1 FROM replica_check LIMIT 0' >/dev/null 2>&1 && break; sleep 1; done
  psql "$PRIMARY/$CHECK_DB" -qc "INSERT INTO replica_check DEFAULT VALUES"
  sleep 1
  scrape "streaming, caught up:"
  psql "$replica" -qAtc 'SELECT pg_wal_replay_pause()' >/dev/null
  for _ in $(seq 12); do psql "$PRIMARY/$CHECK_DB" -qc "INSERT INTO replica_check DEFAULT VALUES"; sleep 1; done
  scrape "replay paused 12 s:"
  psql "$replica" -qAtc 'SELECT pg_wal_replay_resume()' >/dev/null
  sleep 1
  scrape "replay resumed, 1 s later:"
  pg_ctlcluster "$VERSION" "$NAME" stop
  scrape "replica stopped:"
  pg_ctlcluster "$VERSION" "$NAME" start
  sleep 2
  scrape "replica started again:"
  psql "$PRIMARY/postgres" -qc "DROP DATABASE $CHECK_DB"
}

down() {
  if pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$VERSION $NAME"; then
    pg_dropcluster --stop "$VERSION" "$NAME"
  fi
  if grep -q "$MARK" "$HBA"; then
    sed -i "\|$MARK|d" "$HBA"
    psql "$PRIMARY/postgres" -qAtc 'SELECT pg_reload_conf()' >/dev/null
  fi
  echo "replica $VERSION/$NAME dropped"
}

case "${1:-}" in
  up) up ;;
  check) check ;;
  down) down ;;
  *) echo "usage: $0 up|check|down" >&2; exit 2 ;;
esac
