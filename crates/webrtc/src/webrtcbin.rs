//! Building a `webrtcbin` the one way Tessera does (server and test peer alike), and the rules
//! for letting one go.
//!
//! # Lifetime rules (GStreamer 1.22.0)
//! A `webrtcbin` owns an ICE object (`GstWebRTCNice`) whose thread runs libnice's main loop.
//! `webrtcbin`'s dispose releases that ICE object *before* its finalize frees the ICE
//! transports, and the ICE object's finalize stops its thread. If anyone else holds the ICE
//! object, its thread outlives the transports, and when candidate gathering completes then,
//! `_on_candidate_gathering_done` (`nicestream.c`) steps past the end of its transport list
//! after deleting a dead one: a NULL dereference on the ICE thread that ends the process.
//! So the ICE object must die with its `webrtcbin`: **never keep a reference to it**, and
//! **never hand `webrtcbin` an mDNS candidate**
//! (`<uuid>.local`, as browsers send): 1.22 resolves those in a `GTask` whose source object is
//! the ICE object, which keeps it alive past a peer that leaves meanwhile (see
//! [`crate::ice::is_mdns`]). Keeping the ICE *transports* alive instead does not help: the
//! transport bins connect to their `notify::state` without a reference and never disconnect,
//! so a transport that outlives its `webrtcbin` crashes in `transportreceivebin.c` (tried).
//! libnice's UPnP discovery is switched off: it opens listeners nobody asked for and makes
//! gathering slow enough to race a teardown. [`live_ice_agents`] counts ICE objects alive, so
//! tests and `tessera-bench stress` see one outlive its `webrtcbin`.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use gst::glib;
use gst::prelude::*;
use gst_webrtc::prelude::*;

/// How a new `webrtcbin` finds and offers its addresses.
#[derive(Debug, Clone, Default)]
pub struct IceSettings<'a> {
    /// Local addresses to gather host candidates on (libnice skips loopback unless told).
    pub addresses: &'a [IpAddr],
    /// UDP port range for ICE, if restricted.
    pub ports: Option<(u16, u16)>,
    /// STUN server URI.
    pub stun: Option<&'a str>,
    /// TURN server URIs.
    pub turn: &'a [String],
}

static WEBRTCBINS: Counter = Counter::new();
static ICE_AGENTS: Counter = Counter::new();

/// Objects created and finalized, counted through weak-reference notifications.
struct Counter {
    built: AtomicU64,
    freed: AtomicU64,
}

impl Counter {
    const fn new() -> Self {
        Self { built: AtomicU64::new(0), freed: AtomicU64::new(0) }
    }

    fn track(&'static self, object: &impl IsA<glib::Object>) {
        self.built.fetch_add(1, Ordering::SeqCst);
        // The notification stays registered when the handle is dropped.
        let _ = object.add_weak_ref_notify(move || {
            self.freed.fetch_add(1, Ordering::SeqCst);
        });
    }

    fn live(&self) -> u64 {
        // Read `freed` first: a finalize between the two reads must not underflow.
        let freed = self.freed.load(Ordering::SeqCst);
        self.built.load(Ordering::SeqCst) - freed
    }
}

/// `webrtcbin`s built by [`new_webrtcbin`] and not yet finalized, in this process.
pub fn live_webrtcbins() -> u64 {
    WEBRTCBINS.live()
}

/// ICE objects of those `webrtcbin`s not yet finalized. Equal to [`live_webrtcbins`] when the
/// rules above hold; larger when something kept an ICE object past its `webrtcbin`.
pub fn live_ice_agents() -> u64 {
    ICE_AGENTS.live()
}

