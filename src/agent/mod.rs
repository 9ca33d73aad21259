//! AI agents and bots as participants (`GET /agent`, `docs/agents.md`): the rules of an agent's
//! socket, pure. [`params`] checks the query it connects with; an [`AgentSession`] turns each
//! frame into an [`AgentStep`] for the socket glue (`http/agent.rs`) to carry out, and every bad
//! frame into an `error` for that agent alone. The [`Pacer`] plays its audio in real time.

mod pacer;

use std::time::Instant;

use bytes::Bytes;

pub use pacer::{MAX_QUEUED_AUDIO, Offered, Pacer};

use crate::access::rate::Bucket;
use crate::ids::{RoomId, validate_name};
use crate::protocol::agent::{AGENT_RATES, AgentMessage, MAX_FRAMES_PER_SECOND, frame_bytes};
use crate::protocol::{CaptionLine, ChatLine, ErrorCode, ServerMessage};
use crate::signaling::{CAPTION_RATE, CHAT_RATE, PeerCommand, SignalingError};

/// The largest image an agent may show as its tile.
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;
/// `snapshot` requests an agent may make: (per second, burst).
const SNAPSHOT_RATE: (f64, f64) = (MAX_FRAMES_PER_SECOND as f64, MAX_FRAMES_PER_SECOND as f64);
/// Refused frames answered with an `error`: (per second, burst); beyond, they are dropped
/// unanswered, so a flood of bad frames is not answered by a flood of errors.
const ERRORS_RATE: (f64, f64) = (5.0, 20.0);

/// The query string of `GET /agent`, as sent.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct AgentQuery {
    /// The room to join.
    pub room: Option<String>,
    /// The agent's display name.
    pub name: Option<String>,
    /// Sample rate of its audio both ways (default 16000).
    pub rate: Option<String>,
    /// Snapshots of the composite per second (0, the default, to 5).
    pub frames: Option<String>,
    /// An access token, where the server requires them.
    pub token: Option<String>,
}

/// A checked [`AgentQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentParams {
    /// The room.
    pub room: RoomId,
    /// The display name.
    pub name: String,
    /// Samples per second, one of [`AGENT_RATES`].
    pub rate: u32,
    /// Snapshots per second (0 to [`MAX_FRAMES_PER_SECOND`]).
    pub frames: u32,
    /// The token as sent, not yet verified.
    pub token: Option<String>,
}

/// Checks an agent's query; the error is the code and message it is told before the socket
/// closes.
pub fn params(q: AgentQuery) -> Result<AgentParams, (ErrorCode, String)> {
    let room = RoomId::parse(q.room.as_deref().unwrap_or_default())
        .map_err(|_| (ErrorCode::InvalidRoom, SignalingError::InvalidRoom.to_string()))?;
    let name = validate_name(q.name.as_deref().unwrap_or("agent"))
        .map_err(|_| (ErrorCode::InvalidName, SignalingError::InvalidName.to_string()))?;
    let rate = match q.rate.as_deref() {
        None => AGENT_RATES[0],
        Some(r) => r.parse().ok().filter(|r| AGENT_RATES.contains(r)).ok_or_else(|| {
            (
                ErrorCode::InvalidRate,
                format!("rate must be one of {AGENT_RATES:?}, not {:?}", r.chars().take(16).collect::<String>()),
            )
        })?,
    };
    let frames = match q.frames.as_deref() {
        None => 0,
        Some(f) => f.parse().ok().filter(|f| *f <= MAX_FRAMES_PER_SECOND).ok_or_else(|| {
            (ErrorCode::InvalidMessage, format!("frames must be 0 to {MAX_FRAMES_PER_SECOND} snapshots per second"))
        })?,
    };
    Ok(AgentParams { room, name, rate, frames, token: q.token })
}

/// What the socket glue does with one frame.
#[derive(Debug)]
pub enum AgentStep {
    /// Nothing.
    Nothing,
    /// Send this to the agent.
    Reply(ServerMessage),
    /// Forward to the room (chat, caption).
    Room(PeerCommand),
    /// Queue this 20 ms frame in the [`Pacer`].
    Audio(Bytes),
    /// Empty the [`Pacer`].
    ClearAudio,
    /// Send the agent one snapshot of the composite.
    Snapshot,
    /// Show this image (JPEG or PNG, not yet decoded) as the agent's tile.
    Image(Bytes),
    /// Leave the room.
    Leave,
}

/// The state of one agent's socket.
#[derive(Debug)]
pub struct AgentSession {
    /// Bytes of one audio frame at the agent's rate.
    frame: usize,
    /// The next binary frame is an image (`{"type":"image"}` came).
    awaiting_image: bool,
    chat: Bucket,
    caption: Bucket,
    snapshot: Bucket,
    errors: Bucket,
}

