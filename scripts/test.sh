#!/usr/bin/env bash
# The whole test suite: lint, migrations in step with the models, then pytest.
# Runs on PostgreSQL: DATABASE_URL, else a local server on 127.0.0.1:5432; SQLite when there is none.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export PATH="$PWD/$VENV/bin:$PATH"
export DJANGO_SETTINGS_MODULE=config.test_settings

echo "== ruff"
ruff check .
ruff format --check . >/dev/null || { ruff format --check .; exit 1; }

echo "== migrations match the models"
python manage.py makemigrations --check --dry-run >/dev/null || {
  python manage.py makemigrations --check --dry-run; echo "Migrations are out of step with the models." >&2; exit 1; }

# The suite is meant for PostgreSQL: without DATABASE_URL, use the local server when one answers
# (pytest-django creates and drops its own test databases there), else the embedded SQLite, where the
# tests that need PostgreSQL's triggers, locks or a server to take away are skipped.
if [ -z "${DATABASE_URL:-}" ] && python -c 'import socket; socket.create_connection(("127.0.0.1", 5432), timeout=1).close()' 2>/dev/null; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/agentreg"
fi
echo "== pytest (database: ${DATABASE_URL:-embedded SQLite})"
mkdir -p test-artifacts
if [ "$#" -gt 0 ]; then
  # Arguments given: run exactly what was asked, in one process.
  set +e
  python -m pytest -p no:xdist "$@"
  status=$?
  set -e
  if [ "$status" -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi
  exit "$status"
fi

# The whole suite in two phases: the bulk spread over the machine's cores
# (pytest-xdist gives each worker its own test database), then the tests that
# start real workers, brokers and browsers, one at a time so they never
# compete for the same Redis queue or port. A third phase runs the integration
# and fault tests once more through PgBouncer in transaction pooling mode when
# PGBOUNCER_URL names one (postgres://user@host:port, no database: .ci/run
# starts it with scripts/pgbouncer.sh); CI=true requires it.
WORKERS="${TEST_WORKERS:-$(python -c 'import os; print(min(4, max(1, len(os.sched_getaffinity(0)))))')}"
echo "-- phase 1: unit, API and page tests on $WORKERS workers"
set +e
python -m pytest -n "$WORKERS" --dist load -m "not integration and not browser" -q
first=$?
echo "-- phase 2: real Celery worker and browser tests"
python -m pytest -p no:xdist -m "integration or browser" -q
second=$?
third=0
if [ -n "${PGBOUNCER_URL:-}" ] && [[ "${DATABASE_URL:-}" == postgres* ]]; then
  name="${DATABASE_URL##*/}"
  name="${name%%\?*}"
  echo "-- phase 3: integration and fault tests through PgBouncer (${PGBOUNCER_URL%/}/$name, DATABASE_POOLER=pgbouncer)"
  started=$SECONDS
  DATABASE_URL="${PGBOUNCER_URL%/}/$name" DATABASE_POOLER=pgbouncer python -m pytest -p no:xdist -m integration -q
  third=$?
  echo "-- phase 3 took $((SECONDS - started)) s"
elif [ "${CI:-}" = "true" ]; then
  echo "-- phase 3: CI=true but there is no PgBouncer to run through (PGBOUNCER_URL unset, or no PostgreSQL DATABASE_URL)" >&2
  third=1
else
  echo "-- phase 3 skipped: no PgBouncer (start one with 'bash scripts/pgbouncer.sh start' and set PGBOUNCER_URL=\$(bash scripts/pgbouncer.sh url))"
fi
set -e
if [ "$first" -eq 5 ] || [ "$second" -eq 5 ] || [ "$third" -eq 5 ]; then echo "pytest collected no tests in a phase" >&2; exit 1; fi
if [ "$first" -ne 0 ] || [ "$second" -ne 0 ] || [ "$third" -ne 0 ]; then exit 1; fi
