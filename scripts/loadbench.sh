#!/usr/bin/env bash
# Load benchmark of impactd (not a test; run by hand on a quiet machine).
#
# One server, pinned to CPU 0; load generators pinned to CPU 1. Two
# comparisons, each interleaved A-B-B-A so drift (thermal, noisy
# neighbours) hits both sides alike:
#   (a) gRPC Estimate of examples/typical.json vs grpc.health.v1.Health/Check
#       (the cost of the estimate over the bare cost of a gRPC call);
#   (b) the JSON gateway's Estimate vs gRPC Estimate (the cost of JSON and
#       the extra hop).
# Prints RPS and server CPU per request (utime+stime deltas of
# /proc/<pid>/stat) for each side, and the ratios.
#
# Usage: scripts/loadbench.sh [seconds per run, default 10] [concurrency, default 16]
set -euo pipefail

secs="${1:-10}"
conc="${2:-16}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
grpc_addr=127.0.0.1:19391
http_addr=127.0.0.1:18391
body="$root/examples/typical.json"

server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if (($(nproc) < 2)); then
  echo "loadbench: needs 2 CPUs (server on 0, clients on 1)" >&2
  exit 1
fi

# Tools. ghz@latest resolves to a 2021 release, so the version is pinned.
export GOBIN="$root/bench-out/bin"
mkdir -p "$GOBIN"
if [[ ! -x "$GOBIN/ghz" ]]; then
  echo "installing ghz v0.120.0" >&2
  go install github.com/bojand/ghz/cmd/ghz@v0.120.0
fi
ghz="$GOBIN/ghz"
if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get install -y wrk >/dev/null 2>&1 || { $sudo apt-get update >/dev/null && $sudo apt-get install -y wrk >/dev/null; }
fi

(cd "$root" && go build -o "$work/impactd" ./cmd/impactd)
# Access logs are part of the server's real per-call cost; they go nowhere.
taskset -c 0 "$work/impactd" --grpc-addr "$grpc_addr" --http-addr "$http_addr" 2>/dev/null &
server_pid=$!
for _ in $(seq 50); do
  curl -fsS "http://$http_addr/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://$http_addr/healthz" >/dev/null

clk_tck="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.body = f:read("*a")
f:close()
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKRESULT %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.status, e.connect, e.read, e.write, e.timeout))
end
LUA

# Each run prints "<requests> <seconds> <cpu seconds>" and fails on any error.
run_grpc() { # method, data file or -
  local method="$1" data="$2" out="$work/ghz.json" before after
  local args=(--insecure --call "$method" -c "$conc" -z "${secs}s" -O json -o "$out")
  if [[ "$data" == - ]]; then args+=(-d '{}'); else args+=(-D "$data"); fi
  before="$(cpu_ticks)"
  taskset -c 1 "$ghz" "${args[@]}" "$grpc_addr" >/dev/null
  after="$(cpu_ticks)"
  python3 - "$out" "$before" "$after" "$clk_tck" "$conc" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
codes = r.get("statusCodeDistribution", {})
# ghz closes its connection when the duration ends, failing the calls in
# flight at that instant (at most one per worker); those are not server
# errors. Anything else is.
errs = r.get("errorDistribution") or {}
cutoff = sum(n for m, n in errs.items() if "closed network connection" in m or "context canceled" in m)
bad = {k: v for k, v in codes.items() if k != "OK"}
if sum(bad.values()) != cutoff or cutoff > int(sys.argv[5]):
    sys.exit(f"ghz: errors {bad} {errs}")
ok = codes.get("OK", 0)
print(ok, r["total"] / 1e9, (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4]))
PY
}

run_http() {
  local before after line
  before="$(cpu_ticks)"
  line="$(BODY_FILE="$body" taskset -c 1 wrk -t1 -c"$conc" -d"${secs}s" --timeout 10s -s "$work/post.lua" \
    "http://$http_addr/v1/scenarios:estimate" | grep '^WRKRESULT')"
  after="$(cpu_ticks)"
  read -r _ reqs dur_us status connect rd wr timeout <<<"$line"
  if ((status + connect + rd + wr + timeout > 0)); then
    echo "wrk: errors: non-2xx $status, connect $connect, read $rd, write $wr, timeout $timeout" >&2
    exit 1
  fi
  python3 -c "import sys; print($reqs, $dur_us / 1e6, ($after - $before) / $clk_tck)"
}

# Sanity: the benchmark body is a valid scenario on both paths.
curl -fsS -X POST --data-binary @"$body" "http://$http_addr/v1/scenarios:estimate" >/dev/null

declare -A reqs secs_total cpu
measure() { # label, command...; adds "requests seconds cpu" of one run
  local label="$1" out r s c
  shift
  out="$("$@")"
  read -r r s c <<<"$out"
  reqs[$label]=$(python3 -c "print(${reqs[$label]:-0} + $r)")
  secs_total[$label]=$(python3 -c "print(${secs_total[$label]:-0} + $s)")
  cpu[$label]=$(python3 -c "print(${cpu[$label]:-0} + $c)")
  printf '  %-16s %8d req in %6.2fs, server CPU %6.2fs\n' "$label" "$r" "$s" "$c" >&2
}

echo "warm-up" >&2
run_grpc impact.v1.EstimatorService.Estimate "$body" >/dev/null
run_http >/dev/null

echo "(a) gRPC Estimate vs Health/Check, A-B-B-A, ${secs}s each, concurrency $conc" >&2
measure grpc_estimate run_grpc impact.v1.EstimatorService.Estimate "$body"
measure grpc_health run_grpc grpc.health.v1.Health.Check -
measure grpc_health run_grpc grpc.health.v1.Health.Check -
measure grpc_estimate run_grpc impact.v1.EstimatorService.Estimate "$body"

echo "(b) HTTP JSON Estimate vs gRPC Estimate, A-B-B-A" >&2
measure http_estimate run_http
measure grpc_estimate_b run_grpc impact.v1.EstimatorService.Estimate "$body"
measure grpc_estimate_b run_grpc impact.v1.EstimatorService.Estimate "$body"
measure http_estimate run_http

python3 - "${reqs[grpc_estimate]}" "${secs_total[grpc_estimate]}" "${cpu[grpc_estimate]}" \
  "${reqs[grpc_health]}" "${secs_total[grpc_health]}" "${cpu[grpc_health]}" \
  "${reqs[http_estimate]}" "${secs_total[http_estimate]}" "${cpu[http_estimate]}" \
  "${reqs[grpc_estimate_b]}" "${secs_total[grpc_estimate_b]}" "${cpu[grpc_estimate_b]}" <<'PY'
import sys
v = list(map(float, sys.argv[1:]))
def side(i):
    r, s, c = v[i:i+3]
    return r / s, c / r * 1e6
ge, gh, he, gb = side(0), side(3), side(6), side(9)
print(f"{'':22} {'RPS':>10} {'CPU us/req':>11}")
for name, (rps, cpu) in [("gRPC Estimate (a)", ge), ("gRPC Health/Check", gh),
                         ("HTTP JSON Estimate", he), ("gRPC Estimate (b)", gb)]:
    print(f"{name:22} {rps:10.0f} {cpu:11.1f}")
print(f"(a) Estimate / Health:   RPS ratio {ge[0]/gh[0]:.3f}, CPU/request ratio {ge[1]/gh[1]:.2f}")
print(f"(b) HTTP JSON / gRPC:    RPS ratio {he[0]/gb[0]:.3f}, CPU/request ratio {he[1]/gb[1]:.2f}")
PY