/// Builds a `webrtcbin` named `name`: max-bundle, `latency_ms` of jitter buffer, sender reports
/// in capture time, a lighter send path ([`crate::send_path`]), SRTP on OpenSSL when installed
/// ([`crate::srtp`]), and an ICE agent that gathers
/// UDP candidates on `ice`'s addresses, with UPnP and ICE-TCP off.
pub fn new_webrtcbin(name: &str, latency_ms: u32, ice: &IceSettings) -> anyhow::Result<gst::Element> {
    crate::srtp::preload();
    let webrtc = gst::ElementFactory::make("webrtcbin").name(name).build()?;
    WEBRTCBINS.track(&webrtc);
    webrtc.set_property_from_str("bundle-policy", "max-bundle");
    webrtc.set_property("latency", latency_ms);
    crate::rtcp::report_capture_time(&webrtc);
    crate::send_path::streamline(&webrtc);
    crate::sctp::assign_association_ids(&webrtc);
    if let Some(stun) = ice.stun {
        webrtc.set_property("stun-server", stun);
    }
    for turn in ice.turn {
        if !webrtc.emit_by_name::<bool>("add-turn-server", &[turn]) {
            tracing::warn!(%turn, "webrtcbin refused TURN server");
        }
    }
    // A temporary reference: the webrtcbin holds its ICE object for as long as it lives, and
    // nothing else may (see the module docs).
    let agent: gst_webrtc::WebRTCICE = webrtc.property("ice-agent");
    ICE_AGENTS.track(&agent);
    no_upnp(&agent);
    // ICE-TCP would make every peer listen on a TCP port of every address (passive
    // candidates): listeners a stranger can reach for as long as the peer lives. Clients whose
    // UDP is blocked reach the server through TURN instead.
    agent.set_property("ice-tcp", false);
    for addr in ice.addresses {
        agent.emit_add_local_ip_address(&addr.to_string());
    }
    if let Some((min, max)) = ice.ports {
        agent.set_min_rtp_port(u32::from(min));
        agent.set_max_rtp_port(u32::from(max));
    }
    Ok(webrtc)
}

/// Switches off libnice's UPnP IGD discovery: no GUPnP context (HTTP listeners on every address,
/// SSDP multicast on the LAN) and no waiting for a router before gathering completes.
fn no_upnp(agent: &gst_webrtc::WebRTCICE) {
    let has_agent = agent.find_property("agent").is_some();
    let nice = has_agent.then(|| agent.property::<glib::Object>("agent"));
    match nice {
        Some(nice) if nice.find_property("upnp").is_some() => nice.set_property("upnp", false),
        _ => tracing::warn!("ICE agent has no libnice agent with a `upnp` property; UPnP may be on"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A webrtcbin gathering candidates against a STUN server that never answers (gathering then
    /// takes about 2 s), torn down at once: its ICE object must go with it. Had anything kept
    /// the ICE object, its thread would have completed gathering after the transports were
    /// freed: the segfault this module's docs describe (reproduced so, every run).
    #[test]
    fn ice_object_goes_with_its_webrtcbin_while_gathering() {
        gst::init().unwrap();
        let mute_stun = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let stun = format!("stun://{}", mute_stun.local_addr().unwrap());
        let loopback = [IpAddr::from([127, 0, 0, 1])];
        let settings = IceSettings { addresses: &loopback, stun: Some(&stun), ..Default::default() };
        for _ in 0..3 {
            let pipeline = gst::Pipeline::new();
            let webrtc = new_webrtcbin("webrtcbin", 50, &settings).unwrap();
            let agent = {
                let agent: gst_webrtc::WebRTCICE = webrtc.property("ice-agent");
                let nice: glib::Object = agent.property("agent");
                assert!(!nice.property::<bool>("upnp"), "UPnP must be off");
                agent.downgrade()
            };
            pipeline.add(&webrtc).unwrap();
            let sink = webrtc.request_pad_simple("sink_%u").unwrap();
            let transceiver: gst_webrtc::WebRTCRTPTransceiver = sink.property("transceiver");
            transceiver.set_codec_preferences(Some(&crate::codecs::vp8_caps()));
            drop((sink, transceiver));
            pipeline.set_state(gst::State::Playing).unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            let promise = gst::Promise::with_change_func(move |reply| {
                let offer =
                    reply.ok().flatten().and_then(|s| s.get::<gst_webrtc::WebRTCSessionDescription>("offer").ok());
                let _ = tx.send(offer);
            });
            webrtc.emit_by_name::<()>("create-offer", &[&None::<gst::Structure>, &promise]);
            let offer = rx.recv_timeout(Duration::from_secs(5)).unwrap().expect("an offer");
            webrtc.emit_by_name::<()>("set-local-description", &[&offer, &None::<gst::Promise>]);
            let gathering = webrtc.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state");
            crate::teardown::stop(pipeline.upcast_ref()).unwrap();
            drop((webrtc, pipeline));
            assert!(agent.upgrade().is_none(), "ICE object outlived its webrtcbin (gathering was {gathering:?})");
        }
    }
}
