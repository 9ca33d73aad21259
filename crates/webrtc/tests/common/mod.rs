//! What the integration tests of `tessera_webrtc` share: negotiating two `webrtcbin`s.

use std::sync::mpsc;
use std::time::Duration;

use gst::prelude::*;

/// The description `webrtc` makes with `signal` (`create-offer`, `create-answer`), from the
/// reply's `field`.
pub fn describe(webrtc: &gst::Element, signal: &str, field: &'static str) -> gst_webrtc::WebRTCSessionDescription {
    let (tx, rx) = mpsc::channel();
    let promise = gst::Promise::with_change_func(move |reply| {
        let sdp = reply.ok().flatten().and_then(|s| s.get::<gst_webrtc::WebRTCSessionDescription>(field).ok());
        let _ = tx.send(sdp);
    });
    webrtc.emit_by_name::<()>(signal, &[&None::<gst::Structure>, &promise]);
    rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap_or_else(|| panic!("{signal} gave no {field}"))
}

/// Applies `sdp` to `webrtc` with `signal` (`set-local-description`, …) and waits for it.
pub fn set(webrtc: &gst::Element, signal: &str, sdp: &gst_webrtc::WebRTCSessionDescription) {
    let (tx, rx) = mpsc::channel();
    let promise = gst::Promise::with_change_func(move |reply| {
        let _ = tx.send(reply.is_ok());
    });
    webrtc.emit_by_name::<()>(signal, &[sdp, &promise]);
    assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "{signal} failed");
}
