//! Audio leaves as soon as it is encoded: the `clocksync` that `webrtcbin` (1.22) puts before
//! each of its RTP sessions is told not to wait for audio.
//!
//! That `clocksync` holds every packet until its running time plus the latency its branch
//! reports upstream. The audio branch reports the engine's latency, its wait for late input and
//! the Opus encoder's frame, while the engine hands each frame on 20 ms after it starts: the mix
//! waited there for the difference (38 ms, 4 publishers). A wait in the engine's thread would
//! hold the room's whole mix, so each listener's branch needed a queue and a thread of its own.
//!
//! Lip sync does not depend on when a packet leaves: each RTP session's sender reports map a
//! packet's RTP time to the NTP time of its capture (`tessera_webrtc::rtcp` sets
//! `rtcp-sync-send-time` off), the same for audio and video, and a receiver lines the two
//! streams up by those reports (`tests/scenarios/browser_av_sync.rs`). Video keeps its wait:
//! the composite leaves at the same moment after its time, frame after frame, whatever the
//! encoder took (a `clocksync` before each video output's tee, `egress.rs`, since the egress
//! gates hand packets straight to the RTP session past `webrtcbin`'s own).

use gst::prelude::*;

/// Has every audio `clocksync` that `webrtc` builds from now on pass packets without waiting.
/// A `clocksync` is told by the first caps it gets (`media=audio` or `media=video`).
pub(super) fn send_audio_unpaced(webrtc: &gst::Element) {
    let Some(bin) = webrtc.downcast_ref::<gst::Bin>() else { return };
    bin.connect_element_added(|_, element| {
        if element.factory().is_some_and(|f| f.name() == "clocksync") {
            watch_caps(element);
        }
    });
}

/// Turns `clocksync`'s `sync` off when its first caps say audio; then stops looking.
fn watch_caps(clocksync: &gst::Element) {
    let Some(sink) = clocksync.static_pad("sink") else { return };
    sink.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, |pad, info| {
        let Some(gst::EventView::Caps(caps)) = info.event().map(|e| e.view()) else {
            return gst::PadProbeReturn::Ok;
        };
        let media = caps.caps().structure(0).and_then(|s| s.get::<&str>("media").ok()).map(str::to_owned);
        if media.as_deref() == Some("audio")
            && let Some(element) = pad.parent_element()
        {
            element.set_property("sync", false);
        }
        gst::PadProbeReturn::Remove
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `clocksync` added to the bin after the call, and given RTP caps of `media`.
    fn clocksync_given(media: &str) -> gst::Element {
        gst::init().unwrap();
        let bin = gst::Bin::new();
        send_audio_unpaced(bin.upcast_ref());
        let clocksync = gst::ElementFactory::make("clocksync").property("sync", true).build().unwrap();
        bin.add(&clocksync).unwrap();
        let sink = clocksync.static_pad("sink").unwrap();
        sink.set_active(true).unwrap();
        let caps = gst::Caps::builder("application/x-rtp").field("media", media).field("clock-rate", 48_000).build();
        sink.send_event(gst::event::StreamStart::new("s"));
        sink.send_event(gst::event::Caps::new(&caps));
        clocksync
    }

    #[test]
    fn audio_clocksyncs_stop_waiting_and_video_ones_keep_waiting() {
        assert!(!clocksync_given("audio").property::<bool>("sync"));
        assert!(clocksync_given("video").property::<bool>("sync"));
    }
}
