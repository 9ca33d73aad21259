//! The send path's shortcut in a real `webrtcbin`: a VP8 and an Opus stream fed through gates
//! that use it, as the server's egress gates do, reach a second `webrtcbin` over loopback,
//! nearly all of their packets having gone straight into the RTP session.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;
use tessera_webrtc::send_path::{Sent, Shortcut};
use tessera_webrtc::{IceSettings, new_webrtcbin, teardown};

mod common;
use common::{LOOPBACK, exchange_candidates, negotiate};

/// Packets a gate handed on, each way.
#[derive(Default)]
struct Gated {
    straight: AtomicUsize,
    declined: AtomicUsize,
}

/// A sink ghost pad of `bin` onto `webrtc_sink` that drops everything until `open`, then
/// sends through the shortcut, or the usual way when it declines.
fn gate(bin: &gst::Bin, webrtc_sink: &gst::Pad, open: &Arc<AtomicBool>, gated: &Arc<Gated>) -> gst::GhostPad {
    let shortcut = Arc::new(Shortcut::new(webrtc_sink));
    let (open_list, gated_list, shortcut_list) = (Arc::clone(open), Arc::clone(gated), Arc::clone(&shortcut));
    let (open, gated) = (Arc::clone(open), Arc::clone(gated));
    let count = |gated: &Gated, straight: bool| {
        let n = if straight { &gated.straight } else { &gated.declined };
        n.fetch_add(1, Ordering::Relaxed);
    };
    let ghost = gst::GhostPad::builder_with_target(webrtc_sink)
        .unwrap()
        .chain_function(move |pad, parent, buffer| {
            if !open.load(Ordering::Acquire) {
                return Ok(gst::FlowSuccess::Ok);
            }
            match shortcut.chain(buffer) {
                Sent::Straight(result) => (count(&gated, true), result).1,
                Sent::Declined(buffer) => (count(&gated, false), gst::ProxyPad::chain_default(pad, parent, buffer)).1,
            }
        })
        .chain_list_function(move |pad, parent, list| {
            if !open_list.load(Ordering::Acquire) {
                return Ok(gst::FlowSuccess::Ok);
            }
            match shortcut_list.chain_list(list) {
                Sent::Straight(result) => (count(&gated_list, true), result).1,
                Sent::Declined(list) => {
                    (count(&gated_list, false), gst::ProxyPad::chain_list_default(pad, parent, list)).1
                }
            }
        })
        .build();
    ghost.set_active(true).unwrap();
    bin.add_pad(&ghost).unwrap();
    ghost
}

/// Counts the RTP packets of each kind (`media` in their caps) reaching `webrtc`'s outputs.
fn count_received(webrtc: &gst::Element) -> Arc<[AtomicUsize; 2]> {
    let received: Arc<[AtomicUsize; 2]> = Arc::default();
    let counts = Arc::clone(&received);
    webrtc.connect_pad_added(move |webrtc, pad| {
        let Some(pipeline) = webrtc.parent().and_downcast::<gst::Bin>() else { return };
        let sink = gst::ElementFactory::make("fakesink").property("async", false).build().unwrap();
        pipeline.add(&sink).unwrap();
        sink.sync_state_with_parent().unwrap();
        pad.link(&sink.static_pad("sink").unwrap()).unwrap();
        let counts = Arc::clone(&counts);
        pad.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, move |pad, info| {
            let video = pad.current_caps().and_then(|c| c.structure(0).map(|s| s.get::<&str>("media") == Ok("video")));
            let n = match &info.data {
                Some(gst::PadProbeData::BufferList(list)) => list.len(),
                _ => 1,
            };
            counts[usize::from(video == Some(true))].fetch_add(n, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    });
    received
}

fn wait_for(limit: Duration, done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_connected_peers_packets_go_straight_into_its_rtp_session() {
    gst::init().unwrap();
    let ice = IceSettings { addresses: &LOOPBACK, ..Default::default() };
    let pipeline = gst::Pipeline::new();
    let sender = gst::Bin::builder().name("sender").build();
    let offerer = new_webrtcbin("offerer", 50, &ice).unwrap();
    let answerer = new_webrtcbin("answerer", 50, &ice).unwrap();
    sender.add(&offerer).unwrap();
    pipeline.add_many([sender.upcast_ref(), &answerer]).unwrap();
    let sources = [
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 \
         ! vp8enc deadline=1 ! rtpvp8pay pt=96 mtu=1200",
        "audiotestsrc is-live=true ! opusenc ! rtpopuspay pt=111",
    ];
    let (open, gated) = (Arc::new(AtomicBool::new(false)), Arc::new(Gated::default()));
    for source in sources {
        let source = gst::parse::bin_from_description(source, true).unwrap();
        pipeline.add(&source).unwrap();
        let webrtc_sink = offerer.request_pad_simple("sink_%u").unwrap();
        let ghost = gate(&sender, &webrtc_sink, &open, &gated);
        source.static_pad("src").unwrap().link(&ghost).unwrap();
    }
    let received = count_received(&answerer);
    exchange_candidates(&offerer, &answerer);
    pipeline.set_state(gst::State::Playing).unwrap();
    // Both inputs' caps must be known before the offer describes them.
    let has_caps = |n: usize| offerer.sink_pads().iter().filter(|p| p.current_caps().is_some()).count() >= n;
    assert!(wait_for(Duration::from_secs(5), || has_caps(2)), "the sources' caps reached webrtcbin");
    negotiate(&offerer, &answerer);
    let connected = || {
        offerer.property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state")
            == gst_webrtc::WebRTCPeerConnectionState::Connected
    };
    assert!(wait_for(Duration::from_secs(10), connected), "the peers connect");
    open.store(true, Ordering::Release);
    let enough = || received.iter().all(|n| n.load(Ordering::Relaxed) >= 60);
    let flowed = wait_for(Duration::from_secs(10), enough);
    let (straight, declined) = (gated.straight.load(Ordering::Relaxed), gated.declined.load(Ordering::Relaxed));
    let [audio, video] = [0, 1].map(|i| received[i].load(Ordering::Relaxed));
    teardown::stop(pipeline.upcast_ref()).unwrap();
    assert!(flowed, "60 packets of each kind arrive: audio {audio}, video {video}");
    // The first packet of each input takes the usual way: the funnel sets the session up.
    assert!(straight >= 60 && declined <= 4, "straight {straight}, the usual way {declined}");
}
