#!/usr/bin/env bash
# Benchmarks: figures, not tests. Each script fills a scratch PostgreSQL database
# of its own (created if missing, kept for re-runs). Usage:
#   make bench                      # all of them
#   bash scripts/bench.sh portfolio # one: audit | telemetry | portfolio | soak | cluster | registration | runtime | continuity | history | drift | eu_ai_act
# cluster is the soak against the deployment layout on one machine (scripts/cluster-soak.sh: two web
# nodes, a worker per queue set, beat, PgBouncer); it makes its own fresh database.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export PATH="$PWD/$VENV/bin:$PATH"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
which="${1:-all}"

ensure_db() {  # name
  psql "$PG/postgres" -qtc "SELECT 1 FROM pg_database WHERE datname = '$1'" | grep -q 1 \
    || psql "$PG/postgres" -qc "CREATE DATABASE \"$1\""
}

run() {  # name script args...
  local name="$1" script="$2"; shift 2
  [ -f "$script" ] || { echo "== $name: $script is missing, skipped"; return 0; }
  ensure_db "agentreg_bench_$name"
  echo "== $name ($script)"
  DATABASE_URL="$PG/agentreg_bench_$name" python "$script" "$@"
}

case "$which" in
  audit|all) run audit bench/audit_concurrency.py 4 1000 ;;&
  telemetry|all) run telemetry bench/telemetry_bench.py ;;&
  portfolio|all) run portfolio bench/portfolio_bench.py ;;&
  soak|all) run soak bench/soak.py ;;&
  cluster|all) echo "== cluster (scripts/cluster-soak.sh)"; CLUSTER_PG="$PG" bash scripts/cluster-soak.sh ;;&
  registration|all) run registration bench/registration_bench.py ;;&
  runtime|all) run runtime bench/runtime_bench.py ;;&
  continuity|all) run continuity bench/continuity_bench.py ;;&
  history|all) run history bench/history_bench.py ;;&
  drift|all) run drift bench/drift_bench.py ;;&
  eu_ai_act|all) run eu_ai_act bench/eu_ai_act_bench.py ;;&
  audit|telemetry|portfolio|soak|cluster|registration|runtime|continuity|history|drift|eu_ai_act|all) ;;
  *) echo "unknown benchmark: $which (audit, telemetry, portfolio, soak, cluster, registration, runtime, continuity, history, drift, eu_ai_act or all)" >&2; exit 2 ;;
esac
