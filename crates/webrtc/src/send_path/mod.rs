//! The send path of a `webrtcbin` made lighter for every packet: a frame's packets go out
//! together, and audio and video taking turns costs no event.
//!
//! - **The unused FEC stage.** `webrtcbin` (1.22, `_connect_input_stream`) puts
//!   `rtpulpfecenc ! rtpredenc`, in a bin of their own, between each input's `clocksync` and
//!   its RTP session, whether or not ULPFEC or RED was negotiated. Unused, both pass each
//!   packet on as it is; but neither takes a buffer list, so GStreamer splits there the list in
//!   which a payloader hands on a frame's packets (`rtpvp8pay` does). Everything after them (the
//!   RTP session, the RTX store, SRTP, the funnel, `nicesink`) then handles each packet on its
//!   own, and `nicesink` sends each with a `sendmsg` of its own; a list goes through each once
//!   and leaves in one `sendmmsg`. Tessera offers and answers neither ULPFEC nor RED
//!   ([`crate::codecs`]), so once `webrtcbin` has linked the stage, its input is linked straight
//!   to what it fed, before any packet flows. If a description ever negotiates either (the
//!   stage's payload types say so when it is linked), the stage stays.
//! - **The bundle's turns.** With max-bundle, audio and video meet in an `rtpfunnel`, which
//!   pushes its input's segment and sticky custom events downstream each time the input it
//!   forwards from changes: with a room's audio and video pushed from two threads, about 100
//!   times a second per receiver. Each crossed about fifteen pads, the RTP session, SRTP and
//!   `nicesink`, and the TOS event among them had `webrtcbin` set the socket's DSCP again
//!   (`gst_pad_push_event` was 22 % of the send threads in `perf`). The funnel's output now
//!   answers as handled a segment equal to the last one but for its position, and a mid's TOS
//!   event after its first (`funnel_events.rs`).
//! - **The input chain.** Between a `webrtcbin` sink pad and its RTP session, a packet crosses
//!   about ten pads (ghost pads, `clocksync`, the funnel) that hand it on unchanged. A
//!   [`Shortcut`] takes the owner's packets straight to the session's sink pad whenever the
//!   funnel would have pushed nothing before them (`shortcut.rs`); it is used by whoever
//!   feeds the `webrtcbin` (the server's egress gates), not by `streamline`.

use gst::prelude::*;

mod fec_stage;
mod funnel_events;
mod shortcut;

pub use shortcut::{Sent, Shortcut};

/// Lightens the send path of every stream `webrtc` builds from now on (see the module docs).
pub fn streamline(webrtc: &gst::Element) {
    let Some(bin) = webrtc.downcast_ref::<gst::Bin>() else { return };
    bin.connect_element_added(|_, element| {
        if let Some(stage) = element.downcast_ref::<gst::Bin>() {
            fec_stage::bypass_once_linked_if_unused(stage);
        } else if element.factory().is_some_and(|f| f.name() == "rtpfunnel") {
            funnel_events::drop_repeats(element);
        }
    });
}

/// Whether two segments differ at most in their position, which a sender's sink ignores (the
/// funnel repeats each input's segment as it was when that input last changed it); without
/// copying either.
fn same_but_position(a: &gst::Segment, b: &gst::Segment) -> bool {
    a.format() == b.format()
        && a.flags() == b.flags()
        && a.rate() == b.rate()
        && a.applied_rate() == b.applied_rate()
        && a.base() == b.base()
        && a.offset() == b.offset()
        && a.start() == b.start()
        && a.stop() == b.stop()
        && a.time() == b.time()
        && a.duration() == b.duration()
}
