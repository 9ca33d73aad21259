//! The media layer: one GStreamer pipeline per room, owned by the room task.
//!
//! ```text
//! peer-pN (publisher):  webrtcbin ─▶ vp8depay ▶ vp8dec ─────────────▶ video-mix (compositor ▶ vp8enc ▶ pay) ─▶ video-rtp tee ─┐
//!                                 ─▶ opusdepay ▶ tesseraopusdec ▶ audio-tee ─▶ audio-mix (tesseramix: full mix ▶ tesseraopusenc ▶ pay) ─▶ audio-rtp tee ─┤
//!                                                                       └─ minus pad of M (while M talks) ▶ mixminus-pM ─▶ peer-pM ◀─────┤
//! every peer:           video_in gate ◀── video-rtp tee;  audio_in gate ◀── own mix-minus | audio-rtp tee (egress_gate.rs) ◀┘
//! peer-pN (agent):      voice appsrc ▶ 48 kHz ▶ audio-tee (as a publisher's); ear appsink ◀ its raw mix-minus (agent.rs)
//! ```
//!
//! Nothing here talks to clients: [`RoomMedia`] turns [`MediaEvent`]s (posted by GStreamer
//! callbacks) into [`Notice`]s the room task acts on.

mod agent;
mod agent_image;
mod answerer;
mod audio_mix;
mod audio_send;
mod audio_timing;
mod composite_stats;
mod discard;
mod egress;
mod egress_gate;
mod encoder;
mod events;
mod ghost;
mod ingress;
mod late_frames;
mod latency_memo;
pub(crate) mod memory;
mod mix_latency;
mod mixengine;
mod mixer;
mod mixminus;
mod opus;
mod overlay;
mod peer;
mod reception;
mod recorder;
mod room_media;
mod size_guard;
mod snapshot;
mod stage;
pub(crate) mod stats;
pub(crate) mod teardown;

pub use stage::SPEAKER_BORDER;

pub use agent::{AgentIo, AgentVoice};
pub use agent_image::{DECODE_LIMIT, decode_image};
pub use composite_stats::CompositeSnapshot;
pub use mixengine::RouteCounts;
pub use mixer::MIN_KEYFRAME_INTERVAL;
pub use peer::Session;
pub use reception::ReceptionSnapshot;
pub use room_media::RoomMedia;
pub use snapshot::Snapshots;
pub use stats::{InboundRates, InboundSnapshot, VideoProgress};

use crate::ids::ParticipantId;

/// Something a GStreamer callback observed, posted to the room task.
#[derive(Debug)]
pub enum MediaEvent {
    /// `create-offer` finished.
    OfferCreated {
        /// Whose webrtcbin.
        peer: ParticipantId,
        /// The offer, or why there is none.
        offer: Result<gst_webrtc::WebRTCSessionDescription, String>,
    },
    /// `set-remote-description` finished.
    RemoteDescription {
        /// Whose webrtcbin.
        peer: ParticipantId,
        /// Ok, or webrtcbin's error.
        result: Result<(), String>,
    },
    /// webrtcbin gathered a local ICE candidate.
    LocalCandidate {
        /// Whose webrtcbin.
        peer: ParticipantId,
        /// m-line index.
        mline: u32,
        /// The `candidate:` line.
        candidate: String,
    },
    /// The peer's first RTCP packet arrived: its SRTP path is up at its end too.
    FirstRtcp {
        /// Whose webrtcbin.
        peer: ParticipantId,
    },
    /// webrtcbin exposed a receive pad; it is blocked until linked (see `PeerBin::release`).
    IncomingStream {
        /// Whose webrtcbin.
        peer: ParticipantId,
        /// The new src pad.
        pad: gst::Pad,
    },
    /// The peer connection changed state.
    ConnectionState {
        /// Whose webrtcbin.
        peer: ParticipantId,
        /// The new state.
        state: gst_webrtc::WebRTCPeerConnectionState,
    },
    /// A recording wrote its first keyframe.
    RecordingRunning {
        /// Which recording.
        id: crate::recording::RecordingId,
    },
    /// A recording's EOS reached its file: it is finalized.
    RecordingFinished {
        /// Which recording.
        id: crate::recording::RecordingId,
    },
    /// A participant's `tessera` DataChannel opened.
    ChannelOpen {
        /// Whose.
        peer: ParticipantId,
    },
    /// A publisher's decoded video (re)negotiated its size.
    VideoSize {
        /// Whose video.
        peer: ParticipantId,
        /// Width, height.
        size: crate::layout::Size,
        /// Pixel aspect ratio.
        par: (u32, u32),
    },
    /// `create-answer` finished (a client that offers).
    AnswerCreated {
        /// Whose webrtcbin.
        peer: ParticipantId,
        /// The answer, or why there is none.
        answer: Result<gst_webrtc::WebRTCSessionDescription, String>,
    },
    /// ICE gathering completed (a client that offers).
    GatheringComplete {
        /// Whose webrtcbin.
        peer: ParticipantId,
    },
}

