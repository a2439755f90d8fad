#!/usr/bin/env bash
# The whole test suite: lint, migrations in step with the models, then pytest.
# Runs on PostgreSQL when DATABASE_URL points at one (CI), SQLite otherwise.
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

echo "== pytest (database: ${DATABASE_URL:-embedded SQLite})"
mkdir -p test-artifacts
set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi
exit "$status"
