//! Following the server's `videoConstraints`: a live source is scaled (the `fit` capsfilter
//! after a `videoscale`), its frame rate capped (`videorate max-rate`) and its encoder's
//! bitrate lowered; a clip ladder switches to the rung that fills the tile. What a browser does
//! with `RTCRtpSender.setParameters`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gst::prelude::*;
use tessera_protocol::VideoConstraints;
use tessera_protocol::layout::Size;

use super::ClipLadder;

/// The test peer's live video bitrate, bit/s (the `target-bitrate` its sources start with):
/// constraints only ever lower it.
pub const LIVE_BITRATE: u32 = 300_000;

/// A video source that can follow constraints.
pub enum Follower {
    /// Encoded live: the source bin (with `fit`, `fit-rate` and `encoder` inside) and the size
    /// it generates.
    Live {
        /// The source bin.
        bin: gst::Bin,
        /// The generated picture's size.
        source: Size,
    },
    /// A clip ladder: which rung plays.
    Ladder {
        /// The rungs.
        ladder: Arc<ClipLadder>,
        /// The rung playing (the replay thread switches when it changes).
        rung: Arc<AtomicUsize>,
    },
}

impl Follower {
    /// Applies `c`.
    pub fn apply(&self, c: &VideoConstraints) {
        match self {
            Self::Live { bin, source } => apply_live(bin, *source, c),
            Self::Ladder { ladder, rung } => {
                let to = ladder.rung_for(c);
                if rung.swap(to, Ordering::Relaxed) != to {
                    tracing::debug!(rung = to, size = ?ladder.rungs[to].size(), "clip ladder follows {c:?}");
                }
            }
        }
    }
}

fn apply_live(bin: &gst::Bin, source: Size, c: &VideoConstraints) {
    let size = c.fit(source);
    if let Some(fit) = bin.by_name("fit") {
        let caps = gst::Caps::builder("video/x-raw")
            .field("width", size.width as i32)
            .field("height", size.height as i32)
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build();
        let unchanged = fit.property::<Option<gst::Caps>>("caps").is_some_and(|now| now == caps);
        if !unchanged {
            fit.set_property("caps", &caps);
        }
    }
    if let Some(rate) = bin.by_name("fit-rate") {
        rate.set_property("max-rate", c.fps.clamp(1, i32::MAX as u32) as i32);
    }
    if let Some(encoder) = bin.by_name("encoder") {
        let bps = c.max_bitrate.min(LIVE_BITRATE);
        if encoder.has_property("target-bitrate") {
            encoder.set_property("target-bitrate", bps as i32); // vp8enc, bit/s
        } else if encoder.has_property("bitrate") {
            encoder.set_property("bitrate", bps / 1000); // x264enc, kbit/s
        }
    }
    tracing::debug!(?size, fps = c.fps, "live video follows {c:?}");
}
