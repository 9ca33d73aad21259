#!/usr/bin/env bash
# Where does a churned server's memory go? Starts `tessera serve` and runs ROOMS rooms one after
# another with `tessera-bench loadgen` (2 publishers, then CYCLES churn peers, 4 at a time, alternately
# publishers and viewers; the room ends when they have left). After each room has ended it prints
# the server's RSS and glibc malloc's own figures (malloc_stats, called through gdb): "system"
# is what malloc holds, "in use" what the program holds. With LEAKS=1 the server also runs
# GStreamer's leaks tracer: GStreamer objects created and destroyed in each room's life, and
# those still alive at the end.
#
#   scripts/memory-churn.sh [ROOMS] [CYCLES]        (defaults: 4 rooms, 60 cycles)
#   LEAKS=1 scripts/memory-churn.sh 2 60
#   BIN=target/release/tessera BENCH=target/release/tessera-bench scripts/memory-churn.sh
#
# Needs gdb. Measured figures and what they mean: README.md, "Memory".
set -euo pipefail
ROOMS=${1:-4}
CYCLES=${2:-60}
BIN=${BIN:-target/debug/tessera}
OUT=$(mktemp -d /tmp/tessera-memory.XXXXXX)
PORT=$((20000 + RANDOM % 10000))
command -v gdb >/dev/null || { echo "needs gdb" >&2; exit 1; }

env=()
if [[ ${LEAKS:-0} == 1 ]]; then
    env=(GST_TRACERS=leaks GST_LEAKS_TRACER_SIG=1 GST_DEBUG=GST_TRACER:7 GST_DEBUG_FILE="$OUT/gst.log")
fi
env "${env[@]}" "$BIN" serve --listen "127.0.0.1:$PORT" --canvas 640x360 --ice-addresses 127.0.0.1 \
    2>"$OUT/server.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
sleep 3

rss() { awk '/VmRSS/{printf "%.1f MiB", $2/1024}' "/proc/$PID/status"; }
malloc_figures() {
    local before
    before=$(wc -l <"$OUT/server.log")
    gdb -p "$PID" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1
    sleep 0.5
    tail -n +"$((before + 1))" "$OUT/server.log" | awk '/^Total/{t=1; next}
        t && /system bytes/{s=$4} t && /in use bytes/{printf "malloc holds %.1f MB, in use %.1f MB", s/1e6, $5/1e6; t=0}'
}
checkpoint() { # GStreamer objects created and destroyed since the last checkpoint
    [[ ${LEAKS:-0} == 1 ]] || return 0
    local before
    before=$(wc -l <"$OUT/gst.log")
    kill -USR2 "$PID"
    sleep 3
    tail -n +"$((before + 1))" "$OUT/gst.log" | awk '/object-added,/{a++} /object-removed,/{r++}
        END{printf "; GStreamer objects: %d created, %d destroyed", a, r}'
}

checkpoint >/dev/null
echo "idle: RSS $(rss), $(malloc_figures)"
for r in $(seq 1 "$ROOMS"); do
    "${BENCH:-target/debug/tessera-bench}" loadgen --server "127.0.0.1:$PORT" --room "churn$r" --publishers 2 --warmup 2 --seconds 2 \
        --latency false --width 320 --height 180 --server-pid "$PID" --churn "$CYCLES" >"$OUT/room$r.json"
    sleep 4
    echo "room $r ended ($CYCLES churn cycles): RSS $(rss), $(malloc_figures)$(checkpoint)"
done
gdb -p "$PID" -batch -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1
echo "after malloc_trim(0): RSS $(rss)"
if [[ ${LEAKS:-0} == 1 ]]; then
    kill -USR1 "$PID"
    sleep 3
    echo "GStreamer objects alive at the end:"
    grep -o 'object-alive, type-name=(string)[A-Za-z0-9_]*' "$OUT/gst.log" | sed 's/.*(string)//' | sort | uniq -c
fi
kill -INT "$PID"
wait "$PID" || true
echo "logs in $OUT"
