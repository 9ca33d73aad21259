//! An agent's media (`/agent`): no WebRTC, raw PCM both ways.
//!
//! ```text
//! peer-pN (agent):  voice-pN appsrc (S16LE mono, agent's rate) ▶ audioresample ▶ 48 kHz ▶ audio-tee ─▶ full mix, every other mix-minus
//!                   ear-pN appsink ◀ agent's rate ◀ audioresample ◀ queue ◀── the engine's minus pad for N (everyone but N, raw)
//! ```
//!
//! The room's thread builds and removes the branch; the agent's socket task gets an
//! [`AgentIo`]: an [`AgentVoice`] to push its paced 20 ms frames into, and a channel of 20 ms
//! frames of its mix-minus. The mix-minus is a live `audiomixer` with a silent input, so a
//! frame comes every 20 ms whether anyone talks or not.

use std::sync::Arc;

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use gst::prelude::*;
use tokio::sync::mpsc;

use super::mixminus::AudioFeed;
use super::peer::PeerBin;
use super::room_media::RoomMedia;
use super::stats::InboundCounters;
use super::{MediaError, stage::PeerOverlays};
use crate::ids::ParticipantId;
use crate::protocol::Role;
use crate::protocol::agent::{FRAME_MS, frame_bytes};

/// Frames of the agent's mix-minus waiting for its socket (2 s); beyond, an agent that does
/// not read loses the newest frames, and the room never waits for it.
pub const EAR_QUEUE_FRAMES: usize = 100;

/// What an agent's socket task holds of its media.
#[derive(Debug)]
pub struct AgentIo {
    /// Where its voice goes.
    pub voice: AgentVoice,
    /// Its mix-minus, in 20 ms frames at its rate.
    pub ear: mpsc::Receiver<Bytes>,
}

/// The agent's voice: an `appsrc` fed one 20 ms frame per tick of the agent's pacer
/// (`agent::Pacer`), each stamped by a [`VoiceClock`].
#[derive(Debug)]
pub struct AgentVoice {
    src: gst_app::AppSrc,
    clock: VoiceClock,
}

impl AgentVoice {
    /// Plays one 20 ms frame now. Fails once the agent's branch is gone.
    pub fn push(&mut self, frame: &[u8]) -> Result<(), gst::FlowError> {
        let Some(now) = self.src.current_running_time() else {
            return Ok(()); // not playing yet: nothing to time it by
        };
        let mut buffer = gst::Buffer::from_slice(frame.to_vec());
        let b = buffer.get_mut().expect("new buffer");
        b.set_pts(self.clock.stamp(now));
        b.set_duration(FRAME);
        self.src.push_buffer(buffer).map(|_| ())
    }

    /// Says a tick passed with nothing to play: the next frame starts a new stretch.
    pub fn rest(&mut self) {
        self.clock.rest();
    }
}

const FRAME: gst::ClockTime = gst::ClockTime::from_mseconds(FRAME_MS as u64);

/// Timestamps of an agent's voice: one continuous timeline while it talks, so the mixer gets
/// whole, adjacent frames however the pacer's ticks jitter.
///
/// Stamped with the arrival time instead, each tick's jitter became a gap (silence inserted)
/// or an overlap (samples dropped) between frames, and a frame came too late for the mix
/// whenever its tick did: the mixer waits for a frame until 20 to 40 ms after the end of
/// the output frame that holds its start (its own 20 ms of latency plus its silent live
/// input's), and a stamp of "now" left none of that to spare at some phases. On the
/// timeline, a push may come up to [`VoiceClock::MAX_LATE`] after its slot and still be
/// mixed whole (`agent_pacing` saw two frames missing from a 5 s burst, the rest shifted).
#[derive(Debug, Default)]
struct VoiceClock {
    /// Where the next frame goes on the timeline, while the voice runs on.
    next: Option<gst::ClockTime>,
}

impl VoiceClock {
    /// How late after its slot a push may come and still be mixed whole.
    const MAX_LATE: gst::ClockTime = FRAME;

    /// The timestamp of a frame pushed at running time `now`: its slot on the timeline, or
    /// `now` when a new stretch starts (after a rest, or a stall the mixer has passed).
    fn stamp(&mut self, now: gst::ClockTime) -> gst::ClockTime {
        let pts = match self.next {
            Some(next) if now <= next + Self::MAX_LATE => next,
            Some(next) => {
                tracing::debug!(late = %(now - next), "agent voice: a frame came too late for its slot; a new stretch");
                now
            }
            None => now,
        };
        self.next = Some(pts + FRAME);
        pts
    }

    fn rest(&mut self) {
        self.next = None;
    }
}

/// Cuts a stream of bytes into frames of one size.
#[derive(Debug)]
struct Framer {
    size: usize,
    pending: BytesMut,
}

impl Framer {
    fn push(&mut self, data: &[u8]) -> Vec<Bytes> {
        self.pending.extend_from_slice(data);
        let mut frames = Vec::new();
        while self.pending.len() >= self.size {
            frames.push(self.pending.split_to(self.size).freeze());
        }
        frames
    }
}

fn pcm_caps(rate: u32) -> gst::Caps {
    gst::Caps::builder("audio/x-raw")
        .field("format", "S16LE")
        .field("rate", rate as i32)
        .field("channels", 1)
        .field("layout", "interleaved")
        .build()
}

