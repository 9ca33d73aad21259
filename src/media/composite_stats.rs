//! The composite's counters: frames out of the compositor, and the VP8 encoder's time per frame
//! and keyframes. Pad probes on the streaming threads update them with relaxed atomics (a few
//! per composite frame, never per packet); the room task reads them once a second.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use gst::prelude::*;

/// What a probe does with each buffer.
type OnBuffer = dyn Fn(&CompositeCounters, &gst::BufferRef) + Send + Sync;

/// Counters of one room's composite.
#[derive(Debug)]
pub struct CompositeCounters {
    /// When the counters were made; times below are nanoseconds since then.
    epoch: Instant,
    /// Frames the compositor produced.
    frames: AtomicU64,
    /// When the frame now in the encoder went in.
    encode_start: AtomicU64,
    /// Frames the encoder produced.
    encoded: AtomicU64,
    /// Their total encoding time, nanoseconds.
    encode_ns: AtomicU64,
    /// Keyframes among them.
    keyframes: AtomicU64,
}

/// A reading of [`CompositeCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CompositeSnapshot {
    /// Frames composited so far.
    pub frames: u64,
    /// Frames encoded so far.
    pub encoded: u64,
    /// Their total encoding time, nanoseconds.
    pub encode_ns: u64,
    /// Keyframes encoded so far.
    pub keyframes: u64,
}

impl CompositeSnapshot {
    /// Mean encoding time per frame since `earlier`, seconds (0 when none was encoded).
    pub fn encode_seconds_since(&self, earlier: &Self) -> f64 {
        let frames = self.encoded.saturating_sub(earlier.encoded);
        if frames == 0 {
            return 0.0;
        }
        self.encode_ns.saturating_sub(earlier.encode_ns) as f64 / frames as f64 / 1e9
    }
}

impl CompositeCounters {
    /// Counts the frames leaving `compositor` and times `encoder` (a synchronous encoder: a
    /// frame goes out on the thread that pushed it in, so in-to-out is its encoding time).
    pub fn watch(compositor: &gst::Element, encoder: &gst::Element) -> Arc<Self> {
        let me = Arc::new(Self {
            epoch: Instant::now(),
            frames: AtomicU64::new(0),
            encode_start: AtomicU64::new(0),
            encoded: AtomicU64::new(0),
            encode_ns: AtomicU64::new(0),
            keyframes: AtomicU64::new(0),
        });
        let probe = |element: &gst::Element, pad: &str, f: Box<OnBuffer>| {
            let counters = me.clone();
            if let Some(pad) = element.static_pad(pad) {
                pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                    if let Some(buffer) = info.buffer() {
                        f(&counters, buffer);
                    }
                    gst::PadProbeReturn::Ok
                });
            }
        };
        probe(
            compositor,
            "src",
            Box::new(|c, _| {
                c.frames.fetch_add(1, Ordering::Relaxed);
            }),
        );
        probe(encoder, "sink", Box::new(|c, _| c.encode_start.store(c.now(), Ordering::Relaxed)));
        probe(
            encoder,
            "src",
            Box::new(|c, buffer| {
                let took = c.now().saturating_sub(c.encode_start.load(Ordering::Relaxed));
                c.encode_ns.fetch_add(took, Ordering::Relaxed);
                c.encoded.fetch_add(1, Ordering::Relaxed);
                if !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT) {
                    c.keyframes.fetch_add(1, Ordering::Relaxed);
                }
            }),
        );
        me
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Reads the counters.
    pub fn snapshot(&self) -> CompositeSnapshot {
        CompositeSnapshot {
            frames: self.frames.load(Ordering::Relaxed),
            encoded: self.encoded.load(Ordering::Relaxed),
            encode_ns: self.encode_ns.load(Ordering::Relaxed),
            keyframes: self.keyframes.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_time_per_frame() {
        let a = CompositeSnapshot { frames: 30, encoded: 30, encode_ns: 30_000_000, keyframes: 1 };
        let b = CompositeSnapshot { frames: 60, encoded: 60, encode_ns: 90_000_000, keyframes: 1 };
        assert!((b.encode_seconds_since(&a) - 0.002).abs() < 1e-9);
        assert_eq!(a.encode_seconds_since(&a), 0.0, "nothing encoded");
    }
}
