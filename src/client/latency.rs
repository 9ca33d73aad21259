//! Glass-to-glass latency: a flashing publisher ([`VideoSource::Flash`]) records when each
//! flash was captured, a watcher ([`Received::watch_brightness`]) when it saw the flash turn
//! up; both on this machine's monotonic clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use gst::prelude::*;

use super::Received;
use super::media::{JITTER_MS, receive_bin};
use super::{VideoSource, VideoSpec, sources};

/// Pairs each flash captured from `since` on with the first onset a watcher saw after it.
/// Returns the delays and how many flashes there were to see; an onset more than a flash
/// period after its flash (the flash was missed) or a second onset after the same flash (a
/// flicker) is not a delay.
pub fn match_flashes(flashes: &[Instant], onsets: &[Instant], since: Instant) -> (Vec<Duration>, usize) {
    let period = Duration::from_nanos(sources::MARK_PERIOD.nseconds());
    let mut delays = Vec::new();
    let mut last_matched = None;
    for onset in onsets.iter().filter(|o| **o >= since) {
        let Some(flash) = flashes.iter().rev().find(|f| **f <= *onset) else { continue };
        let delay = onset.duration_since(*flash);
        if *flash >= since && delay < period && last_matched != Some(*flash) {
            delays.push(delay);
            last_matched = Some(*flash);
        }
    }
    (delays, flashes.iter().filter(|f| **f >= since).count())
}

/// The client's own share of glass-to-glass latency: the flash source, its encoder and
/// payloader straight into a jitter buffer of the test peer's latency, the depayloader and the
/// decoder, with no network and no server. Watches for `duration`.
pub async fn loopback(spec: &VideoSpec, duration: Duration) -> anyhow::Result<(Vec<Duration>, usize)> {
    gst::init()?;
    let marks = Arc::new(sources::MarkClock::default());
    let source = sources::video(&VideoSource::Flash(spec.clone()), &marks)?;
    let received = Arc::new(Received::default());
    received.watch_brightness(spec.width / 2, spec.height / 2);
    let jitter = gst::ElementFactory::make("rtpjitterbuffer").property("latency", JITTER_MS).build()?;
    let decode = receive_bin("video", received.clone())?;
    let pipeline = gst::Pipeline::builder().name("latency-loopback").build();
    pipeline.add_many([source.bin.upcast_ref(), &jitter, decode.upcast_ref()])?;
    gst::Element::link_many([source.bin.upcast_ref(), &jitter, decode.upcast_ref()])?;
    pipeline.set_state(gst::State::Playing).context("starting the latency loopback")?;
    source.started();
    let start = Instant::now();
    tokio::time::sleep(duration).await;
    pipeline.set_state(gst::State::Null)?;
    Ok(match_flashes(&marks.flash_times(), &received.bright_onsets(), start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onsets_pair_with_the_latest_earlier_flash() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let flashes = [at(0), at(1000), at(2000), at(3000)];
        // Seen 80 ms after flash 2, 90 ms after flash 3 (then a flicker); flash 4 missed.
        let onsets = [at(300), at(1080), at(2090), at(2600)];
        let (delays, flashes_seen) = match_flashes(&flashes, &onsets, at(500));
        assert_eq!(delays, [Duration::from_millis(80), Duration::from_millis(90)]);
        assert_eq!(flashes_seen, 3);
    }
}
