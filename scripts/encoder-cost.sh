#!/usr/bin/env bash
# What one room's composite encoders cost, outside the server: a live 1280x720 30 fps I420
# source (the default canvas) into the exact encoder fragments of pipelines/vp8-encoder.txt and
# pipelines/h264-encoder.txt (comments dropped, the final `encoded` tee replaced by a fakesink,
# bitrates set as src/media/encoder.rs sets them for the default 1500 kbit/s), for SECS seconds
# each under /usr/bin/time -v; the source alone is measured too and subtracted. Then, in shorter
# runs under GStreamer's latency tracer, how long each encoder holds a frame (in to out).
# Results: docs/interop.md, "Cost". Run it on an otherwise idle machine. Last, the VP8 speed
# settings compared on a 25-tile composite: CPU per frame, bits and PSNR.
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

# VP8 speed settings on the composite of 25 publishers (a 5x5 grid of scrolling bars, as in
# `make bench`): encoded from a raw file as fast as the encoder goes, so CPU seconds per frame
# leave out the source; then bits and luma PSNR of the decoded frames against the raw ones
# (numpy from the project's .venv, scripts/install-deps.sh). `cpu-used=-6` is the fragment's.
speeds() {
  local dir raw places="" tiles=""
  dir="$(mktemp -d)"; raw="$dir/grid.yuv"
  for i in $(seq 0 24); do
    places="$places sink_$i::xpos=$(( (i % 5) * 256 )) sink_$i::ypos=$(( (i / 5) * 144 ))"
    tiles="$tiles videotestsrc is-live=true pattern=smpte horizontal-speed=$((2 + i % 3))
      ! video/x-raw,width=256,height=144,framerate=30/1 ! grid.sink_$i"
  done
  # shellcheck disable=SC2086
  gst-launch-1.0 -q compositor name=grid $places ! video/x-raw,format=I420,width=1280,height=720,framerate=30/1 \
    ! identity eos-after=300 ! filesink location="$raw" $tiles
  local parse="filesrc location=$raw ! rawvideoparse width=1280 height=720 format=i420 framerate=30/1"
  local settings
  for speed in -6 8 -4 -8 -12 16; do
    settings="$(sed -e "s/cpu-used=-6/cpu-used=$speed/" -e 's/! *fakesink *$//' <<<"$vp8")"
    /usr/bin/time -f %U -o "$dir/user" gst-launch-1.0 -q $parse ! $settings ! fakesink
    gst-launch-1.0 -q $parse ! $settings ! tee name=t ! queue ! matroskamux ! filesink location="$dir/out.mkv" \
      t. ! queue ! vp8dec ! filesink location="$dir/decoded.yuv"
    .venv/bin/python - "$raw" "$dir/decoded.yuv" "$(stat -c %s "$dir/out.mkv")" "$(cat "$dir/user")" "$speed" <<'PY'
import sys, numpy as np
raw, dec, size, user, speed = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
w, h = 1280, 720; frame = w * h * 3 // 2
a, b = np.fromfile(raw, np.uint8), np.fromfile(dec, np.uint8)
n = min(a.size, b.size) // frame
psnr = [10 * np.log10(255 ** 2 / max(((a[i*frame:i*frame+w*h].astype(int) - b[i*frame:i*frame+w*h]) ** 2).mean(), 1e-9))
        for i in range(30, n)]
print(f"cpu-used={speed:>3}: {1000 * user / n:5.1f} ms CPU per frame, {size * 8 / 1000 / (n / 30):5.0f} kbit/s "
      f"(target 1500), Y-PSNR {np.mean(psnr):.2f} dB (worst frame {np.min(psnr):.2f})")
PY
  done
  rm -rf "$dir"
}
speeds
