//! How a test peer joins: its role, what it publishes and what it accepts.

use std::sync::Arc;

use tessera_protocol::Role;
use tessera_webrtc::codecs::Codec;

use crate::clip::{ClipLadder, EncodedClip};

/// A solid-colour test video.
#[derive(Debug, Clone)]
pub struct VideoSpec {
    /// Solid colour, RGB.
    pub rgb: [u8; 3],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

/// The video a publisher sends.
#[derive(Debug, Clone)]
pub enum VideoSource {
    /// A solid colour, encoded live.
    Solid(VideoSpec),
    /// A pre-encoded VP8 clip, replayed in a loop (nearly free to send).
    Clip(Arc<EncodedClip>),
    /// The same scene pre-encoded at several sizes: the largest is replayed, or, following the
    /// server's `videoConstraints`, the smallest that fills the tile.
    Ladder(Arc<ClipLadder>),
    /// Black, turning white for 100 ms every second: marks for A/V sync checks, aligned with
    /// [`AudioSource::Beep`] (see [`crate::sources`]).
    Flash(VideoSpec),
}

/// The audio a publisher sends.
#[derive(Debug, Clone)]
pub enum AudioSource {
    /// A sine tone at this frequency in Hz, encoded live, at -10 dBFS.
    Tone(f64),
    /// A sine tone at `hz` with amplitude `volume` (0–1).
    ToneAt {
        /// Frequency in Hz.
        hz: f64,
        /// Amplitude, 0–1.
        volume: f64,
    },
    /// A pre-encoded Opus clip, replayed in a loop.
    Clip(Arc<EncodedClip>),
    /// Silence with a 100 ms tone at this frequency every second, aligned with
    /// [`VideoSource::Flash`].
    Beep(f64),
}

/// How a test peer joins.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// Room to join.
    pub room: String,
    /// Display name.
    pub name: String,
    /// Publisher or viewer.
    pub role: Role,
    /// Video to publish (publishers only).
    pub video: Option<VideoSource>,
    /// Audio to publish (publishers only).
    pub audio: Option<AudioSource>,
    /// Decode what arrives (frames and samples for analysis); when false, only count RTP
    /// packets and keyframes, which costs next to nothing.
    pub decode: bool,
    /// Access token sent with `join` (servers with token secrets require one).
    pub token: Option<String>,
    /// The only video codec this peer accepts, and publishes in (VP8 or H.264).
    pub video_codec: Codec,
    /// The only audio codec this peer accepts, and publishes in (Opus, PCMU or PCMA).
    pub audio_codec: Codec,
    /// Follow the server's `videoConstraints` (scale, frame rate and bitrate of live video, the
    /// rung of a clip ladder); false sends as a client that ignores them.
    pub follow_constraints: bool,
}

impl PeerOptions {
    /// The same peer accepting and publishing only `video` and `audio`.
    pub fn with_codecs(self, video: Codec, audio: Codec) -> Self {
        Self { video_codec: video, audio_codec: audio, ..self }
    }

    /// A publisher of a 320x180@30 solid colour and a sine tone.
    pub fn publisher(room: &str, name: &str, rgb: [u8; 3], tone_hz: f64) -> Self {
        Self {
            room: room.into(),
            name: name.into(),
            role: Role::Publisher,
            video: Some(VideoSource::Solid(VideoSpec { rgb, width: 320, height: 180, fps: 30 })),
            audio: Some(AudioSource::Tone(tone_hz)),
            decode: true,
            token: None,
            video_codec: Codec::Vp8,
            audio_codec: Codec::Opus,
            follow_constraints: true,
        }
    }

    /// A receive-only viewer that decodes what it gets.
    pub fn viewer(room: &str, name: &str) -> Self {
        Self {
            room: room.into(),
            name: name.into(),
            role: Role::Viewer,
            video: None,
            audio: None,
            decode: true,
            token: None,
            video_codec: Codec::Vp8,
            audio_codec: Codec::Opus,
            follow_constraints: true,
        }
    }
}
