#!/usr/bin/env bash
# Regenerates Sources/FleetReport/Generated/*.pb.swift from Sources/FleetReport/Proto with apt's protoc and the
# protoc-gen-swift of the pinned swift-protobuf (built from this package's dependency, no build plugin).
# Usage: scripts/generate-proto.sh [OUTPUT_DIR]   (default: the committed location)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-Sources/FleetReport/Generated}"
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
plugin="${PROTOC_GEN_SWIFT:-}"
if [ -z "$plugin" ]; then
  swift build --product protoc-gen-swift >/dev/null
  plugin="$(swift build --product protoc-gen-swift --show-bin-path)/protoc-gen-swift"
fi
mkdir -p "$out"
protoc --plugin=protoc-gen-swift="$plugin" --proto_path=Sources/FleetReport/Proto \
  --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores --swift_opt=UseAccessLevelOnImports=true \
  --swift_out="$out" fleetstorm/report/v1/report.proto
echo "generated into $out"
