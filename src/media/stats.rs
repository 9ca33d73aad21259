//! Inbound media counters per participant: updated by pad probes on GStreamer threads (one
//! relaxed atomic add per packet or frame), read by the room task once a second for the REST
//! API and to notice publishers whose media stopped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use gst::prelude::*;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Counters of what a participant sends us.
#[derive(Debug, Default)]
pub struct InboundCounters {
    bytes: AtomicU64,
    /// RTP bytes of the video stream we decode.
    video_bytes: AtomicU64,
    frames: AtomicU64,
    /// Milliseconds since [`epoch`] of the last packet, plus one; 0 = never.
    last_packet: AtomicU64,
    /// Sum of squared decoded audio samples since the last [`InboundCounters::take_level`].
    energy: AtomicU64,
    /// Decoded audio samples since the last [`InboundCounters::take_level`].
    samples: AtomicU64,
}

/// A reading of [`InboundCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InboundSnapshot {
    /// RTP bytes received (after the jitter buffer).
    pub bytes: u64,
    /// RTP bytes of the decoded video stream (after the jitter buffer).
    pub video_bytes: u64,
    /// Video frames decoded.
    pub frames: u64,
    /// When the last RTP packet came, if any did.
    pub last_packet: Option<Instant>,
}

/// A publisher's video so far: frames decoded, and RTP bytes of the stream they come from
/// (bytes without frames: video arrives but does not decode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VideoProgress {
    /// Frames decoded.
    pub frames: u64,
    /// RTP bytes of the decoded stream.
    pub bytes: u64,
}

/// Inbound rates over an interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundRates {
    /// RTP bitrate, kbit/s.
    pub bitrate_kbps: f64,
    /// Decoded video frames per second.
    pub fps: f64,
}

impl InboundSnapshot {
    /// Rates between an earlier snapshot and this one, `elapsed` apart.
    pub fn rates_since(&self, earlier: &InboundSnapshot, elapsed: Duration) -> InboundRates {
        let secs = elapsed.as_secs_f64();
        if secs <= 0.0 {
            return InboundRates::default();
        }
        InboundRates {
            bitrate_kbps: self.bytes.saturating_sub(earlier.bytes) as f64 * 8.0 / 1000.0 / secs,
            fps: self.frames.saturating_sub(earlier.frames) as f64 / secs,
        }
    }
}

impl InboundCounters {
    /// Reads the counters.
    pub fn snapshot(&self) -> InboundSnapshot {
        let last = self.last_packet.load(Ordering::Relaxed);
        InboundSnapshot {
            bytes: self.bytes.load(Ordering::Relaxed),
            video_bytes: self.video_bytes.load(Ordering::Relaxed),
            frames: self.frames.load(Ordering::Relaxed),
            last_packet: (last > 0).then(|| epoch() + Duration::from_millis(last - 1)),
        }
    }

    fn count_bytes(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let now = epoch().elapsed().as_millis() as u64 + 1;
        self.last_packet.store(now, Ordering::Relaxed);
    }

    /// Counts the RTP packets leaving a webrtcbin receive pad.
    pub fn watch_rtp(self: &Arc<Self>, pad: &gst::Pad) {
        let counters = self.clone();
        pad.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, move |_, info| {
            match &info.data {
                Some(gst::PadProbeData::Buffer(b)) => counters.count_bytes(b.size() as u64),
                Some(gst::PadProbeData::BufferList(l)) => counters.count_bytes(l.iter().map(|b| b.size() as u64).sum()),
                _ => {}
            }
            gst::PadProbeReturn::Ok
        });
    }

    /// Counts the RTP bytes of the video stream leaving a webrtcbin receive pad (the one being
    /// decoded): video that keeps arriving but never decodes is noticed from this.
    pub fn watch_video_rtp(self: &Arc<Self>, pad: &gst::Pad) {
        let counters = self.clone();
        pad.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, move |_, info| {
            let bytes = match &info.data {
                Some(gst::PadProbeData::Buffer(b)) => b.size() as u64,
                Some(gst::PadProbeData::BufferList(l)) => l.iter().map(|b| b.size() as u64).sum(),
                _ => 0,
            };
            counters.video_bytes.fetch_add(bytes, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }

    /// Measures the decoded audio (S16 mono) passing `pad`, for speaker detection.
    pub fn watch_levels(self: &Arc<Self>, pad: &impl IsA<gst::Pad>) {
        let counters = self.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(map) = info.buffer().and_then(|b| b.map_readable().ok()) {
                let energy: u64 = map
                    .chunks_exact(2)
                    .map(|p| i64::from(i16::from_le_bytes([p[0], p[1]])))
                    .map(|v| (v * v) as u64)
                    .sum();
                counters.energy.fetch_add(energy, Ordering::Relaxed);
                counters.samples.fetch_add((map.len() / 2) as u64, Ordering::Relaxed);
            }
            gst::PadProbeReturn::Ok
        });
    }

    /// The RMS level (dBFS) of the audio since the last call, and resets; `None` if no audio
    /// arrived meanwhile.
    pub fn take_level(&self) -> Option<f64> {
        let samples = self.samples.swap(0, Ordering::Relaxed);
        let energy = self.energy.swap(0, Ordering::Relaxed);
        (samples > 0).then(|| {
            let mean_square = energy as f64 / samples as f64 / (32768.0 * 32768.0);
            10.0 * (mean_square + 1e-12).log10()
        })
    }

    /// Counts the decoded video frames passing `pad`.
    pub fn watch_frames(self: &Arc<Self>, pad: &impl IsA<gst::Pad>) {
        let counters = self.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counters.frames.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_from_snapshots() {
        let a = InboundSnapshot { bytes: 1_000, video_bytes: 900, frames: 30, last_packet: None };
        let b = InboundSnapshot { bytes: 126_000, video_bytes: 120_000, frames: 60, last_packet: None };
        let r = b.rates_since(&a, Duration::from_secs(1));
        assert_eq!(r, InboundRates { bitrate_kbps: 1000.0, fps: 30.0 });
        assert_eq!(b.rates_since(&a, Duration::ZERO), InboundRates::default());
        assert_eq!(a.rates_since(&b, Duration::from_secs(1)).fps, 0.0, "counters never go back");
    }

    #[test]
    fn audio_levels() {
        let c = InboundCounters::default();
        assert_eq!(c.take_level(), None);
        c.energy.store(100 * 16384 * 16384, Ordering::Relaxed); // 100 samples at half scale
        c.samples.store(100, Ordering::Relaxed);
        assert!((c.take_level().unwrap() - (-6.02)).abs() < 0.01);
        assert_eq!(c.take_level(), None, "reset after reading");
    }

    #[test]
    fn last_packet_is_recorded() {
        let c = InboundCounters::default();
        assert_eq!(c.snapshot().last_packet, None);
        c.count_bytes(300);
        let s = c.snapshot();
        assert_eq!(s.bytes, 300);
        assert!(s.last_packet.unwrap().elapsed() < Duration::from_secs(1));
    }
}
