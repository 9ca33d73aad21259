#!/usr/bin/env bash
# Memory under churn: `tessera-bench soak` starts the release `tessera serve` and makes CYCLES
# join/leave cycles (default 2000; 4 peers at a time, publishers and viewers), sampling the
# server's RSS, fds and threads every CHECKPOINT cycles once it has settled. It fails if RSS
# grew more than 20 MiB from the first checkpoint to the last, if fds or threads did not come
# back to their baseline, or if a room, pipeline, webrtcbin or ICE object was left. Takes about
# 20 minutes on 2 cores; the figures go in docs/benchmarks.md.
#
#   scripts/soak.sh [CYCLES] [CHECKPOINT]
#   MALLOC_ARENA_MAX=2 scripts/soak.sh     (environment reaches the server)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p tessera -p tessera-bench
RUST_LOG=${RUST_LOG:-warn,tessera::loadgen=info} ./target/release/tessera-bench soak --cycles "${1:-2000}" --checkpoint "${2:-200}"
