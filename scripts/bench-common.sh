# Sourced by the bench-*.sh scripts: a release fleetstorm, a scratch folder, and a hub process that is ended (by its
# PID) whatever happens. Sets: bin, out, hub_pid; defines rss_kib PID.
swift build -c release --product fleetstorm >/dev/null
bin="$(swift build -c release --show-bin-path)/fleetstorm"
out="$(mktemp -d)"
hub_pid=""
cleanup() { [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
