#!/usr/bin/env bash
# Refreshes the vendored protos under third_party/proto: the Google API
# protos from the npm package google-proto-files, and the OpenAPI options of
# protoc-gen-openapiv2 from the grpc-gateway Go module at the version go.mod
# pins (so the annotations match the generator that reads them). The Buf Schema Registry is not reachable
# from our build machines, so the few imports we need are kept in the repo
# (with their license) and this script is the one way they change.
#
# Usage: scripts/refresh-third-party.sh [google-proto-files version]
set -euo pipefail

version="${1:-5.0.3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/third_party/proto"

# Only the files impact.v1 imports (and their imports). Well-known types
# (google/protobuf/*) ship with buf and are not vendored.
files=(
  google/api/annotations.proto
  google/api/http.proto
  google/api/field_behavior.proto
  google/api/resource.proto
)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "google-proto-files@$version" >/dev/null)
tar -xzf "$tmp"/google-proto-files-*.tgz -C "$tmp"

rm -rf "$dest/google"
for f in "${files[@]}"; do
  mkdir -p "$dest/$(dirname "$f")"
  cp "$tmp/package/$f" "$dest/$f"
done
cp "$tmp/package/LICENSE" "$dest/google/LICENSE"
printf 'google-proto-files@%s (npm)\n' "$version" >"$dest/google/SOURCE"

gw="$(cd "$root" && go list -m -f '{{.Dir}} {{.Version}}' github.com/grpc-ecosystem/grpc-gateway/v2)"
gwdir="${gw% *}"
gwver="${gw#* }"
rm -rf "$dest/protoc-gen-openapiv2"
mkdir -p "$dest/protoc-gen-openapiv2/options"
for f in annotations.proto openapiv2.proto; do
  cp "$gwdir/protoc-gen-openapiv2/options/$f" "$dest/protoc-gen-openapiv2/options/$f"
done
cp "$gwdir/LICENSE" "$dest/protoc-gen-openapiv2/LICENSE"
printf 'github.com/grpc-ecosystem/grpc-gateway/v2@%s (Go module)\n' "$gwver" >"$dest/protoc-gen-openapiv2/SOURCE"
chmod -R u+w "$dest"
echo "refreshed third_party/proto from google-proto-files@$version and grpc-gateway $gwver"
