#!/usr/bin/env bash
# What one room's composite encoders cost, outside the server: a live 1280x720 30 fps I420
# source (the default canvas) into the exact encoder fragments of pipelines/vp8-encoder.txt and
# pipelines/h264-encoder.txt (comments dropped, the final `encoded` tee replaced by a fakesink,
# bitrates set as src/media/encoder.rs sets them for the default 1500 kbit/s), for SECS seconds
# each under /usr/bin/time -v; the source alone is measured too and subtracted. Then, in shorter
# runs under GStreamer's latency tracer, how long each encoder holds a frame (in to out).
# Results: docs/interop.md, "Cost". Run it on an otherwise idle machine.
#
#   scripts/encoder-cost.sh [SECS]        (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
frames=$((secs * 30))
# A moving picture (smpte bars scrolling): a still one costs an encoder almost nothing.
source="videotestsrc is-live=true pattern=smpte horizontal-speed=4 num-buffers=$frames
  ! video/x-raw,format=I420,width=1280,height=720,framerate=30/1"

fragment() { # pipelines/$1 without comments, its `encoded` tee replaced by a sink
  sed -e 's/#.*//' "pipelines/$1" | tr '\n' ' ' | sed -e 's/tee name=encoded allow-not-linked=true/fakesink/'
}
vp8="$(fragment vp8-encoder.txt | sed -e 's/vp8enc name=vp8enc/vp8enc name=vp8enc target-bitrate=1500000/')"
h264="$(fragment h264-encoder.txt | sed -e 's/x264enc name=x264enc/x264enc name=x264enc bitrate=1500/')"

# Prints "user+system CPU seconds / wall seconds" of one gst-launch run as % of one core.
cpu() {
  local out
  out="$( { /usr/bin/time -v gst-launch-1.0 -q $1 >/dev/null; } 2>&1 )"
  awk -v label="$2" '/User time/ {u=$NF} /System time/ {s=$NF} /Elapsed \(wall clock\)/ {
      n=split($NF, t, ":"); w=(n==3 ? t[1]*3600+t[2]*60+t[3] : t[1]*60+t[2]) }
    END { printf "%-12s %6.1f%% of one core (user %.2f s, system %.2f s, wall %.1f s)\n", label, 100*(u+s)/w, u, s, w }' <<<"$out"
}

echo "gst-launch-1.0 $(gst-launch-1.0 --version | sed -n 2p | awk '{print $2}'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "source:  $source" | tr -s ' \n' ' '; echo
echo "vp8:     $vp8" | tr -s ' '
echo "h264:    $h264" | tr -s ' '
cpu "$source ! fakesink" "source only"
cpu "$source ! $vp8" "+ vp8enc"
cpu "$source ! $h264" "+ x264enc"

# Encode latency: the latency tracer's element-latency records (time from a buffer entering an
# element to the matching one leaving it), for the encoder element only, over 10 s.
latency() {
  GST_TRACERS='latency(flags=element)' GST_DEBUG='GST_TRACER:7' GST_DEBUG_NO_COLOR=1 \
    gst-launch-1.0 -q ${1//num-buffers=$frames/num-buffers=300} 2>&1 >/dev/null |
    grep 'element-latency' | grep "element=(string)$2," |
    sed -e 's/.*time=(guint64)\([0-9]*\).*/\1/' | sort -n |
    awk -v label="$2" '{ v[NR]=$1; s+=$1 } END { if (!NR) { print label ": no records"; exit }
      printf "%-12s encode latency over %d frames: mean %.2f ms, median %.2f ms, p95 %.2f ms, max %.2f ms\n",
        label, NR, s/NR/1e6, v[int(NR/2)+1]/1e6, v[int(NR*0.95)]/1e6, v[NR]/1e6 }'
}
latency "$source ! $vp8" vp8enc
latency "$source ! $h264" x264enc
