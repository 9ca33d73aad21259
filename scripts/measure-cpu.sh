#!/usr/bin/env bash
# Measures the server's CPU (fraction of one core) and RSS with N publishers, each sending
# pre-encoded 640x360@30 VP8 + Opus, composited at the default 1280x720@30.
#   scripts/measure-cpu.sh [N ...]        (default: 4 9)
# A fresh release server per N; load from a separate process (`tessera loadgen`), measured from
# /proc over a 20 s steady window after 5 s of warm-up. Prints one JSON report per N.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --locked -q
counts=("$@"); [ ${#counts[@]} -gt 0 ] || counts=(4 9)
port=18080
for n in "${counts[@]}"; do
  log=$(mktemp)
  ./target/release/tessera serve --listen "127.0.0.1:$port" --ice-addresses 127.0.0.1 2>"$log" &
  pid=$!
  for _ in $(seq 50); do grep -q "listening on" "$log" && break; sleep 0.1; done
  ./target/release/tessera loadgen --server "127.0.0.1:$port" --room "measure-$n" \
    --publishers "$n" --seconds "${SECONDS_WINDOW:-20}" --warmup 5 --server-pid "$pid"
  kill -TERM "$pid"; wait "$pid" || true
  rm -f "$log"
  port=$((port + 1))
done
