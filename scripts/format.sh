#!/usr/bin/env bash
# Formats (default) or lints (--lint) the Swift sources with swift-format and SwiftNIO's configuration (.swift-format).
# Generated protobuf code is left as protoc-gen-swift wrote it.
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(Package.swift Tests Benchmarks/Package.swift Benchmarks/Benchmarks)
while IFS= read -r f; do paths+=("$f"); done < <(find Sources -name '*.swift' -not -path '*/Generated/*' | sort)
if [ "${1:-}" = "--lint" ]; then
  swift format lint --strict --parallel -r "${paths[@]}"
else
  swift format -i --parallel -r "${paths[@]}"
fi
