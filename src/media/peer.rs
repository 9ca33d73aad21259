//! One participant's `webrtcbin`, wrapped in a bin with the gated sink pads it is fed through.
//!
//! GStreamer callbacks here never touch room state: they post [`MediaEvent`]s to the room
//! task, which owns the bin. Each element is named `{kind}-{participant}`.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use gst::glib;
use gst::prelude::*;
use gst_webrtc::WebRTCRTPTransceiverDirection as Direction;
use tokio::sync::mpsc::UnboundedSender;

use super::MediaEvent;
use super::stats::InboundCounters;
use crate::config::Config;
use crate::ids::ParticipantId;
use crate::protocol::Role;
use tessera_webrtc::codecs::Codec;
use tessera_webrtc::dtls_cert;
use tessera_webrtc::mids::{self, MLine, MLineError};

/// A participant's bin: `webrtcbin` and the gated sink pads of its outgoing streams.
#[derive(Debug)]
pub struct PeerBin {
    /// The bin, named `peer-{participant}`.
    pub bin: gst::Bin,
    /// The participant's `webrtcbin` (none for an agent, whose media is raw PCM over its
    /// socket: see `media::agent`).
    pub webrtc: Option<gst::Element>,
    /// Sink ghost pad taking the composite's RTP in the negotiated codec (none in audio-only
    /// rooms).
    pub video_in: Option<gst::GhostPad>,
    /// Sink ghost pad taking the mix-minus or full mix's RTP in the negotiated codec (none
    /// for an ingest-only WHIP client).
    pub audio_in: Option<gst::GhostPad>,
    /// What this participant sends us.
    pub inbound: Arc<InboundCounters>,
    /// Losses, jitter, NACKs and PLIs of what they send us (`get-stats`, once a second).
    pub reception: Arc<super::reception::ReceptionCounters>,
    /// The `tessera` DataChannel carrying room events.
    channel: Option<gst_webrtc::WebRTCDataChannel>,
    /// The mid of each m-line of our offer, once it is the local description.
    mids: Vec<Option<String>>,
    /// Receive pads held until the room task links their decoders.
    held: Arc<Mutex<Held>>,
}

/// webrtcbin's receive pads blocked until their decoders are linked, and whether the peer is
/// being torn down (then no pad is blocked any more).
///
/// A blocked pad holds the stream lock of the jitter buffer feeding it. Setting the peer to
/// NULL deactivates that jitter buffer's pads first, which waits for the lock: with a block
/// still in place (a peer leaving before the room task linked its stream) the room's thread
/// waited forever (seen: the soak's 1,000th cycle hung so). So every block is released before
/// the peer stops, and none is added after.
#[derive(Debug, Default)]
struct Held {
    closing: bool,
    probes: Vec<(gst::Pad, gst::PadProbeId)>,
}

/// How a participant's session is negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// Tessera's own `/ws` protocol: the server offers.
    Ws,
    /// WHIP ingest: the client offers what it sends; nothing is sent to it.
    Whip,
    /// WHEP playback: the client offers to receive the composite and the full mix.
    Whep,
    /// An agent on `/agent`: raw PCM at this sample rate, no WebRTC (`media::agent`).
    Agent {
        /// Samples per second of its audio, both ways.
        rate: u32,
    },
}

