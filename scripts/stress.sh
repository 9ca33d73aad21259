#!/usr/bin/env bash
# Abrupt departures, repeated against the release server: `tessera-bench stress` starts `tessera
# serve` and makes CYCLES departures (default 504: 63 of each of the 8 kinds, 4 at a time):
# sockets dropped, peers vanishing during ICE (also after an mDNS candidate), during DTLS and
# mid-stream, kicks, rooms closed while peers join, raw joins that vanish. Half happen in fresh
# rooms, half beside a steady room whose viewer must keep its frame rate. It fails if the server
# (or this process) crashes, stops answering, or keeps a room, pipeline, webrtcbin or ICE object.
#
#   scripts/stress.sh [CYCLES]
#   BUSY=1 scripts/stress.sh     (with a busy loop on one core beside it)
set -euo pipefail
cd "$(dirname "$0")/.."
CYCLES=${1:-504}
cargo build --release --locked -q -p tessera -p tessera-bench
busy=""
if [[ ${BUSY:-0} == 1 ]]; then
    (while :; do :; done) &
    busy=$!
    trap 'kill $busy' EXIT
fi
RUST_LOG=${RUST_LOG:-warn} ./target/release/tessera-bench stress --cycles "$CYCLES"
