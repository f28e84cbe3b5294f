#!/usr/bin/env bash
# Runs every check and test: formatting (swift-format, SwiftNIO's style), the import-layering build that must be
# warning-free in our own code (Sources/, Tests/), every libFuzzer harness for 10 s (FLEETSTORM_FUZZ_SECONDS), the
# whole test suite, then every command the documentation and `--help` show (scripts/doc-commands.py, small fleets).
# Tests that need mosquitto or protoc find them on PATH (.ci/run installs them with apt).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/format.sh --lint
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift build --build-tests --explicit-target-dependency-import-check error 2>&1 | tee "$log"
# Our targets are warning-free and stay so (dependencies' warnings are theirs). A fresh clone compiles every file.
if grep -E "^$PWD/(Sources|Tests)/[^:]+:[0-9]+:[0-9]+: warning:" "$log" | sort -u; then
  echo "error: the build above has warnings in Sources/ or Tests/; fix them (the build must be warning-free)" >&2
  exit 1
fi
# Every fuzz harness for a bounded time from its committed corpus (a crash fails the run; Sources/FleetFuzz), two at a
# time (a core each): each still gets its 10 s.
FUZZ_JOBS=${FUZZ_JOBS:-2} scripts/fuzz.sh "${FLEETSTORM_FUZZ_SECONDS:-10}"
swift test
# The commands README.md, docs/ and each --help show, run as written (sizes capped; see the script's header).
python3 scripts/doc-commands.py
