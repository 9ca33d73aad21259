//! [`RoomMedia`]: a room's pipeline, its shared mixers and every participant's branches.
//!
//! Only the room task calls into it, so joins and leaves are serialized (1.22.0's aggregator
//! pad removal races when they are not). Link order matters and is the same everywhere:
//! a branch is started before a tee feeds it; on removal, tee pads feeding a branch are
//! released before it stops, and aggregator pads are released after their upstream stopped.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use gst::prelude::*;
use tessera_webrtc::codecs::Codec;
use tokio::sync::mpsc::UnboundedSender;

use super::audio_mix::AudioMix;
use super::egress::{OutputKey, RtpOutput};
use super::mixer::VideoMix;
use super::mixminus::{AudioFeed, AudioSource};
use super::overlay::Overlay;
use super::peer::{PeerBin, Session};
use super::stage::{PeerOverlays, border_strips};
use super::stats::VideoProgress;
use super::{MediaError, MediaEvent};
use crate::config::Config;
use crate::ids::ParticipantId;
use crate::layout::StagePlan;
use crate::protocol::Role;
use tessera_webrtc::mids::{MLine, MLineError};

/// A publisher's decoded video in the composite.
#[derive(Debug)]
pub(super) struct VideoInput {
    /// The compositor input (ghost pad on the video-mix bin).
    pub(super) pad: gst::GhostPad,
}

/// Everything the room's graph holds for one participant.
#[derive(Debug)]
pub(super) struct Peer {
    /// Publisher or viewer.
    pub(super) role: Role,
    /// The participant's own bin (webrtcbin, egress queues, decoders).
    pub(super) bin: PeerBin,
    /// The shared output and its pad feeding this peer's video (none before negotiation and
    /// in audio-only rooms).
    pub(super) video_feed: Option<(OutputKey, gst::GhostPad)>,
    /// What feeds the peer's outgoing audio.
    pub(super) audio_feed: AudioFeed,
    /// Set once video arrived.
    pub(super) video: Option<VideoInput>,
    /// Set once audio arrived.
    pub(super) audio: Option<AudioSource>,
    /// Label, badge and placeholder (publishers only).
    pub(super) overlays: Option<PeerOverlays>,
}

/// A room's media graph.
#[derive(Debug)]
pub struct RoomMedia {
    /// Settings shared by every room.
    pub(super) config: Arc<Config>,
    /// The room's pipeline.
    pub(super) pipeline: gst::Pipeline,
    /// Compositor and its encoders; none in audio-only rooms.
    pub(super) video: Option<VideoMix>,
    /// The full mix (for viewers and recordings) and its encoders.
    pub(super) audio: AudioMix,
    /// The payloaders shared by receivers of the composite and the full mix.
    pub(super) outputs: BTreeMap<OutputKey, RtpOutput>,
    /// Participants by id; ids grow with join order, so iteration is join order.
    pub(super) peers: BTreeMap<ParticipantId, Peer>,
    /// Recording branches by id.
    pub(super) recorders: BTreeMap<crate::recording::RecordingId, super::recorder::Recorder>,
    /// Where GStreamer callbacks post events for the room task.
    pub(super) events: UnboundedSender<MediaEvent>,
    /// What the composite shows, as the room's rules last said.
    pub(super) stage: StagePlan,
    /// The four strips of the speaker border.
    pub(super) border: Vec<Overlay>,
    /// Clients whose answer waits for ICE gathering to complete.
    pub(super) answering: std::collections::BTreeSet<ParticipantId>,
    /// JPEGs of the composite while some agent wants them.
    pub(super) snapshots: Option<super::snapshot::SnapshotBranch>,
    /// Latency recalculations, with the mixers' answers remembered within each.
    pub(super) latency: super::latency_memo::LatencyMemo,
}

/// Stops `element` (checked, a failure logged) and removes it from `pipeline`.
pub(super) fn stop_in(pipeline: &gst::Pipeline, element: &gst::Element) {
    if let Err(e) = tessera_webrtc::teardown::stop(element) {
        tracing::warn!(element = %element.name(), "failed to stop cleanly: {e}");
    }
    let _ = pipeline.remove(element);
}

impl RoomMedia {
    /// Builds and starts the pipeline of room `name`.
    pub fn new(name: &str, config: Arc<Config>, events: UnboundedSender<MediaEvent>) -> Result<Self, MediaError> {
        Self::build(name, config, events).map_err(MediaError::Pipeline)
    }