impl AgentSession {
    /// A session for audio at `rate`.
    pub fn new(rate: u32) -> Self {
        let bucket = |(per_sec, burst): (f64, f64)| Bucket::new(per_sec, burst);
        Self {
            frame: frame_bytes(rate),
            awaiting_image: false,
            chat: bucket(CHAT_RATE),
            caption: bucket(CAPTION_RATE),
            snapshot: bucket(SNAPSHOT_RATE),
            errors: bucket(ERRORS_RATE),
        }
    }

    /// An `error` for the agent, unless it has had too many lately.
    pub fn refuse(&mut self, code: ErrorCode, message: impl Into<String>, now: Instant) -> AgentStep {
        match self.errors.take(now) {
            true => AgentStep::Reply(ServerMessage::error(code, message)),
            false => AgentStep::Nothing,
        }
    }

    /// A binary frame: audio, or the image announced before it.
    pub fn on_binary(&mut self, data: Bytes, now: Instant) -> AgentStep {
        if std::mem::take(&mut self.awaiting_image) {
            if data.len() > MAX_IMAGE_BYTES {
                let why = format!("an image of {} bytes is over the {MAX_IMAGE_BYTES}-byte limit", data.len());
                return self.refuse(ErrorCode::InvalidImage, why, now);
            }
            return AgentStep::Image(data);
        }
        if data.len() != self.frame {
            let why = format!(
                "an audio frame is {} bytes (20 ms of 16-bit mono PCM at the rate chosen), not {}",
                self.frame,
                data.len()
            );
            return self.refuse(ErrorCode::InvalidAudioFrame, why, now);
        }
        AgentStep::Audio(data)
    }

    /// A text frame: one [`AgentMessage`].
    pub fn on_text(&mut self, text: &str, now: Instant) -> AgentStep {
        if std::mem::take(&mut self.awaiting_image) {
            return self.refuse(
                ErrorCode::ExpectedBinary,
                "`image` must be followed by a binary frame (JPEG or PNG)",
                now,
            );
        }
        let msg = match decode(text) {
            Ok(msg) => msg,
            Err(e) => return self.refuse(e.code(), e.to_string(), now),
        };
        let limited = |bucket: &mut Bucket, what: &str, (per_sec, burst): (f64, f64)| {
            (!bucket.take(now)).then(|| format!("too many {what} messages (at most {burst} at once, then {per_sec} per second); this one was ignored"))
        };
        let checked = |text: String| crate::signaling::validate_text(text);
        let step = match msg {
            AgentMessage::Chat(ChatLine { text }) => match limited(&mut self.chat, "chat", CHAT_RATE) {
                Some(why) => Err((ErrorCode::RateLimited, why)),
                None => {
                    checked(text).map(|t| AgentStep::Room(PeerCommand::Chat(t))).map_err(|e| (e.code(), e.to_string()))
                }
            },
            AgentMessage::Caption(CaptionLine { text, is_final }) => {
                match limited(&mut self.caption, "caption", CAPTION_RATE) {
                    Some(why) => Err((ErrorCode::RateLimited, why)),
                    None => checked(text)
                        .map(|text| AgentStep::Room(PeerCommand::Caption { text, is_final }))
                        .map_err(|e| (e.code(), e.to_string())),
                }
            }
            AgentMessage::ClearAudio => Ok(AgentStep::ClearAudio),
            AgentMessage::Snapshot => match limited(&mut self.snapshot, "snapshot", SNAPSHOT_RATE) {
                Some(why) => Err((ErrorCode::RateLimited, why)),
                None => Ok(AgentStep::Snapshot),
            },
            AgentMessage::Image => {
                self.awaiting_image = true;
                Ok(AgentStep::Nothing)
            }
            AgentMessage::Leave => Ok(AgentStep::Leave),
        };
        step.unwrap_or_else(|(code, why)| self.refuse(code, why, now))
    }
}

/// The width and height a baseline or progressive JPEG declares (its SOF segment).
pub fn jpeg_size(jpeg: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 9 < jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if matches!(marker, 0xC0..=0xC3) {
            let h = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]);
            let w = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]);
            return Some((u32::from(w), u32::from(h)));
        }
        i += 2 + len;
    }
    None
}

/// The text frame sent before a snapshot's JPEG.
pub fn snapshot_header(jpeg: &[u8]) -> crate::protocol::agent::SnapshotHeader {
    let (width, height) = jpeg_size(jpeg).unwrap_or_default();
    crate::protocol::agent::SnapshotHeader {
        kind: "snapshot".into(),
        format: "image/jpeg".into(),
        width,
        height,
        bytes: jpeg.len(),
    }
}

/// Parses a text frame, telling malformed JSON, unknown types and bad fields apart.
fn decode(text: &str) -> Result<AgentMessage, SignalingError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| SignalingError::BadJson(e.to_string()))?;
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or_else(|| SignalingError::InvalidMessage("missing string field `type`".into()))?;
    if !AgentMessage::TYPES.contains(&kind) {
        return Err(SignalingError::UnknownType(kind.chars().take(64).collect()));
    }
    serde_json::from_value(value).map_err(|e| SignalingError::InvalidMessage(e.to_string()))
}

#[cfg(test)]
mod tests;
