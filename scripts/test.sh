#!/usr/bin/env bash
# Runs every check and test: formatting (swift-format, SwiftNIO's style), then the whole test suite.
# Tests that need mosquitto or protoc find them on PATH (.ci/run installs them with apt).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/format.sh --lint
swift build --explicit-target-dependency-import-check error
swift test
