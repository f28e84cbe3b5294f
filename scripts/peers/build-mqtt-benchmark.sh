#!/usr/bin/env bash
# Builds the Go peer of scripts/bench-peers.sh, mqtt-benchmark, from source checkouts, without the network: Debian's
# Go (apt-get install golang-go golang-golang-x-net-dev golang-golang-x-sync-dev golang-github-gorilla-websocket-dev)
# and three source trees given as arguments (git clones of krylovsk/mqtt-benchmark, GaryBoone/GoStats and
# eclipse/paho.mqtt.golang at the tag to use; v1.3.5 was used for README's table). Puts the binary in
# .build-go/bin; run the benchmark with PATH="$PWD/.build-go/bin:$PATH" scripts/bench-peers.sh 3.
# Usage: scripts/peers/build-mqtt-benchmark.sh MQTT_BENCHMARK_DIR GOSTATS_DIR PAHO_DIR
set -euo pipefail
[ $# -eq 3 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
cd "$(dirname "$0")/../.."
command -v go >/dev/null || { echo "go not installed (apt-get install golang-go)" >&2; exit 1; }
root="$PWD/.build-go"
rm -rf "$root/src"
for pair in "krylovsk/mqtt-benchmark:$1" "GaryBoone/GoStats:$2" "eclipse/paho.mqtt.golang:$3"; do
  name="${pair%%:*}"; dir="${pair#*:}"
  [ -d "$dir" ] || { echo "$dir: not a directory (a source checkout of $name)" >&2; exit 1; }
  mkdir -p "$root/src/github.com/$name"
  cp -R "$dir/." "$root/src/github.com/$name/"
done
# GOPATH mode: the Debian packages hold golang.org/x/net, x/sync and gorilla/websocket.
cd "$root/src/github.com/krylovsk/mqtt-benchmark"
GOPATH="$root:/usr/share/gocode" GO111MODULE=off go build -o "$root/bin/mqtt-benchmark" .
echo "$root/bin/mqtt-benchmark"
