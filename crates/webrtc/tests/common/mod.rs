//! What the integration tests of `tessera_webrtc` share: negotiating two `webrtcbin`s.

use std::net::IpAddr;
use std::sync::mpsc;
use std::time::Duration;

use gst::prelude::*;

/// The only address the tests' ICE agents gather on.
pub const LOOPBACK: [IpAddr; 1] = [IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)];

/// Hands each of `a`'s and `b`'s ICE candidates to the other as it is gathered.
pub fn exchange_candidates(a: &gst::Element, b: &gst::Element) {
    for (from, to) in [(a, b), (b, a)] {
        let to = to.downgrade();
        from.connect("on-ice-candidate", false, move |args| {
            let (mline, candidate) = (args[1].get::<u32>().unwrap(), args[2].get::<String>().unwrap());
            if let Some(to) = to.upgrade() {
                to.emit_by_name::<()>("add-ice-candidate", &[&mline, &candidate]);
            }
            None
        });
    }
}

/// `offerer` offers, `answerer` answers; both descriptions applied on both sides.
pub fn negotiate(offerer: &gst::Element, answerer: &gst::Element) {
    let offer = describe(offerer, "create-offer", "offer");
    set(offerer, "set-local-description", &offer);
    set(answerer, "set-remote-description", &offer);
    let answer = describe(answerer, "create-answer", "answer");
    set(answerer, "set-local-description", &answer);
    set(offerer, "set-remote-description", &answer);
}

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