    fn build(name: &str, config: Arc<Config>, events: UnboundedSender<MediaEvent>) -> anyhow::Result<Self> {
        let pipeline = gst::Pipeline::builder().name(format!("room-{name}")).build();
        super::teardown::track(&pipeline);
        let audio = AudioMix::new("audio-mix", Some(Codec::Opus), &config)?;
        pipeline.add(&audio.bin)?;
        let video = if config.composite.video {
            let video = VideoMix::new(&config)?;
            pipeline.add(&video.bin)?;
            Some(video)
        } else {
            None
        };
        let latency = super::latency_memo::LatencyMemo::default();
        latency.watch(&audio.mixer_src());
        if let Some(video) = &video {
            latency.watch(&video.mixer_src());
        }
        pipeline.set_state(gst::State::Playing).context("starting room pipeline")?;
        let (peers, recorders) = (BTreeMap::new(), BTreeMap::new());
        let mut media = Self {
            config,
            pipeline,
            video,
            audio,
            outputs: BTreeMap::new(),
            peers,
            recorders,
            events,
            stage: StagePlan::default(),
            border: Vec::new(),
            answering: Default::default(),
            snapshots: None,
            latency,
        };
        media.border = border_strips(&media)?;
        Ok(media)
    }

    /// The pipeline's bus, for the room task to watch.
    pub fn bus(&self) -> gst::Bus {
        self.pipeline.bus().expect("pipelines have a bus")
    }

    /// Number of elements in the whole pipeline, recursively (for leak checks).
    pub fn element_count(&self) -> usize {
        self.pipeline.iterate_recurse().into_iter().count()
    }

    /// What the pipeline is made of: elements by factory (one `vp8enc` whatever the number of
    /// participants; no decoder for a viewer) and the inputs of its mixers.
    pub fn inventory(&self) -> super::PipelineInventory {
        let mut inventory = super::PipelineInventory::default();
        for element in self.pipeline.iterate_recurse().into_iter().flatten() {
            let Some(factory) = element.factory() else { continue };
            let name = factory.name().to_string();
            if name == "compositor" || name == "tesseramix" {
                inventory.mixer_inputs += element.sink_pads().len();
            }
            *inventory.by_factory.entry(name).or_default() += 1;
        }
        inventory.mix_minus = self.mix_minus_counts();
        inventory
    }

    /// Adds a participant: its webrtcbin and (publisher) overlays; starts the offer. What it
    /// receives is linked once its answer says in which codecs ([`RoomMedia::link_egress`]).
    /// An agent's branch is raw PCM instead ([`RoomMedia::add_agent`]); its socket gets the
    /// returned ends.
    pub fn add_peer(
        &mut self,
        id: ParticipantId,
        role: Role,
        session: Session,
    ) -> Result<Option<super::AgentIo>, MediaError> {
        if let Session::Agent { rate } = session {
            return self.add_agent(id, rate).map(Some);
        }
        let failed = |source| MediaError::Participant { participant: id, source };
        let bin = PeerBin::new(id, role, session, &self.config, self.events.clone()).map_err(failed)?;
        self.attach_peer(id, role, bin).map_err(failed)?;
        if role.has_tile() && self.video.is_some() {
            match PeerOverlays::new(self, id) {
                Ok(overlays) => self.peers.get_mut(&id).expect("attached").overlays = Some(overlays),
                Err(e) => {
                    self.remove_peer(id);
                    return Err(failed(e));
                }
            }
        }
        // A client that offers (WHIP, WHEP) sends its offer next; see `answerer`.
        if session == Session::Ws {
            let events = self.events.clone();
            self.peers.get_mut(&id).expect("attached").bin.create_offer(id, events);
        }
        Ok(None)
    }

    pub(super) fn attach_peer(&mut self, id: ParticipantId, role: Role, bin: PeerBin) -> anyhow::Result<()> {
        self.pipeline.add(&bin.bin)?;
        if let Err(e) = bin.bin.sync_state_with_parent() {
            bin.release_all();
            self.stop(bin.bin.upcast_ref());
            return Err(e.into());
        }
        let peer = Peer {
            role,
            bin,
            video_feed: None,
            audio_feed: AudioFeed::Pending,
            video: None,
            audio: None,
            overlays: None,
        };
        self.peers.insert(id, peer);
        Ok(())
    }

    /// Removes a participant and everything it fed or was fed by. Unknown ids are ignored.
    pub fn remove_peer(&mut self, id: ParticipantId) {
        let Some(mut peer) = self.peers.remove(&id) else { return };
        self.answering.remove(&id);
        // 1. Cut everything flowing into the peer.
        if let Some((key, pad)) = peer.video_feed.take() {
            self.unfeed_output(key, &pad);
        }
        let audio_feed = std::mem::replace(&mut peer.audio_feed, AudioFeed::Pending);
        self.unlink_audio(audio_feed);
        // 2. Stop the peer: no more pushes into the shared mixers.
        peer.bin.release_all();
        self.stop(peer.bin.bin.upcast_ref());
        // 3. Release the mixer inputs it fed.
        if let (Some(input), Some(video)) = (&peer.video, &self.video) {
            video.remove_input(&input.pad);
        }
        if let Some(audio) = peer.audio.take() {
            self.audio.remove_input(&audio.sink);
        }
        if let Some(overlays) = peer.overlays.take() {
            overlays.remove(self);
        }
        // Its state-change messages on the room's bus hold the webrtcbin until the room task has
        // read them: the last reference goes there, on the room's thread (see `media::webrtc`).
        drop(peer);
        super::memory::release_memory();
    }

