#!/usr/bin/env bash
# The demo site on this machine: web (gunicorn), a Celery worker and Celery beat.
#
# Runs on an embedded SQLite file under var/ unless DATABASE_URL is set, with
# production settings (DEBUG off) except that it serves plain http on
# localhost. Safe to run again: the demo data loads once, the secret key is
# kept in var/secret_key so sessions survive restarts. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "No virtualenv at $VENV; run 'make demo' (it installs one first)." >&2
  exit 1
fi
export PATH="$ROOT/$VENV/bin:$PATH"
PORT="${PORT:-8000}"
VAR_DIR="${VAR_DIR:-$ROOT/var}"
LOG_DIR="$VAR_DIR/log"
mkdir -p "$LOG_DIR"

# --- Environment: production settings, plain http on localhost ---------------------
if [ ! -s "$VAR_DIR/secret_key" ]; then
  (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(64))' >"$VAR_DIR/secret_key")
  echo "Generated a secret key in $VAR_DIR/secret_key"
fi
export VAR_DIR
export DJANGO_SETTINGS_MODULE=config.settings
export SECRET_KEY_FILE="$VAR_DIR/secret_key"
unset SECRET_KEY
export DEBUG=false
export ALLOWED_HOSTS="localhost,127.0.0.1"
export CSRF_TRUSTED_ORIGINS="http://localhost:$PORT,http://127.0.0.1:$PORT"
export SITE_URL="http://localhost:$PORT"
export SECURE_SSL_REDIRECT=false
export SESSION_COOKIE_SECURE=false
export CSRF_COOKIE_SECURE=false
export SECURE_HSTS_SECONDS=0
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-filesystem://}"
export EMAIL_BACKEND="${EMAIL_BACKEND:-file}"
export LOG_FORMAT="${LOG_FORMAT:-plain}"
# Two web workers: /metrics adds up both through files here (emptied at each start).
export PROMETHEUS_MULTIPROC_DIR="$VAR_DIR/metrics"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
export PYTHONUNBUFFERED=1

if python - "$PORT" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
then
  echo "Port $PORT is already in use; stop what runs there or pick another: PORT=8001 make demo" >&2
  exit 1
fi

echo "== database: ${DATABASE_URL:-SQLite at $VAR_DIR/demo.sqlite3}"
echo "== migrate"
python manage.py migrate --no-input -v 1
echo "== collectstatic"
python manage.py collectstatic --no-input -v 0
echo "== load_demo"
python manage.py load_demo
echo "== run_checks (the first findings; beat repeats them every CHECKS_INTERVAL_SECONDS)"
python manage.py run_checks || true

# --- The three processes ------------------------------------------------------------
# Each child gets its own session (setsid), so Ctrl-C reaches only this script,
# which then stops them in order and waits for them.
PIDS=()
stop_all() {
  trap - INT TERM EXIT
  if [ "${#PIDS[@]}" -gt 0 ]; then
    echo
    echo "== stopping web, worker and beat"
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 40); do
      alive=0
      for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ "$alive" -eq 0 ] && break
      sleep 0.25
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "stopped."
  fi
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

setsid gunicorn -c config/gunicorn.conf.py config.wsgi --workers 2 --bind "127.0.0.1:$PORT" --no-control-socket \
  --access-logfile "$LOG_DIR/web-access.log" --error-logfile "$LOG_DIR/web.log" &
PIDS+=($!)
# The project's logging configuration writes to the console, so each process's
# output goes to its own file under var/log/.
# One worker serves every queue (docs/operations.md has a worker per queue for larger installs).
setsid celery -A config worker -Q celery,telemetry,checks,notifications,exports --concurrency 2 --loglevel INFO \
  >>"$LOG_DIR/worker.log" 2>&1 &
PIDS+=($!)
# Live heartbeats through the HTTP ingest endpoint, as a gateway would send them.
setsid python manage.py send_demo_telemetry --url "http://127.0.0.1:$PORT" --interval 60 \
  >"$LOG_DIR/telemetry-sender.log" 2>&1 &
PIDS+=($!)
setsid celery -A config beat --schedule "$VAR_DIR/celerybeat-schedule" --loglevel INFO \
  >>"$LOG_DIR/beat.log" 2>&1 &
PIDS+=($!)

# Wait until the site answers before printing its address.
for _ in $(seq 1 120); do
  if python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/accounts/login/', timeout=2)" 2>/dev/null; then
    break
  fi
  kill -0 "${PIDS[0]}" 2>/dev/null || { echo "The web server did not start; see $LOG_DIR/web.log" >&2; exit 1; }
  sleep 0.5
done

echo
echo "The demo is running at http://localhost:$PORT/"
echo
echo "Sign in as:"
python manage.py shell -v 0 -c "
from registry.demo import demo_logins
for role, username, password in demo_logins():
    print(f'  {role:<28} {username:<16} {password}')
print('  Any other demo person: their username with password demo-person-pass')
" 2>>"$LOG_DIR/demo.log" || echo "  (could not list them; see $LOG_DIR/demo.log)"
echo
echo "Logs: $LOG_DIR/web.log, worker.log, beat.log · mail: $VAR_DIR/mail/ · Ctrl-C stops everything."

# Stay in the foreground; if one process dies, stop the others too.
set +e
wait -n "${PIDS[@]}"
status=$?
echo "A demo process exited (status $status); see $LOG_DIR/." >&2
exit "$status"
