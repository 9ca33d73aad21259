#!/usr/bin/env python3
"""An aiortc peer for Tessera's interop tests: an independent WebRTC stack (Python, OpenSSL
DTLS with ECDSA only, aioice) joining a room.

A publisher sends a solid colour and a sine tone; any peer decodes what it receives. Every
`--report-ms` it prints one JSON line to stdout: connection state, frames and audio samples
received, the mean colour of each `--probe` region of the latest frame, the level of each
`--tone` frequency and the dominant frequency. It leaves the room and exits when its stdin
closes (the test harness drops it) or after `--max-seconds`.

    .venv/bin/python tests/interop/aiortc_peer.py --server 127.0.0.1:8080 --room demo \\
        --name py --role publisher --rgb 0,255,0 --tone-hz 660 --probe 0,0,320,180 --tone 440

`--mode whip` publishes and `--mode whep` watches over HTTP (RFC 9725) instead of `/ws`.
"""

import argparse
import asyncio
import json
import sys
import threading
import time

import aioice.ice
from aiortc import RTCPeerConnection

from media import Received, SolidColourTrack, ToneTrack
from signaling import SIGNALINGS


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=sorted(SIGNALINGS), default="ws", help="signaling: /ws, WHIP or WHEP")
    p.add_argument("--server", required=True, help="host:port of Tessera")
    p.add_argument("--room", required=True)
    p.add_argument("--name", default="aiortc")
    p.add_argument("--role", choices=["publisher", "viewer"], default="publisher")
    p.add_argument("--rgb", default="0,255,0", help="publisher's colour, R,G,B")
    p.add_argument("--tone-hz", type=float, default=660.0, help="publisher's tone")
    p.add_argument("--probe", action="append", default=[], help="x,y,w,h: report this region's mean colour")
    p.add_argument("--tone", action="append", type=float, default=[], help="report this frequency's level")
    p.add_argument("--ice-address", default=None, help="gather host candidates on this address only")
    p.add_argument("--report-ms", type=int, default=250)
    p.add_argument("--max-seconds", type=float, default=60.0)
    args = p.parse_args()
    # WHIP only publishes and WHEP only watches.
    needed = {"whip": "publisher", "whep": "viewer"}.get(args.mode, args.role)
    if args.role != needed:
        p.error(f"--mode {args.mode} takes --role {needed}")
    return args


def only_address(address):
    """aioice gathers on every address but 127.0.0.1; tests run on loopback, as the Rust peer's
    libnice is told to with add-local-ip-address."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [address]


def report(pc, received, args, started):
    probes = []
    for probe in args.probe:
        x, y, w, h = (int(v) for v in probe.split(","))
        probes.append({"rect": [x, y, w, h], "rgb": received.mean_rgb(x, y, w, h)})
    return {
        "elapsedMs": round((time.monotonic() - started) * 1000),
        "connectionState": pc.connectionState,
        "frames": received.frames,
        "frameSize": None if received.latest is None else list(received.latest.shape[1::-1]),
        "audioSamples": received.audio_samples,
        "audioGaps": received.audio_gaps[-8:],
        "probes": probes,
        "tones": {f"{hz:g}": round(received.tone_dbfs(hz), 1) for hz in args.tone},
        "dominantHz": received.dominant_hz(),
    }


def stdin_closed():
    """A future that completes when stdin reaches end of file (the harness dropped us). Read on
    a daemon thread: stdin may be a file, which asyncio cannot watch, and an executor thread
    would keep the process alive at exit."""
    loop = asyncio.get_running_loop()
    closed = loop.create_future()

    def read():
        while sys.stdin.buffer.read1(4096):
            pass
        loop.call_soon_threadsafe(lambda: closed.done() or closed.set_result(None))

    threading.Thread(target=read, daemon=True).start()
    return closed


async def run(args):
    if args.ice_address:
        only_address(args.ice_address)
    started = time.monotonic()
    pc = RTCPeerConnection()
    received = Received()
    consumers = []

    @pc.on("track")
    def on_track(track):
        consumers.append(asyncio.ensure_future(received.consume(track)))

    def attach(pc):
        if args.role == "publisher":
            pc.addTrack(SolidColourTrack([int(c) for c in args.rgb.split(",")]))
            pc.addTrack(ToneTrack(args.tone_hz))

    signaling = SIGNALINGS[args.mode](args.server, args.room, args.name, args.role)
    done = stdin_closed()
    try:
        await signaling.negotiate(pc, attach)
        deadline = started + args.max_seconds
        while not done.done() and time.monotonic() < deadline:
            print(json.dumps(report(pc, received, args, started)), flush=True)
            await asyncio.wait([done], timeout=args.report_ms / 1000)
    finally:
        done.cancel()
        for consumer in consumers:
            consumer.cancel()
        await signaling.close()
        await pc.close()


def main():
    args = parse_args()
    try:
        asyncio.run(run(args))
    except Exception as e:  # noqa: BLE001 - one line for the harness, then a failing exit
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
