//! Mix-minus wiring around the room's one engine ([`super::mixengine`]): each publisher's (and
//! agent's) decoded audio is one input of the full mix, and each of them is a listener whose
//! own mix leaves the engine on their own pad.
//!
//! ```text
//! Opus listener (mixminus-pN):  engine minus_K ▶ tesseraopusenc (own, runs while N talks) ─▶ funnel ▶ rtpopuspay ▶ peer-pN
//!                               full mix's encode (shared) ──────────────────────────┘
//! G.711 listener:               engine minus_K (every frame) ▶ resample ▶ mulaw/alawenc ▶ pay ▶ peer-pN
//! agent:                        engine minus_K (every frame, raw) ▶ peer-pN's ear
//! ```
//!
//! The funnel's two gated inputs pass each frame from one encode only, as the engine's
//! [`Route`] says; the payloader then numbers and stamps one continuous stream. All of it runs
//! in the engine's thread, the send included: `webrtcbin` does not wait on the clock for
//! audio ([`super::audio_send`]) and its gated sink pad never blocks ([`super::egress_gate`]),
//! so a listener costs no thread and no wake-up of its own.

use std::sync::Arc;

use anyhow::Context;
use gst::prelude::*;
use tessera_webrtc::codecs::Codec;

use super::egress::OutputKey;
use super::ghost;
use super::mixengine::{Listen, Route, RouteCounts};
use super::mixer::parse_fragment;
use super::room_media::{RoomMedia, stop_in};
use crate::ids::ParticipantId;

/// What feeds a participant's outgoing audio.
#[derive(Debug)]
pub(super) enum AudioFeed {
    /// Not yet: the codecs are known once the description is negotiated.
    Pending,
    /// A viewer hears the full mix: the pad of the shared output feeding them.
    FullMix(OutputKey, gst::GhostPad),
    /// A publisher or agent hears everyone but themselves.
    MixMinus(Listener),
}

/// A publisher's decoded audio in the mix. The branch from its tee goes with its bin.
#[derive(Debug)]
pub(super) struct AudioSource {
    /// Ghost of the engine's input, on the mix's bin.
    pub(super) sink: gst::GhostPad,
}

/// Where a listener's mix goes after the engine.
#[derive(Debug)]
enum Branch {
    /// Encoded and payloaded in `bin` (`mixminus-pN`); for Opus, `shared` feeds the full
    /// mix's encode into it.
    Encoded { bin: gst::Bin, shared: Option<gst::GhostPad> },
    /// Raw, straight into the participant's bin (an agent's ear).
    Raw,
}

/// A participant's own mix: their pad on the engine and where it goes.
#[derive(Debug)]
pub(super) struct Listener {
    /// Ghost of the engine's `minus_N` pad, on the mix's bin.
    pad: gst::GhostPad,
    /// Which encode they take, frame by frame.
    route: Arc<Route>,
    branch: Branch,
}

impl Listener {
    /// What the route counted (own and shared frames, switches); an agent's raw mix is no
    /// encode, so it is never counted on its own one.
    pub(super) fn counts(&self) -> RouteCounts {
        let counts = self.route.counts();
        match self.branch {
            Branch::Encoded { .. } => counts,
            Branch::Raw => RouteCounts { on_own: 0, ..counts },
        }
    }
}

/// Exposes `target` (a funnel input, child of `bin`) as sink ghost pad `name`, passing only
/// the frames `keep` accepts (the others are dropped here, in the chain function: a pad probe
/// returning `Drop` on the funnel's inputs made 1.22 unref a NULL buffer on every frame).
/// `DISCONT` goes too: the merged stream is continuous.
fn gated(
    bin: &gst::Bin,
    target: &gst::Pad,
    name: &str,
    keep: impl Fn(&gst::BufferRef) -> bool + Send + Sync + 'static,
) -> anyhow::Result<gst::GhostPad> {
    let ghost = gst::GhostPad::builder(target.direction())
        .name(name)
        .chain_function(move |pad, parent, mut buffer| {
            if !keep(&buffer) {
                return Ok(gst::FlowSuccess::Ok);
            }
            if buffer.flags().contains(gst::BufferFlags::DISCONT) {
                buffer.make_mut().unset_flags(gst::BufferFlags::DISCONT);
            }
            gst::ProxyPad::chain_default(pad, parent, buffer)
        })
        .build();
    ghost::install(bin, &ghost, target)?;
    Ok(ghost)
}

/// `funnel` in a bin of its own whose two inputs pass each frame from one encode, as `route`
/// says: `own` and `shared` sink pads, a `src` pad.
fn merge(route: &Arc<Route>) -> anyhow::Result<gst::Bin> {
    let bin = gst::Bin::builder().name("merge").build();
    let funnel = gst::ElementFactory::make("funnel").build()?;
    bin.add(&funnel)?;
    let (r, s) = (route.clone(), route.clone());
    gated(&bin, &funnel.request_pad_simple("sink_%u").context("funnel pad")?, "own", move |b| r.takes_own(b.pts()))?;
    gated(&bin, &funnel.request_pad_simple("sink_%u").context("funnel pad")?, "shared", move |_| s.takes_shared())?;
    ghost::expose(&bin, &funnel.static_pad("src").context("funnel output")?, "src")?;
    Ok(bin)
}