/// The sink pads of a peer that receives, each a [`super::egress_gate`] on its own webrtcbin
/// sink pad with the codecs it may receive; returns them (video: none in audio-only rooms).
fn egress(
    bin: &gst::Bin,
    webrtc: &gst::Element,
    id: ParticipantId,
    role: Role,
    session: Session,
    video: bool,
    gate: &Arc<super::egress_gate::Gate>,
) -> anyhow::Result<(Option<gst::GhostPad>, gst::GhostPad)> {
    let direction = match role {
        Role::Publisher | Role::Agent => Direction::Sendrecv,
        Role::Viewer => Direction::Sendonly,
    };
    // Every mandatory codec is offered, or accepted in a client's offer whatever its payload
    // types; the negotiated choice decides what flows each way (see `egress`).
    let caps = |codecs: &[Codec]| match session {
        Session::Ws => Codec::offer_caps(codecs),
        Session::Whip | Session::Whep | Session::Agent { .. } => Codec::answer_caps(codecs),
    };
    let kinds = video.then(|| ("video_in", caps(&Codec::VIDEO), true));
    let mut pads = Vec::with_capacity(2);
    for (name, caps, nack) in kinds.into_iter().chain([("audio_in", caps(&Codec::AUDIO), false)]) {
        // Requested with caps, the transceiver has a kind, so a client's offer finds it for its
        // m-line of that kind whatever the order of its m-lines.
        let template = webrtc.pad_template("sink_%u").context("webrtcbin has no sink template")?;
        let sink = webrtc.request_pad(&template, None, Some(&caps)).context("requesting webrtcbin sink")?;
        let transceiver: gst_webrtc::WebRTCRTPTransceiver = sink.property("transceiver");
        transceiver.set_codec_preferences(Some(&caps));
        transceiver.set_direction(direction);
        transceiver.set_property("do-nack", nack);
        pads.push(super::egress_gate::expose(bin, &sink, name, gate, format!("{name} of {id}"))?);
    }
    let audio_in = pads.pop().expect("audio is always added");
    Ok((pads.pop(), audio_in))
}

impl PeerBin {
    /// Builds the bin for `id` negotiating as `session` says; `events` receives everything
    /// webrtcbin reports.
    pub fn new(
        id: ParticipantId,
        role: Role,
        session: Session,
        config: &Config,
        events: UnboundedSender<MediaEvent>,
    ) -> anyhow::Result<Self> {
        let bin = gst::Bin::builder().name(format!("peer-{id}")).build();
        let ice = tessera_webrtc::IceSettings {
            addresses: &config.ice.addresses,
            ports: config.ice.udp_ports.map(|p| (p.min, p.max)),
            stun: config.ice.stun.as_deref(),
            turn: &config.ice.turn,
        };
        let webrtc = tessera_webrtc::new_webrtcbin(&format!("webrtcbin-{id}"), config.media.jitter_ms, &ice)?;
        dtls_cert::use_ecdsa_certificate(&webrtc)?;
        bin.add(&webrtc)?;
        let gate: Arc<super::egress_gate::Gate> = Arc::default();
        let (video_in, audio_in) = match session {
            // An ingest client only sends: nothing flows to it.
            Session::Whip => {
                super::answerer::receive_only(&webrtc, config.composite.video)?;
                (None, None)
            }
            Session::Ws | Session::Whep => {
                super::audio_send::send_audio_unpaced(&webrtc);
                let (video, audio) = egress(&bin, &webrtc, id, role, session, config.composite.video, &gate)?;
                (video, Some(audio))
            }
            Session::Agent { .. } => anyhow::bail!("an agent's media is built by RoomMedia::add_agent"),
        };
        if session != Session::Ws {
            super::answerer::report_gathering(&webrtc, id, events.clone());
        }
        let inbound = Arc::new(InboundCounters::default());
        let held = Arc::default();
        connect_signals(&webrtc, id, events, inbound.clone(), Arc::clone(&held), Arc::clone(&gate));
        let reception = Arc::new(super::reception::ReceptionCounters::of(inbound.clone()));
        Ok(Self {
            bin,
            webrtc: Some(webrtc),
            video_in,
            audio_in,
            inbound,
            reception,
            channel: None,
            mids: Vec::new(),
            held,
        })
    }

    /// A bin without `webrtcbin` (an agent's), fed through `audio_in`.
    pub(super) fn without_webrtc(bin: gst::Bin, audio_in: gst::GhostPad, inbound: Arc<InboundCounters>) -> Self {
        let (channel, mids, held, reception) = (None, Vec::new(), Arc::default(), Arc::default());
        Self { bin, webrtc: None, video_in: None, audio_in: Some(audio_in), inbound, reception, channel, mids, held }
    }