fn make(factory: &str, name: String) -> anyhow::Result<gst::Element> {
    gst::ElementFactory::make(factory).name(name).build().with_context(|| format!("making {factory}"))
}

/// The agent's bin: voice into a 48 kHz tee, and its ear from `audio_in` to an appsink.
fn agent_bin(
    id: ParticipantId,
    rate: u32,
    ear: mpsc::Sender<Bytes>,
) -> anyhow::Result<(PeerBin, AgentVoice, gst::Element)> {
    let bin = gst::Bin::builder().name(format!("peer-{id}")).build();
    let src = gst_app::AppSrc::builder()
        .name(format!("voice-{id}"))
        .caps(&pcm_caps(rate))
        .format(gst::Format::Time)
        .is_live(true)
        .build();
    let convert = make("audioresample", format!("voice-resample-{id}"))?;
    let caps48 = make("capsfilter", format!("voice-caps-{id}"))?;
    caps48.set_property("caps", pcm_caps(48_000));
    let tee = make("tee", format!("audio-tee-{id}"))?;
    tee.set_property("allow-not-linked", true);
    let queue = make("queue", format!("ear-queue-{id}"))?;
    queue.set_property("max-size-buffers", 0u32);
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property("max-size-time", 200_000_000u64);
    queue.set_property_from_str("leaky", "downstream");
    let resample = make("audioresample", format!("ear-resample-{id}"))?;
    let sink = gst_app::AppSink::builder().name(format!("ear-{id}")).caps(&pcm_caps(rate)).sync(false).build();
    sink.set_property("max-buffers", 50u32);
    // Joining a running pipeline: no preroll to wait for (an async sink held the lone agent's
    // ear in PAUSED, no frame ever came).
    sink.set_property("async", false);
    sink.set_property("drop", true);
    let mut framer = Framer { size: frame_bytes(rate), pending: BytesMut::new() };
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                    for frame in framer.push(&map) {
                        // A full queue: the agent is not reading; it loses this frame.
                        let _ = ear.try_send(frame);
                    }
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    bin.add_many([src.upcast_ref(), &convert, &caps48, &tee, &queue, &resample, sink.upcast_ref()])?;
    gst::Element::link_many([src.upcast_ref(), &convert, &caps48, &tee])?;
    gst::Element::link_many([&queue, &resample, sink.upcast_ref()])?;
    let audio_in = super::ghost::expose(&bin, &queue.static_pad("sink").expect("queues take input"), "audio_in")?;
    let inbound = Arc::new(InboundCounters::default());
    inbound.watch_levels(&tee.static_pad("sink").expect("tees take input"));
    Ok((PeerBin::without_webrtc(bin, audio_in, inbound), AgentVoice { src, clock: VoiceClock::default() }, tee))
}

impl RoomMedia {
    /// Adds agent `id` speaking and hearing PCM at `rate`: its bin, its raw mix-minus (everyone
    /// already speaking is in it), its voice into every other mix, and its tile's overlays.
    pub fn add_agent(&mut self, id: ParticipantId, rate: u32) -> Result<AgentIo, MediaError> {
        let failed = |source| MediaError::Participant { participant: id, source };
        let (tx, ear) = mpsc::channel(EAR_QUEUE_FRAMES);
        let (bin, voice, tee) = agent_bin(id, rate, tx).map_err(failed)?;
        let audio_in = bin.audio_in.clone().expect("agents hear");
        self.attach_peer(id, Role::Agent, bin).map_err(failed)?;
        let built = self.new_listener(id, None, &audio_in).and_then(|listener| {
            self.peers.get_mut(&id).expect("attached").audio_feed = AudioFeed::MixMinus(listener);
            self.add_audio_source(id, tee)?;
            if self.video.is_some() {
                let overlays = PeerOverlays::new(self, id)?;
                self.peers.get_mut(&id).expect("attached").overlays = Some(overlays);
            }
            Ok(())
        });
        if let Err(e) = built {
            self.remove_peer(id);
            return Err(failed(e));
        }
        Ok(AgentIo { voice, ear })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_voice_runs_on_one_timeline_through_jitter() {
        let ms = gst::ClockTime::from_mseconds;
        let mut clock = VoiceClock::default();
        assert_eq!(clock.stamp(ms(1000)), ms(1000), "a stretch starts now");
        // Ticks 7 ms late, then 3 ms early, then three at once after a stall: adjacent frames.
        assert_eq!(clock.stamp(ms(1027)), ms(1020));
        assert_eq!(clock.stamp(ms(1037)), ms(1040));
        for (pushed, slot) in [(1075, 1060), (1075, 1080), (1076, 1100)] {
            assert_eq!(clock.stamp(ms(pushed)), ms(slot));
        }
        // Later than a frame after its slot: the mixer has passed it; start again from now.
        assert_eq!(clock.stamp(ms(1200)), ms(1200));
        clock.rest();
        assert_eq!(clock.stamp(ms(1230)), ms(1230), "after a rest, a new stretch");
    }

    #[test]
    fn frames_are_cut_exactly() {
        let mut f = Framer { size: 640, pending: BytesMut::new() };
        assert!(f.push(&[0; 600]).is_empty());
        let frames = f.push(&[1; 1400]);
        assert_eq!(frames.iter().map(Bytes::len).collect::<Vec<_>>(), [640, 640, 640]);
        assert_eq!(f.pending.len(), 80);
    }
}
