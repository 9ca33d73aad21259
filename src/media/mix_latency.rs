//! What the mixers (compositor, audio engine) wait for: their inputs' latency as they see it.

use gst::prelude::*;

use crate::config::Config;

/// How long the mixers wait for a late input frame: `[media] mix_wait_ms`.
pub(super) fn mix_wait(config: &Config) -> gst::ClockTime {
    gst::ClockTime::from_mseconds(u64::from(config.media.mix_wait_ms))
}

/// Makes every input of `aggregator`, now and later, answer latency queries with no maximum,
/// and with a minimum of at most `wait`.
///
/// The minimum: each input reports its jitter buffer's latency (`jitter_ms`, 50 ms), and the
/// aggregator would wait that long past each frame's time for any input that is late, and
/// every sender after it (the `clocksync` before each video output's tee) as long again. But
/// the jitter buffer passes in-order packets straight on; it holds only behind a lost packet,
/// waiting for its retransmission. Such a late frame is worth waiting for in a player, not in a mix of many
/// inputs: here it is mixed without (audio: that input's samples are dropped, as a loss;
/// video: its tile keeps its last picture for a frame), and nobody else waits. Capped at
/// `wait` = 20 ms (the default), the room's added latency fell from 89 to 55 ms and an
/// agent's mouth-to-ear from 237 to 99 ms against 50 (`make bench QUICK=1`, N=4;
/// docs/architecture.md, "Where each millisecond goes").
///
/// The maximum:
/// Some inputs answer with a maximum below another input's minimum (a live source's one frame,
/// something in webrtcbin's receive path even 0, against the jitter buffer's 50 ms minimum).
/// The aggregator then cannot configure its latency, warns, and queries the whole graph again
/// for every output buffer: about 100 failed queries a second with 4 publishers. Every input
/// here either queues (jitter buffers) or is a still image or a clock, so none really has a
/// maximum.
pub(super) fn unbounded_upstream_latency(aggregator: &gst::Element, wait: gst::ClockTime) {
    let fix = move |pad: &gst::Pad| {
        if pad.direction() != gst::PadDirection::Sink {
            return;
        }
        pad.add_probe(gst::PadProbeType::QUERY_UPSTREAM | gst::PadProbeType::PULL, move |_, info| {
            if let Some(query) = info.query_mut()
                && let gst::QueryViewMut::Latency(q) = query.view_mut()
            {
                let (live, min, _) = q.result();
                q.set(live, min.min(wait), gst::ClockTime::NONE);
            }
            gst::PadProbeReturn::Ok
        });
    };
    aggregator.sink_pads().iter().for_each(fix);
    aggregator.connect_pad_added(move |_, pad| fix(pad));
}