/// What the room task must do after the media layer handled an event.
#[derive(Debug)]
pub enum Notice {
    /// Our answer to a client's offer, with every candidate, or why there is none.
    Answer {
        /// To whom.
        peer: ParticipantId,
        /// The SDP text.
        sdp: Result<String, String>,
    },
    /// Send this offer to the participant, then call [`RoomMedia::set_local_description`].
    Offer {
        /// To whom.
        peer: ParticipantId,
        /// The offer.
        offer: gst_webrtc::WebRTCSessionDescription,
    },
    /// Send this candidate to the participant.
    Candidate {
        /// To whom.
        peer: ParticipantId,
        /// m-line index.
        mline: u32,
        /// That m-line's mid in our offer.
        mid: String,
        /// The `candidate:` line.
        candidate: String,
    },
    /// The participant's answer was rejected; they stay until they send a valid one or leave.
    AnswerRejected {
        /// Whose answer.
        peer: ParticipantId,
        /// webrtcbin's reason.
        reason: String,
    },
    /// The participant's media failed; remove them and tell them why.
    Failed {
        /// Who failed.
        peer: ParticipantId,
        /// Why.
        reason: String,
    },
    /// The participant's peer connection ended on its side (its SCTP association was aborted
    /// or lost): remove them as if their socket had closed.
    Closed {
        /// Who.
        peer: ParticipantId,
    },
    /// A participant's DataChannel opened: send it the room's state.
    ChannelOpen {
        /// Whose.
        peer: ParticipantId,
    },
    /// A participant's peer connection is up (a keyframe was asked for them).
    Connected {
        /// Whose.
        peer: ParticipantId,
    },
    /// A publisher's video is an input of the composite now.
    VideoFlowing {
        /// Whose.
        peer: ParticipantId,
    },
    /// A publisher's decoded video (re)negotiated its size.
    VideoSize {
        /// Whose video.
        peer: ParticipantId,
        /// Width, height.
        size: crate::layout::Size,
        /// Pixel aspect ratio.
        par: (u32, u32),
    },
    /// A recording is writing.
    RecordingRunning {
        /// Which recording.
        id: crate::recording::RecordingId,
    },
    /// A recording is finalized; remove its branch.
    RecordingFinished {
        /// Which recording.
        id: crate::recording::RecordingId,
    },
    /// A recording failed (e.g. the disk is full); remove its branch, the room goes on.
    RecordingFailed {
        /// Which recording.
        id: crate::recording::RecordingId,
        /// Why.
        reason: String,
    },
    /// A shared element failed: the room cannot go on; end it so clients can rejoin.
    RoomFailed {
        /// Why.
        reason: String,
    },
}

/// Errors of the media layer, carrying the participant involved.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The room's pipeline could not be built or started.
    #[error("room pipeline: {0:#}")]
    Pipeline(anyhow::Error),
    /// A recording's branch could not be built or linked.
    #[error("recording {recording}: {source:#}")]
    Recording {
        /// Which recording.
        recording: crate::recording::RecordingId,
        /// What failed.
        source: anyhow::Error,
    },
    /// A participant's branch could not be built or linked.
    #[error("participant {participant}: {source:#}")]
    Participant {
        /// Who.
        participant: ParticipantId,
        /// What failed.
        source: anyhow::Error,
    },
}

/// What a room's pipeline is made of, for the REST API and tests.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineInventory {
    /// Elements by factory name, recursively (`vp8enc`, `opusdec`, `webrtcbin`, ...).
    pub by_factory: std::collections::BTreeMap<String, usize>,
    /// Sink pads of the `compositor` and the `tesseramix` engine: the decoded inputs being
    /// mixed, plus each mixer's own keep-alive source and drawn overlays.
    pub mixer_inputs: usize,
    /// Frames listeners took from their own Opus encode and from the full mix's shared one,
    /// and switches between the two, summed over the room's listeners.
    pub mix_minus: RouteCounts,
}

/// Checks that this process can build a room: every fixed chain parses and a `webrtcbin`
/// reaches READY. Used by `/readyz`.
pub fn readiness_check() -> anyhow::Result<()> {
    use gst::prelude::*;
    let config = crate::config::Config::default();
    let pipeline = gst::Pipeline::new();
    use crate::pipelines::{H264_ENCODER, PCMA_ENCODER, PCMU_ENCODER, RECORDER};
    // Encoders started on demand are checked here, not when their first receiver arrives.
    // H.264 output is optional (x264 is GPL, from plugins-ugly, see docs/interop.md): without
    // x264enc the server is ready and sends VP8; an H.264-only receiver is told why.
    for fragment in [RECORDER, PCMU_ENCODER, PCMA_ENCODER] {
        mixer::parse_fragment(fragment, false)?;
    }
    if encoder::available(tessera_webrtc::codecs::Codec::H264) {
        mixer::parse_fragment(H264_ENCODER, false)?;
    } else {
        tracing::warn!("x264enc (gstreamer1.0-plugins-ugly) is not installed: no H.264 output, VP8 only");
    }
    let video = mixer::VideoMix::new(&config)?;
    let audio = audio_mix::AudioMix::new("audio-mix", Some(tessera_webrtc::codecs::Codec::Opus), &config)?;
    let webrtc = tessera_webrtc::new_webrtcbin("readiness", 50, &tessera_webrtc::IceSettings::default())?;
    pipeline.add_many([video.bin.upcast_ref(), audio.bin.upcast_ref(), &webrtc])?;
    let ready = pipeline.set_state(gst::State::Ready);
    tessera_webrtc::teardown::stop(pipeline.upcast_ref()).map_err(anyhow::Error::msg)?;
    ready?;
    Ok(())
}
