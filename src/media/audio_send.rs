//! Audio leaves as soon as it is encoded: the `clocksync` that `webrtcbin` (1.22) puts before
//! each of its RTP sessions is told not to wait for audio.
//!
//! That `clocksync` holds every packet until its running time plus the pipeline's latency. The
//! pipeline's latency is the largest of its branches', the composite's in a room with video,
//! so it held the audio mix 38 ms past the time it was ready (4 publishers; 20 ms in an
//! audio-only room, the Opus encoder's reported frame). Waiting there also cost a thread per
//! listener: the engine's thread could not wait for each listener's send, so each listener's
//! branch had a queue and a thread of its own, and two wake-ups a packet.
//!
//! Lip sync does not depend on when a packet leaves: each RTP session maps a packet's time to
//! the NTP time in its sender reports from the packet's running time plus the latency the
//! pipeline configured (`gstrtpsession.c`, `rtcp-sync-send-time`), the same for audio and
//! video, and a receiver lines the two streams up by those reports. Video keeps its
//! `clocksync`: it makes the composite leave at the same moment after its time, frame after
//! frame, whatever the encoder took.

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
    let element = clocksync.downgrade();
    sink.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        let Some(gst::EventView::Caps(caps)) = info.event().map(|e| e.view()) else {
            return gst::PadProbeReturn::Ok;
        };
        let media = caps.caps().structure(0).and_then(|s| s.get::<&str>("media").ok()).map(str::to_owned);
        if media.as_deref() == Some("audio")
            && let Some(element) = element.upgrade()
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
