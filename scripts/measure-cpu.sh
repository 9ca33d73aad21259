#!/usr/bin/env bash
# Measures the server's CPU (fraction of one core) and RSS with N publishers, each sending
# pre-encoded 640x360@30 VP8 + Opus, composited at the default 1280x720@30.
#   scripts/measure-cpu.sh [N ...]        (default: 4 9)
#   RECORD=1 scripts/measure-cpu.sh 4     (the same, recording the room meanwhile)
#   LAYOUT=speaker scripts/measure-cpu.sh 9   (in speaker layout; DECORATIONS=false draws no names)
# A fresh release server per N on a free port; load from a separate process (`tessera-bench loadgen`),
# measured from /proc over a 20 s steady window after 5 s of warm-up. One JSON report per N.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --locked -q -p tessera -p tessera-bench
counts=("$@"); [ ${#counts[@]} -gt 0 ] || counts=(4 9)
for n in "${counts[@]}"; do
  log=$(mktemp)
  recdir=$(mktemp -d)
  ./target/release/tessera serve --listen 127.0.0.1:0 --ice-addresses 127.0.0.1 --record-dir "$recdir" \
    --decorations "${DECORATIONS:-true}" 2>"$log" &
  pid=$!
  addr=""
  for _ in $(seq 100); do
    addr=$(sed -n 's/.*listening on http:\/\/\([0-9.:]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    echo "server did not start:" >&2; cat "$log" >&2; kill "$pid" 2>/dev/null || true; exit 1
  fi
  ./target/release/tessera-bench loadgen --server "$addr" --room "measure-$n" \
    --publishers "$n" --seconds "${SECONDS_WINDOW:-20}" --warmup 5 --server-pid "$pid" \
    ${RECORD:+--record} ${LAYOUT:+--layout "$LAYOUT"}
  kill -TERM "$pid"; wait "$pid" || true
  rm -rf "$log" "$recdir"
done
