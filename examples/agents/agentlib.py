"""Shared helpers of the Python agent examples: the /agent URL, 20 ms PCM frames, levels.

Standard library only (the examples need `websockets` besides). See docs/agents.md.
"""

import array
import math
import subprocess
import urllib.parse
import wave
import io

FRAME_MS = 20


def agent_url(server, room, name, rate=16000, token=None):
    """The WebSocket URL an agent joins `room` with."""
    query = {"room": room, "name": name, "rate": str(rate)}
    if token:
        query["token"] = token
    return f"ws://{server}/agent?{urllib.parse.urlencode(query)}"


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
