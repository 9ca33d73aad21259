"""What an aiortc peer sends (a solid colour, a sine tone) and how it measures what it receives
(mean colours of regions of the latest decoded frame, tone levels by FFT)."""

import asyncio
import fractions
import time

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

RATE = 48_000
# 20 ms, the Opus frame aiortc's encoder packetizes.
AUDIO_SAMPLES = 960
# Seconds of received audio kept for analysis.
AUDIO_KEEP = 3


class SolidColourTrack(VideoStreamTrack):
    """320x180 frames of one RGB colour at 30 fps."""

    def __init__(self, rgb, width=320, height=180):
        super().__init__()
        self._pixels = np.zeros((height, width, 3), dtype=np.uint8)
        self._pixels[:, :] = rgb

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(self._pixels, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneTrack(MediaStreamTrack):
    """A sine tone at -10 dBFS (as the Rust test peer sends), 48 kHz mono, paced in real time."""

    kind = "audio"

    def __init__(self, hz):
        super().__init__()
        self._hz = hz
        self._sent = 0
        self._start = None

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + self._sent / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        t = (self._sent + np.arange(AUDIO_SAMPLES)) / RATE
        amplitude = 32767 * 10 ** (-10 / 20)
        samples = (amplitude * np.sin(2 * np.pi * self._hz * t)).astype(np.int16)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, RATE)
        self._sent += AUDIO_SAMPLES
        return frame


class Received:
    """The latest decoded frame and the last seconds of decoded audio."""

    def __init__(self):
        self.frames = 0
        self.latest = None  # RGB ndarray, height x width x 3
        self.audio = np.zeros(0, dtype=np.float64)  # mono, full scale = 1
        self.audio_samples = 0
        # [samples received so far, jump in samples] for each audio frame whose RTP time did
        # not follow the previous frame's end: a packet skipped by the sender or by aiortc's
        # jitter buffer (aiortc conceals nothing: the two sides join with a jump in phase).
        self.audio_gaps = []
        self._next_pts = None

    async def consume(self, track):
        """Decodes `track` until it ends."""
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if track.kind == "video":
                self.latest = frame.to_ndarray(format="rgb24")
                self.frames += 1
            else:
                self._add_audio(frame)

    def _add_audio(self, frame):
        # aiortc's Opus decoder gives interleaved s16 stereo at 48 kHz; mix to mono.
        samples = frame.to_ndarray().astype(np.float64).reshape(-1, len(frame.layout.channels))
        mono = samples.mean(axis=1) / 32768.0
        if self._next_pts is not None and frame.pts is not None and frame.pts != self._next_pts:
            self.audio_gaps.append([self.audio_samples, frame.pts - self._next_pts])
        self._next_pts = None if frame.pts is None else frame.pts + len(mono)
        self.audio = np.concatenate([self.audio, mono])[-AUDIO_KEEP * RATE :]
        self.audio_samples += len(mono)

    def mean_rgb(self, x, y, w, h):
        """The mean colour of a rectangle of the latest frame, or None before the first."""
        if self.latest is None:
            return None
        region = self.latest[y : y + h, x : x + w].reshape(-1, 3)
        return [round(float(c)) for c in region.mean(axis=0)] if len(region) else None

    def tone_dbfs(self, hz, seconds=1.0):
        """The level of `hz` over the last `seconds` (Hann window), in dBFS; -200 without audio."""
        spectrum, freqs, gain = self._spectrum(seconds)
        if spectrum is None:
            return -200.0
        # The strongest bin within 5 Hz: a tone between two bins is not lost.
        near = np.abs(freqs - hz) <= 5
        amplitude = 2 * spectrum[near].max() / gain
        return float(20 * np.log10(amplitude + 1e-10))

    def dominant_hz(self, seconds=1.0):
        """The frequency of the strongest component above 50 Hz, or None without audio."""
        spectrum, freqs, _ = self._spectrum(seconds)
        if spectrum is None:
            return None
        audible = freqs >= 50
        return float(freqs[audible][spectrum[audible].argmax()])

    def _spectrum(self, seconds):
        n = int(seconds * RATE)
        if len(self.audio) < n:
            return None, None, None
        window = np.hanning(n)
        spectrum = np.abs(np.fft.rfft(self.audio[-n:] * window))
        return spectrum, np.fft.rfftfreq(n, 1 / RATE), window.sum()
