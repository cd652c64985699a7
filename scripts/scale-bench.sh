#!/usr/bin/env bash
# Scale benchmark (not a test: run by hand on a quiet machine; README
# "Scale").
#
# On a fresh database: writes CSV files of N customers (one contract each),
# one incident affecting all of them ("inc-big") and a background of
# smaller incidents, loads them with `impactctl import` (customers,
# contracts, incidents, windows), then measures, each with its wall time and
# the peak RSS of the process doing the work: a raw insert of the same
# customer and contract rows into tables of the same shape (the baseline:
# PostgreSQL COPY, SQLite prepared inserts), POST :estimate of the big
# incident on impactd, the first and the last page of ListCustomerEstimates,
# `impactctl export estimates`, and `impactctl recompute`. Prints one
# Markdown table; the import rows show their ratio to the raw insert.
#
# Usage: scripts/scale-bench.sh [N, default 100000] [sqlite|postgres, default sqlite] [--import-only]
# PostgreSQL: IMPACT_BENCH_POSTGRES_DSN (default
# postgres://root@127.0.0.1:5432/test?sslmode=disable) names the server; a
# database is created for the run and dropped after.
set -euo pipefail

n="${1:-100000}"
engine="${2:-sqlite}"
extra="${3:-}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
admin="${IMPACT_BENCH_POSTGRES_DSN:-postgres://root@127.0.0.1:5432/test?sslmode=disable}"
pgdb="impact_scale_$$"

cleanup() {
  if [[ "$engine" == postgres ]]; then psql -q "$admin" -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cd "$root"
go build -o "$work/impactctl" ./cmd/impactctl
go build -o "$work/impactd" ./cmd/impactd
go build -o "$work/scalebench" ./scripts/scalebench

case "$engine" in
sqlite) dsn="sqlite:$work/scale.db" ;;
postgres)
  psql -q "$admin" -c "CREATE DATABASE $pgdb" >/dev/null
  server="${admin%%\?*}"
  dsn="${server%/*}/$pgdb?sslmode=disable"
  ;;
*) echo "engine: want sqlite or postgres" >&2; exit 2 ;;
esac
"$work/scalebench" --db "$dsn" --customers "$n" --impactctl "$work/impactctl" --impactd "$work/impactd" --work "$work" ${extra:+$extra}