    /// Creates the `tessera` DataChannel (webrtcbin must have left NULL) and starts creating the
    /// offer, which then carries it; the offer arrives as [`MediaEvent::OfferCreated`].
    pub fn create_offer(&mut self, id: ParticipantId, events: UnboundedSender<MediaEvent>) {
        let Some(webrtc) = &self.webrtc else { return };
        if self.channel.is_none() {
            self.channel = open_channel(webrtc, id, events.clone());
        }
        let promise = gst::Promise::with_change_func(move |reply| {
            let offer = match reply {
                Ok(Some(s)) => s
                    .get::<gst_webrtc::WebRTCSessionDescription>("offer")
                    .map_err(|e| format!("no offer in reply: {e}")),
                Ok(None) => Err("empty reply".to_owned()),
                Err(e) => Err(format!("{e:?}")),
            };
            // Before it is sent or set: 1.22's own fingerprint of our certificate is wrong.
            let offer = offer.and_then(|o| dtls_cert::with_certificate_fingerprint(&o).map_err(|e| e.to_string()));
            let _ = events.send(MediaEvent::OfferCreated { peer: id, offer });
        });
        webrtc.emit_by_name::<()>("create-offer", &[&None::<gst::Structure>, &promise]);
    }

    /// Applies our offer as the local description (after it was sent to the client).
    pub fn set_local_description(&mut self, offer: &gst_webrtc::WebRTCSessionDescription) {
        self.mids = mids::mids_of(offer.sdp());
        let Some(webrtc) = &self.webrtc else { return };
        webrtc.emit_by_name::<()>("set-local-description", &[offer, &None::<gst::Promise>]);
    }

    /// Applies the client's answer; the outcome arrives as [`MediaEvent::RemoteDescription`].
    pub fn set_remote_answer(&self, id: ParticipantId, sdp: gst_sdp::SDPMessage, events: UnboundedSender<MediaEvent>) {
        let Some(webrtc) = &self.webrtc else { return };
        let answer = gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Answer, sdp);
        let promise = gst::Promise::with_change_func(move |reply| {
            let result = match reply {
                Ok(Some(s)) if s.has_field("error") => {
                    let err = s.get::<glib::Error>("error").map(|e| e.to_string());
                    Err(err.unwrap_or_else(|_| "rejected".to_owned()))
                }
                Ok(_) => Ok(()),
                Err(e) => Err(format!("{e:?}")),
            };
            let _ = events.send(MediaEvent::RemoteDescription { peer: id, result });
        });
        webrtc.emit_by_name::<()>("set-remote-description", &[&answer, &promise]);
    }

    /// The mid of our offer's m-line `mline` (none before the offer is the local description).
    pub fn mid(&self, mline: u32) -> Option<String> {
        self.mids.get(mline as usize).cloned().flatten()
    }

    /// The index in our offer of the m-line a client's candidate names.
    pub fn mline_index(&self, mline: &MLine) -> Result<u32, MLineError> {
        mids::index_of(&self.mids, mline)
    }

    /// Adds a remote ICE candidate.
    pub fn add_candidate(&self, mline: u32, candidate: &str) {
        if let Some(webrtc) = &self.webrtc {
            webrtc.emit_by_name::<()>("add-ice-candidate", &[&mline, &candidate]);
        }
    }

    /// Sends a text message on the `tessera` DataChannel (dropped if it is not open).
    pub fn send_channel(&self, text: &str) {
        if let Some(channel) = &self.channel
            && channel.ready_state() == gst_webrtc::WebRTCDataChannelState::Open
            && let Err(e) = channel.send_string_full(Some(text))
        {
            tracing::debug!("DataChannel send failed: {e}");
        }
    }

    /// Releases `pad` once its decoder is linked (or could not be).
    pub fn release(&self, pad: &gst::Pad) {
        let released = {
            let mut held = self.held.lock().unwrap();
            let at = held.probes.iter().position(|(p, _)| p == pad);
            at.map(|i| held.probes.swap_remove(i))
        };
        if let Some((pad, probe)) = released {
            pad.remove_probe(probe);
        }
    }

    /// Releases every held receive pad and holds no new one: call before stopping the peer.
    pub fn release_all(&self) {
        let probes = {
            let mut held = self.held.lock().unwrap();
            held.closing = true;
            std::mem::take(&mut held.probes)
        };
        for (pad, probe) in probes {
            pad.remove_probe(probe);
        }
    }

    /// Asks the shared encoder for a keyframe on behalf of this receiver. The encoder's
    /// `min-force-key-unit-interval` merges requests from many receivers into one keyframe.
    pub fn request_keyframe(&self) {
        crate::metrics::get().keyframe_requests.inc();
        let event = gst_video::UpstreamForceKeyUnitEvent::builder().all_headers(true).build();
        if let Some(pad) = &self.video_in {
            pad.push_event(event);
        }
    }
}

