#!/usr/bin/env bash
# Soak test of impactd (not a unit test; runnable on a fresh machine with Go).
#
# Builds impactd and starts it on loopback ports with a temporary SQLite
# database (or, with --postgres DSN, on that PostgreSQL database; ids carry a
# per-run prefix so runs do not collide), seeds it through the HTTP gateway
# (the customers, contracts, incident and windows of examples/seed-outage.json,
# plus targets for the writes), then runs the load driver scripts/soak for
# DURATION seconds: WORKERS goroutines, a weighted random mix of
#   - stateless Estimate of examples/typical.json over gRPC and over HTTP,
#   - reads: GET customer, contract, stored estimate, SLA statement; List
#     customers and windows,
#   - writes: create customers (unique ids), windows:batchCreate, PATCH of a
#     customer with the etag just read (409 on a concurrent write is expected),
#   - :estimate of the stored incident.
# Every response must have a status its operation expects. impactd's RSS
# (VmRSS of /proc/<pid>/status) is sampled every few seconds; the baseline
# is taken after a 30 s warm-up. The run fails on any unexpected response or
# when the RSS at the end exceeds the baseline by more than 10 %.
#
# Usage: scripts/soak.sh [--postgres DSN] [DURATION seconds, default 300] [WORKERS, default 32]
set -euo pipefail

dsn=""
if [[ "${1:-}" == --postgres ]]; then
  dsn="${2:?--postgres needs a DSN}"
  shift 2
fi
duration="${1:-300}"
workers="${2:-32}"
warmup=30
interval=3
max_growth=10
if ((duration <= warmup + interval)); then
  echo "soak: DURATION must exceed the ${warmup}s warm-up" >&2
  exit 2
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
grpc_addr=127.0.0.1:19491
http_addr=127.0.0.1:18491
run="soak$(date +%s)"

server_pid=""
sampler_pid=""
cleanup() {
  if [[ -n "$sampler_pid" ]]; then kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; fi
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "soak: building" >&2
(cd "$root" && go build -o "$work/impactd" ./cmd/impactd && go build -o "$work/soak" ./scripts/soak)

db="sqlite:$work/soak.db"
[[ -n "$dsn" ]] && db="$dsn"
# Access logs are part of the server's real per-call work; keep the errors.
"$work/impactd" --grpc-addr "$grpc_addr" --http-addr "$http_addr" --db "$db" \
  --log-level warn 2>"$work/impactd.log" &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS "http://$http_addr/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if ! curl -fsS "http://$http_addr/healthz" >/dev/null 2>&1; then
  echo "soak: impactd did not start:" >&2
  cat "$work/impactd.log" >&2
  exit 1
fi

drive() { (cd "$root" && "$work/soak" -http "$http_addr" -grpc "$grpc_addr" -run "$run" -workers "$workers" "$@"); }
drive -mode seed

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
# "<seconds since load start> <RSS kB>" every $interval seconds.
start=$(date +%s)
(
  while kill -0 "$server_pid" 2>/dev/null; do
    echo "$(($(date +%s) - start)) $(rss_kb)"
    sleep "$interval"
  done
) >"$work/rss" &
sampler_pid=$!

echo "soak: ${duration}s of load, $workers workers, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before" >&2
status=0
drive -mode load -duration "${duration}s" | tee "$work/load.out" || status=$?
end_rss="$(rss_kb)"
echo "$(($(date +%s) - start)) $end_rss" >>"$work/rss"
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=""
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# WARN and ERROR lines other than the expected etag conflicts (ABORTED).
if grep -v '"grpc.code":"Aborted"' "$work/impactd.log" | grep -q .; then
  echo "impactd log, other than etag conflicts (first 10 lines):"
  grep -v '"grpc.code":"Aborted"' "$work/impactd.log" | head -10
fi

# Baseline: the first sample at or after the warm-up; max over the samples
# from then on; end: the sample right after the load stopped.
read -r base max end samples < <(awk -v w="$warmup" '
  $1 >= w { if (base == "") base = $2; if ($2 > max) max = $2; last = $2; n++ }
  END { print base, max, last, n }' "$work/rss")
if [[ -z "$base" ]]; then
  echo "soak: no RSS sample after the warm-up" >&2
  exit 1
fi
growth="$(awk -v b="$base" -v e="$end" 'BEGIN { printf "%.1f", (e - b) * 100 / b }')"
max_pct="$(awk -v b="$base" -v m="$max" 'BEGIN { printf "%.1f", (m - b) * 100 / b }')"
printf 'RSS (MiB): after %ds warm-up %.1f, max %.1f (+%s %%), end %.1f; growth %s %% (limit %d %%), %d samples every %ds\n' \
  "$warmup" "$(awk -v k="$base" 'BEGIN{print k/1024}')" "$(awk -v k="$max" 'BEGIN{print k/1024}')" "$max_pct" \
  "$(awk -v k="$end" 'BEGIN{print k/1024}')" "$growth" "$max_growth" "$samples" "$interval"

fail=0
if ((status != 0)); then
  echo "FAIL: unexpected responses (see above)"
  fail=1
fi
if awk -v g="$growth" -v l="$max_growth" 'BEGIN { exit !(g > l) }'; then
  echo "FAIL: RSS grew ${growth} % > ${max_growth} %"
  fail=1
fi
((fail == 0)) && echo "PASS"
exit "$fail"