/// `mixminus-pN`: `codec`'s encoder and payloader at `pt`, a `sink` for the engine's pad, a
/// `shared` input for the full mix's Opus encode (Opus only), and an `rtp` output.
pub(super) fn encoded_branch(
    id: ParticipantId,
    (codec, pt): OutputKey,
    route: &Arc<Route>,
    config: &crate::config::Config,
) -> anyhow::Result<gst::Bin> {
    let fragment = match codec {
        Codec::Opus => crate::pipelines::OPUS_ENCODER,
        Codec::Pcmu => crate::pipelines::PCMU_ENCODER,
        Codec::Pcma => crate::pipelines::PCMA_ENCODER,
        video => anyhow::bail!("{video} is not an audio codec"),
    };
    let bin = gst::Bin::builder().name(format!("mixminus-{id}")).build();
    let encoder = parse_fragment(fragment, true)?;
    if let Some(opusenc) = encoder.by_name("opusenc") {
        super::encoder::configure(&opusenc, codec, config);
    }
    let pay = super::egress::payloader(codec, pt)?;
    bin.add_many([encoder.upcast_ref(), &pay])?;
    let encoded = encoder.by_name("encoded").context("encoder fragment has no tee")?;
    let own = ghost::request(&encoder, &encoded, "src_%u", "own")?;
    ghost::expose(&bin, encoder.static_pad("sink").context("encoder takes no input")?.upcast_ref(), "sink")?;
    if codec == Codec::Opus {
        let merge = merge(route)?;
        bin.add(&merge)?;
        own.link(&merge.static_pad("own").context("merge input")?)?;
        merge.link(&pay)?;
        ghost::expose(&bin, &merge.static_pad("shared").context("merge input")?, "shared")?;
    } else {
        own.link(&pay.static_pad("sink").context("payloaders take input")?)?;
    }
    ghost::expose(&bin, &pay.static_pad("src").context("payloaders have output")?, "rtp")?;
    Ok(bin)
}

impl RoomMedia {
    /// Feeds `from`'s decoded audio into the full mix (and so into everyone else's), and tells
    /// the engine it is `from`'s own voice.
    pub(super) fn add_audio_source(&mut self, from: ParticipantId, tee: gst::Element) -> anyhow::Result<()> {
        let Some(peer) = self.peers.get(&from) else { return Ok(()) };
        let sink = self.audio.add_input(from)?;
        let what = format!("{from}'s audio into the mix");
        let src = match ghost::request_isolated(&peer.bin.bin, &tee, "src_%u", "tap-full", what) {
            Ok(src) => src,
            Err(e) => {
                self.audio.remove_input(&sink);
                return Err(e);
            }
        };
        if let Err(e) = src.link(&sink) {
            ghost::release(&peer.bin.bin, &tee, &src);
            self.audio.remove_input(&sink);
            return Err(e).with_context(|| format!("linking {from}'s audio into the mix"));
        }
        if let AudioFeed::MixMinus(listener) = &peer.audio_feed {
            self.audio.set_voice(&listener.pad, Some(&sink));
        }
        self.peers.get_mut(&from).expect("checked above").audio = Some(AudioSource { sink });
        Ok(())
    }

    /// `id`'s own mix, encoded as `key` says (none: raw), feeding `sink` (the participant's
    /// audio input), linked before any frame flows. On failure nothing is left behind.
    pub(super) fn new_listener(
        &mut self,
        id: ParticipantId,
        key: Option<OutputKey>,
        sink: &gst::GhostPad,
    ) -> anyhow::Result<Listener> {
        let listen = match key {
            Some((Codec::Opus, _)) => Listen::WhenTalking,
            _ => Listen::Always,
        };
        let (pad, route) = self.audio.add_listener(listen, &format!("minus-{id}"))?;
        let mut listener = Listener { pad, route, branch: Branch::Raw };
        let linked = match key {
            None => listener.pad.link(sink).map(|_| ()).map_err(anyhow::Error::from),
            Some(key) => self.link_encoded(id, key, &mut listener, sink),
        };
        if let Err(e) = linked {
            self.drop_listener(listener);
            return Err(e);
        }
        if let Some(audio) = self.peers.get(&id).and_then(|p| p.audio.as_ref()) {
            self.audio.set_voice(&listener.pad, Some(&audio.sink));
        }
        Ok(listener)
    }

    fn link_encoded(
        &mut self,
        id: ParticipantId,
        key: OutputKey,
        listener: &mut Listener,
        sink: &gst::GhostPad,
    ) -> anyhow::Result<()> {
        let bin = encoded_branch(id, key, &listener.route, &self.config)?;
        self.pipeline.add(&bin)?;
        listener.branch = Branch::Encoded { bin: bin.clone(), shared: None };
        bin.sync_state_with_parent()?;
        bin.static_pad("rtp").context("branch output")?.link(sink)?;
        listener.pad.link(&bin.static_pad("sink").context("branch input")?)?;
        if key.0 == Codec::Opus {
            let shared = self.audio.add_listener_share(&format!("shared-{id}"), &self.config)?;
            listener.branch = Branch::Encoded { bin: bin.clone(), shared: Some(shared.clone()) };
            shared.link(&bin.static_pad("shared").context("branch shared input")?)?;
        }
        Ok(())
    }

    /// Stops a listener's mix: the engine forgets them first, so nothing is pushed into a
    /// branch being stopped.
    pub(super) fn drop_listener(&mut self, listener: Listener) {
        self.audio.remove_listener(&listener.pad);
        if let Branch::Encoded { bin, shared } = listener.branch {
            if let Some(shared) = shared {
                self.audio.remove_listener_share(&shared);
            }
            stop_in(&self.pipeline, bin.upcast_ref());
        }
    }

    /// Whether the full mix's Opus encode ran on the last frame (someone heard it).
    pub fn full_mix_heard(&self) -> bool {
        self.audio.full_mix_heard()
    }

    /// Own and shared frames, and switches, over every listener in the room.
    pub fn mix_minus_counts(&self) -> RouteCounts {
        let mut total = RouteCounts::default();
        for peer in self.peers.values() {
            if let AudioFeed::MixMinus(listener) = &peer.audio_feed {
                total += listener.counts();
            }
        }
        total
    }
}