    fn stop(&self, element: &gst::Element) {
        stop_in(&self.pipeline, element);
    }

    /// What `peer` has sent us so far.
    pub fn inbound(&self, peer: ParticipantId) -> Option<super::stats::InboundSnapshot> {
        self.peers.get(&peer).map(|p| p.bin.inbound.snapshot())
    }

    /// What `peer`'s inbound streams went through, as of the last `get-stats` reply.
    pub fn reception(&self, peer: ParticipantId) -> Option<super::ReceptionSnapshot> {
        self.peers.get(&peer).map(|p| p.bin.reception.snapshot())
    }

    /// Asks every peer's webrtcbin for its stats (read with [`RoomMedia::reception`]), unless
    /// media metrics are off.
    pub fn request_reception(&self) {
        if !self.config.metrics.media {
            return;
        }
        for p in self.peers.values() {
            if let Some(webrtc) = &p.bin.webrtc {
                p.bin.reception.request(webrtc);
            }
        }
    }

    /// Each publisher's audio level (dBFS) since the last call; `None` where no audio came.
    pub fn take_levels(&self) -> Vec<(ParticipantId, Option<f64>)> {
        self.peers.iter().filter(|(_, p)| p.role.has_tile()).map(|(id, p)| (*id, p.bin.inbound.take_level())).collect()
    }

    /// Sends a text message on `peer`'s DataChannel, if open.
    pub fn send_channel(&self, peer: ParticipantId, text: &str) {
        if let Some(p) = self.peers.get(&peer) {
            p.bin.send_channel(text);
        }
    }

    /// The composite's counters (none in an audio-only room, or without media metrics).
    pub fn composite(&self) -> Option<super::CompositeSnapshot> {
        self.video.as_ref().and_then(|v| v.counters.as_ref()).map(|c| c.snapshot())
    }

    /// Times the composite was late and skipped ahead so far (0 in an audio-only room).
    pub fn late_skips(&self) -> u64 {
        self.video.as_ref().map_or(0, |v| v.late.skips.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Whether this room mixes video (false: an audio-only room).
    pub fn mixes_video(&self) -> bool {
        self.video.is_some()
    }

    /// Every publisher's video so far: decoded frames and its stream's bytes (for stalled-video
    /// detection).
    pub fn video_progress(&self) -> Vec<(ParticipantId, VideoProgress)> {
        self.peers
            .iter()
            .filter(|(_, p)| p.role == Role::Publisher)
            .map(|(id, p)| {
                let s = p.bin.inbound.snapshot();
                (*id, VideoProgress { frames: s.frames, bytes: s.video_bytes })
            })
            .collect()
    }

    /// Sends our offer as `peer`'s local description.
    pub fn set_local_description(&mut self, peer: ParticipantId, offer: &gst_webrtc::WebRTCSessionDescription) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.bin.set_local_description(offer);
        }
    }

    /// Applies `peer`'s SDP answer and feeds them in the codecs it settled on; an error says
    /// why the peer cannot be served.
    pub fn set_remote_answer(&mut self, peer: ParticipantId, sdp: gst_sdp::SDPMessage) -> Result<(), String> {
        self.link_egress(peer, &sdp).map_err(|e| format!("{e:#}"))?;
        if let Some(p) = self.peers.get(&peer) {
            p.bin.set_remote_answer(peer, sdp, self.events.clone());
        }
        Ok(())
    }

    /// Adds one of `peer`'s ICE candidates; fails when its m-line is not in our offer.
    pub fn add_candidate(&self, peer: ParticipantId, mline: &MLine, candidate: &str) -> Result<(), MLineError> {
        let Some(p) = self.peers.get(&peer) else { return Ok(()) };
        let index = p.bin.mline_index(mline)?;
        if tessera_webrtc::ice::is_mdns(candidate) {
            tracing::debug!(participant = %peer, "mDNS candidate not used (its checks reach us)");
            return Ok(());
        }
        p.bin.add_candidate(index, candidate);
        Ok(())
    }
}

impl RoomMedia {
    /// Stops the pipeline: NULL, checked. The room task drops `self` next and waits on
    /// [`RoomMedia::pipeline_ref`] until the pipeline is freed.
    pub fn stop_pipeline(&self) -> Result<(), String> {
        for peer in self.peers.values() {
            peer.bin.release_all();
        }
        super::teardown::to_null(&self.pipeline)
    }

    /// A weak reference to the pipeline, to see it freed.
    pub fn pipeline_ref(&self) -> gst::glib::WeakRef<gst::Pipeline> {
        self.pipeline.downgrade()
    }
}

impl Drop for RoomMedia {
    fn drop(&mut self) {
        // Already NULL when the room task stopped it; this covers a room that failed to run.
        for peer in self.peers.values() {
            peer.bin.release_all();
        }
        let _ = tessera_webrtc::teardown::stop(self.pipeline.upcast_ref());
    }
}