/// Creates the `tessera` DataChannel (before the offer, so it is negotiated with it).
fn open_channel(
    webrtc: &gst::Element,
    id: ParticipantId,
    events: UnboundedSender<MediaEvent>,
) -> Option<gst_webrtc::WebRTCDataChannel> {
    let channel = webrtc.emit_by_name::<Option<gst_webrtc::WebRTCDataChannel>>(
        "create-data-channel",
        &[&"tessera", &None::<gst::Structure>],
    );
    match &channel {
        Some(c) => {
            c.connect_on_open(move |_| {
                let _ = events.send(MediaEvent::ChannelOpen { peer: id });
            });
        }
        None => tracing::warn!(participant = %id, "no DataChannel: webrtcbin refused to create it"),
    }
    channel
}

fn connect_signals(
    webrtc: &gst::Element,
    id: ParticipantId,
    events: UnboundedSender<MediaEvent>,
    inbound: Arc<InboundCounters>,
    held: Arc<Mutex<Held>>,
    gate: Arc<super::egress_gate::Gate>,
) {
    let tx = events.clone();
    webrtc.connect("on-ice-candidate", false, move |args| {
        let mline = args[1].get::<u32>().unwrap_or(0);
        if let Ok(candidate) = args[2].get::<String>() {
            let _ = tx.send(MediaEvent::LocalCandidate { peer: id, mline, candidate });
        }
        None
    });
    watch_first_rtcp(webrtc, id, events.clone());
    let tx = events.clone();
    webrtc.connect_pad_added(move |_, pad| {
        if pad.direction() != gst::PadDirection::Src {
            return;
        }
        inbound.watch_rtp(pad);
        // Hold the stream until the room task has built and linked its decoder (see `Held`).
        let mut held = held.lock().unwrap();
        if held.closing {
            return;
        }
        let probe = pad.add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, |_, _| gst::PadProbeReturn::Ok);
        if let Some(probe) = probe {
            held.probes.push((pad.clone(), probe));
            let _ = tx.send(MediaEvent::IncomingStream { peer: id, pad: pad.clone() });
        }
    });
    webrtc.connect_notify(Some("connection-state"), move |webrtc, _| {
        let state = webrtc.property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state");
        if state == gst_webrtc::WebRTCPeerConnectionState::Connected {
            gate.open();
        }
        let _ = events.send(MediaEvent::ConnectionState { peer: id, state });
    });
}

/// Posts [`MediaEvent::FirstRtcp`] when the first RTCP packet of the peer arrives (rtpbin's
/// `on-ssrc-active` fires for each sender of RTCP).
fn watch_first_rtcp(webrtc: &gst::Element, id: ParticipantId, events: UnboundedSender<MediaEvent>) {
    let Some(rtpbin) = webrtc.downcast_ref::<gst::Bin>().and_then(|bin| bin.by_name("rtpbin")) else {
        tracing::warn!(participant = %id, "webrtcbin has no rtpbin; no keyframe on the first RTCP");
        return;
    };
    let seen = std::sync::atomic::AtomicBool::new(false);
    rtpbin.connect("on-ssrc-active", false, move |_| {
        if !seen.swap(true, std::sync::atomic::Ordering::Relaxed) {
            let _ = events.send(MediaEvent::FirstRtcp { peer: id });
        }
        None
    });
}
