"""Shared helpers of the Python agent examples: the /agent URL, 20 ms PCM frames, levels.

Standard library only, but for `connect`, which needs `websockets`. See docs/agents.md.
"""

import array
import math
import subprocess
import urllib.parse
import wave
import io
import json

FRAME_MS = 20


def agent_url(server, room, name, rate=16000, token=None):
    """The WebSocket URL an agent joins `room` with."""
    query = {"room": room, "name": name, "rate": str(rate)}
    if token:
        query["token"] = token
    return f"ws://{server}/agent?{urllib.parse.urlencode(query)}"


async def connect(server, room, name, rate=16000, token=None, hops=3):
    """Opens the agent's socket; in a fleet, follows a `redirect` to the server running the room.

    Returns the socket and its first message (`joined`, or the `error` that refused the agent).
    """
    import websockets  # the examples' one dependency besides the standard library

    for _ in range(hops + 1):
        ws = await websockets.connect(agent_url(server, room, name, rate, token), max_size=None)
        first = await ws.recv()
        m = json.loads(first) if isinstance(first, str) else {}
        if m.get("type") != "redirect":
            return ws, first
        await ws.close()
        server = urllib.parse.urlsplit(m["url"]).netloc
    raise RuntimeError(f"more than {hops} redirects for room {room}")


async def messages(ws, first):
    """Every message of the socket, starting with `first` (as returned by `connect`)."""
    yield first
    async for msg in ws:
        yield msg


def frames(pcm, rate):
    """Cuts 16-bit mono PCM bytes into 20 ms frames (the last padded with silence)."""
    size = rate // 1000 * FRAME_MS * 2
    if len(pcm) % size:
        pcm += b"\0" * (size - len(pcm) % size)
    return [pcm[i:i + size] for i in range(0, len(pcm), size)]


def level_db(frame):
    """The RMS level of a 16-bit PCM frame in dBFS (-100 for digital silence)."""
    samples = array.array("h", frame)
    if not samples:
        return -100.0
    mean_square = sum(s * s for s in samples) / len(samples) / (32768.0 * 32768.0)
    return 10 * math.log10(mean_square) if mean_square > 1e-10 else -100.0


def resample(samples, src_rate, dst_rate):
    """Linear-interpolation resampling of 16-bit samples (plenty for speech)."""
    if src_rate == dst_rate:
        return samples
    n = int(len(samples) * dst_rate / src_rate)
    out = array.array("h", bytes(2 * n))
    step = src_rate / dst_rate
    for i in range(n):
        x = i * step
        j = int(x)
        a = samples[j]
        b = samples[j + 1] if j + 1 < len(samples) else a
        out[i] = int(a + (b - a) * (x - j))
    return out


def speak(text, rate, voice="en"):
    """`text` spoken by espeak-ng, as 16-bit mono PCM at `rate`."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, "espeak-ng writes 16-bit mono"
        samples = array.array("h", w.readframes(w.getnframes()))
        return resample(samples, w.getframerate(), rate).tobytes()
