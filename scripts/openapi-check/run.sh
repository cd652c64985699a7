#!/usr/bin/env bash
# Third-party checks of the OpenAPI document (server/openapi), run by
# .ci/run: Redocly's recommended rules (redocly.yaml), conversion to
# OpenAPI 3 by swagger2openapi (validated), and a client generated with
# openapi-typescript + openapi-fetch calling a real impactd (client.ts).
# Versions are pinned in package-lock.json; node_modules and gen/ are not
# in git.
set -euo pipefail
cd "$(dirname "$0")"
root=../..

npm ci --no-audit --no-fund --ignore-scripts --prefer-offline --loglevel=error
mkdir -p gen

echo "--> redocly lint (recommended rules)"
npx --no-install redocly lint --config redocly.yaml "$root/server/openapi/impact.swagger.json"

echo "--> swagger2openapi (OpenAPI 2 -> 3, validated)"
npx --no-install swagger2openapi --fatal "$root/server/openapi/impact.swagger.json" -o gen/openapi3.json
npx --no-install oas-validate gen/openapi3.json
npx --no-install redocly lint --config redocly.yaml gen/openapi3.json

echo "--> openapi-typescript, tsc"
npx --no-install openapi-typescript gen/openapi3.json -o gen/schema.d.ts
npx --no-install tsc -p tsconfig.json

echo "--> the generated client against a real impactd"
tmp=$(mktemp -d)
(cd "$root" && go build -o "$tmp/impactd" ./cmd/impactd)
"$tmp/impactd" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --db "sqlite:$tmp/impact.db" 2>"$tmp/log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
addr=""
for _ in $(seq 100); do
  addr=$(grep -o '"http_addr":"[^"]*"' "$tmp/log" | cut -d'"' -f4 || true)
  [[ -n "$addr" ]] && break
  sleep 0.1
done
[[ -n "$addr" ]] || { cat "$tmp/log" >&2; echo "impactd did not start" >&2; exit 1; }
node gen/js/client.js "http://$addr" "$root/examples/seed-outage.json"
