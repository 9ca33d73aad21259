//! Glass-to-glass latency: a flashing publisher ([`VideoSource::Flash`]) records when each
//! flash was captured, a watcher ([`Received::watch_flashes`]) when it saw the flash turn up
//! and which flash it was (each carries its number in its picture); both on this machine's
//! monotonic clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use gst::prelude::*;

use super::Received;
use super::media::{JITTER_MS, receive_bin};
use super::received::Onset;
use super::sources::Flash;
use super::{VideoSource, VideoSpec, sources};

/// Flashes paired with the frames that showed them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlashMatch {
    /// Glass-to-glass delay of each flash that was seen, in capture order.
    pub delays: Vec<Duration>,
    /// Flashes captured in the window: each should have a delay.
    pub flashes: usize,
    /// Bright onsets in the window whose flash code could not be read (not counted as delays).
    pub unreadable: usize,
}

/// Pairs each flash captured from `since` on with the first onset that showed *its* code
/// ([`super::sources::flash_code`]), so a late frame of one flash is never taken for an early
/// frame of the next. An onset without a readable code, or whose flash is not in `flashes`,
/// is not a delay.
pub fn match_flashes(flashes: &[Flash], onsets: &[Onset], since: Instant) -> FlashMatch {
    let mut result = FlashMatch { flashes: flashes.iter().filter(|f| f.at >= since).count(), ..Default::default() };
    let mut matched = Vec::new();
    for onset in onsets.iter().filter(|o| o.at >= since) {
        let Some(code) = onset.code else {
            result.unreadable += 1;
            continue;
        };
        let flash = flashes.iter().rev().find(|f| f.number % 128 == u64::from(code) && f.at <= onset.at);
        if let Some(flash) = flash.filter(|f| f.at >= since && !matched.contains(&f.number)) {
            matched.push(flash.number);
            result.delays.push(onset.at.duration_since(flash.at));
        }
    }
    result
}

/// The client's own share of glass-to-glass latency: the flash source, its encoder and
/// payloader straight into a jitter buffer of the test peer's latency, the depayloader and the
/// decoder, with no network and no server. Watches for `duration`.
pub async fn loopback(spec: &VideoSpec, duration: Duration) -> anyhow::Result<FlashMatch> {
    gst::init()?;
    let marks = Arc::new(sources::MarkClock::default());
    let source = sources::video(&VideoSource::Flash(spec.clone()), &marks, tessera_webrtc::codecs::Codec::Vp8)?;
    let received = Arc::new(Received::default());
    received.watch_flashes(tessera_protocol::layout::Rect { x: 0, y: 0, w: spec.width, h: spec.height });
    let jitter = gst::ElementFactory::make("rtpjitterbuffer").property("latency", JITTER_MS).build()?;
    let decode = receive_bin(tessera_webrtc::codecs::Codec::Vp8, received.clone())?;
    let pipeline = gst::Pipeline::builder().name("latency-loopback").build();
    pipeline.add_many([source.bin.upcast_ref(), &jitter, decode.upcast_ref()])?;
    gst::Element::link_many([source.bin.upcast_ref(), &jitter, decode.upcast_ref()])?;
    pipeline.set_state(gst::State::Playing).context("starting the latency loopback")?;
    // Nothing to wait for here: no connection holds the media back.
    sources::open_gates(pipeline.upcast_ref());
    source.started();
    let start = Instant::now();
    tokio::time::sleep(duration).await;
    // Not on the runtime's worker: a change to NULL joins streaming threads.
    let stopped = tokio::task::spawn_blocking(move || tessera_webrtc::teardown::stop(pipeline.upcast_ref()));
    stopped.await?.map_err(anyhow::Error::msg)?;
    Ok(match_flashes(&marks.flashes(), &received.flash_onsets(), start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onsets_pair_with_the_flash_whose_code_they_show() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let flash = |number: u64| Flash { number, at: at(number * 1000) };
        let flashes = [flash(1), flash(2), flash(3), flash(4), flash(5)];
        let seen = |ms: u64, code: Option<u8>| Onset { at: at(ms), code };
        let onsets = [
            seen(1300, Some(1)), // before the window
            seen(2080, Some(2)), // 80 ms
            seen(3005, Some(2)), // flash 2 seen again late, 5 ms after flash 3: not a delay
            seen(3090, Some(3)), // 90 ms
            seen(3600, Some(3)), // a flicker of flash 3
            seen(4070, None),    // unreadable
        ]; // flash 5 missed
        let m = match_flashes(&flashes, &onsets, at(1500));
        assert_eq!(m.delays, [Duration::from_millis(80), Duration::from_millis(90)]);
        assert_eq!((m.flashes, m.unreadable), (4, 1));
    }

    #[test]
    fn flash_codes_read_back_and_parity_catches_one_flipped_cell() {
        use super::super::sources::{flash_code, read_flash_code};
        for n in 0..300u64 {
            let cells = flash_code(n);
            assert_eq!(read_flash_code(cells), Some((n % 128) as u8));
            for i in 0..cells.len() {
                let mut flipped = cells;
                flipped[i] = !flipped[i];
                assert_eq!(read_flash_code(flipped), None);
            }
        }
    }
}
