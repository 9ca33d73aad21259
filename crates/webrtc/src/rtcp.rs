//! How a `webrtcbin` writes its RTCP sender reports.

use gst::prelude::*;

/// Makes `webrtc`'s sender reports map RTP time to when the media was captured, as browsers
/// do, instead of GStreamer's default, when it was sent.
///
/// A sender's media runs before DTLS is up (the server's composite always does; so does a
/// GStreamer publisher whose sources start at its join), so its first packets wait and then
/// leave in a burst. With send-time reports, the first reports state audio and video up to
/// ~250 ms apart, the receiver's lip sync delays one stream by that much until the next report
/// about a second later, and a recording's first A/V marks were 230–1000 ms apart in 3 of 20
/// runs (`tests/scenarios/recording_av_sync.rs`); with capture time, 0 of 20.
pub fn report_capture_time(webrtc: &gst::Element) {
    match webrtc.downcast_ref::<gst::Bin>().and_then(|bin| bin.by_name("rtpbin")) {
        Some(rtpbin) => rtpbin.set_property("rtcp-sync-send-time", false),
        None => tracing::warn!("webrtcbin has no rtpbin; its sender reports use send time"),
    }
}
