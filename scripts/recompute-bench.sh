#!/usr/bin/env bash
# Recompute benchmark (issue 5; not a test: run by hand on a quiet machine).
#
# For each engine, on a fresh database: load N stored (incident, customer)
# estimates' worth of data, run `impactctl recompute` over everything twice
# (first every estimate is new and written, then nothing changes), and a raw
# insert of N rows into the same engine in the same run (SQLite prepared
# inserts in transactions, PostgreSQL COPY). Prints throughput, the ratio
# recompute/raw and the recompute's peak RSS. See scripts/recomputebench.
#
# Usage: scripts/recompute-bench.sh [N, default 1000000] [sqlite|postgres|both, default both]
# PostgreSQL: IMPACT_BENCH_POSTGRES_DSN (default postgres://root@127.0.0.1:5432/test?sslmode=disable)
# names the server; a database is created for the run and dropped after.
set -euo pipefail

n="${1:-1000000}"
engines="${2:-both}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
admin="${IMPACT_BENCH_POSTGRES_DSN:-postgres://root@127.0.0.1:5432/test?sslmode=disable}"
pgdb="impact_bench_$$"

cleanup() {
  if [[ "$engines" != sqlite ]]; then psql -q "$admin" -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cd "$root"
go build -o "$work/impactctl" ./cmd/impactctl
go build -o "$work/recomputebench" ./scripts/recomputebench

if [[ "$engines" != postgres ]]; then
  echo "== SQLite, $n estimates"
  "$work/recomputebench" --db "sqlite:$work/bench.db" --estimates "$n" --impactctl "$work/impactctl"
fi
if [[ "$engines" != sqlite ]]; then
  echo "== PostgreSQL, $n estimates"
  psql -q "$admin" -c "CREATE DATABASE $pgdb" >/dev/null
  server="${admin%%\?*}"
  server="${server%/*}"
  "$work/recomputebench" --db "$server/$pgdb?sslmode=disable" --estimates "$n" --impactctl "$work/impactctl"
fi
