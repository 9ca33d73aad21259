//! What a participant's inbound RTP streams went through on the way: packets received and
//! lost, interarrival jitter, and the NACKs and PLIs we sent back — read from `webrtcbin`'s
//! `get-stats` (its `inbound-rtp` entries) when the room task asks, once a second. The reply
//! comes on a webrtcbin thread, so it only stores numbers in relaxed atomics, and holds no
//! reference to the element (the last one must never go on its own thread).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gst::prelude::*;

/// Totals over a participant's inbound streams, as of the last `get-stats` reply.
#[derive(Debug, Default)]
pub struct ReceptionCounters {
    received: AtomicU64,
    lost: AtomicU64,
    /// The largest stream's jitter, microseconds.
    jitter_us: AtomicU64,
    nacks: AtomicU64,
    plis: AtomicU64,
    /// What the participant sent us: nothing yet (a viewer, always), no `get-stats`.
    inbound: Arc<super::stats::InboundCounters>,
}

/// A reading of [`ReceptionCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReceptionSnapshot {
    /// RTP packets received, all inbound streams.
    pub received: u64,
    /// RTP packets lost (RFC 3550's cumulative count), all inbound streams.
    pub lost: u64,
    /// The largest interarrival jitter of the inbound streams, seconds.
    pub jitter: f64,
    /// NACKs we sent for its streams.
    pub nacks: u64,
    /// PLIs (and FIRs) we sent for its streams.
    pub plis: u64,
}

impl ReceptionSnapshot {
    /// The fraction of packets lost since `earlier` (0 when none was expected).
    pub fn loss_since(&self, earlier: &Self) -> f64 {
        let lost = self.lost.saturating_sub(earlier.lost);
        let expected = self.received.saturating_sub(earlier.received) + lost;
        if expected == 0 { 0.0 } else { lost as f64 / expected as f64 }
    }
}

/// A numeric field of a stats entry, whatever integer or float type it has.
fn number(s: &gst::StructureRef, field: &str) -> Option<f64> {
    let v = s.value(field).ok()?;
    v.get::<u64>()
        .map(|n| n as f64)
        .or_else(|_| v.get::<i64>().map(|n| n as f64))
        .or_else(|_| v.get::<u32>().map(f64::from))
        .or_else(|_| v.get::<i32>().map(f64::from))
        .or_else(|_| v.get::<f64>())
        .ok()
}

impl ReceptionCounters {
    /// Counters of a participant whose received packets `inbound` counts.
    pub fn of(inbound: Arc<super::stats::InboundCounters>) -> Self {
        Self { inbound, ..Self::default() }
    }

    /// Asks `webrtc` for its stats; the reply updates the counters. Skipped while the
    /// participant has sent nothing: there is no `inbound-rtp` entry to read then, and a
    /// viewer never sends, while `get-stats` builds an entry for every transceiver,
    /// transport and candidate pair on webrtcbin's thread, every second, for every viewer.
    pub fn request(self: &Arc<Self>, webrtc: &gst::Element) {
        if self.inbound.snapshot().last_packet.is_none() {
            return;
        }
        let me = self.clone();
        let promise = gst::Promise::with_change_func(move |reply| {
            if let Ok(Some(stats)) = reply {
                me.store(stats);
            }
        });
        webrtc.emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
    }

    fn store(&self, stats: &gst::StructureRef) {
        let mut totals = ReceptionSnapshot::default();
        for (_, value) in stats.iter() {
            let Ok(entry) = value.get::<gst::Structure>() else { continue };
            if entry.name() != "inbound-rtp" {
                continue;
            }
            let count = |field| number(&entry, field).unwrap_or(0.0).max(0.0) as u64;
            totals.received += count("packets-received");
            totals.lost += count("packets-lost");
            totals.nacks += count("nack-count");
            totals.plis += count("pli-count") + count("fir-count");
            totals.jitter = totals.jitter.max(number(&entry, "jitter").unwrap_or(0.0));
        }
        self.received.store(totals.received, Ordering::Relaxed);
        self.lost.store(totals.lost, Ordering::Relaxed);
        self.jitter_us.store((totals.jitter * 1e6) as u64, Ordering::Relaxed);
        self.nacks.store(totals.nacks, Ordering::Relaxed);
        self.plis.store(totals.plis, Ordering::Relaxed);
    }

    /// Reads the counters.
    pub fn snapshot(&self) -> ReceptionSnapshot {
        ReceptionSnapshot {
            received: self.received.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            jitter: self.jitter_us.load(Ordering::Relaxed) as f64 / 1e6,
            nacks: self.nacks.load(Ordering::Relaxed),
            plis: self.plis.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inbound_entries_only() {
        gst::init().unwrap();
        let inbound = |lost: i64, jitter: f64| {
            gst::Structure::builder("inbound-rtp")
                .field("packets-received", 990u64)
                .field("packets-lost", lost)
                .field("jitter", jitter)
                .field("nack-count", 3u32)
                .field("pli-count", 2u32)
                .field("fir-count", 1u32)
                .build()
        };
        let outbound = gst::Structure::builder("outbound-rtp").field("packets-lost", 500i64).build();
        let stats = gst::Structure::builder("application/x-webrtc-stats")
            .field("in-video", inbound(10, 0.004))
            .field("in-audio", inbound(-2, 0.012))
            .field("out", outbound)
            .build();
        let c = ReceptionCounters::default();
        c.store(&stats);
        let s = c.snapshot();
        assert_eq!((s.received, s.lost, s.nacks, s.plis), (1980, 10, 6, 6), "{s:?}");
        assert!((s.jitter - 0.012).abs() < 1e-6);
        let before = ReceptionSnapshot { received: 980, lost: 0, ..s };
        assert!((s.loss_since(&before) - 10.0 / 1010.0).abs() < 1e-9);
        assert_eq!(s.loss_since(&s), 0.0);
    }
}
