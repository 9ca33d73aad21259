//! The signaling protocol: every message a client and the server exchange over `/ws`.
//!
//! Messages are JSON objects tagged by `type` (camelCase). The server, the Rust client library
//! (`tessera-client`) and the browser client all follow these types; `docs/protocol.md`
//! documents them with an example session.

use serde::{Deserialize, Serialize};

use crate::ids::{ParticipantId, RoomId};
use crate::layout::{LayoutSpec, Rect, Size};
use crate::{ErrorCode, IceServer, VideoConstraints};

/// The largest text frame the server accepts, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// What a participant does in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// Sends video and audio, appears in the composite, receives the composite and mix-minus.
    Publisher,
    /// Receive-only: gets the composite and the full mix, costs no decoder or tile.
    Viewer,
    /// A bot on `/agent`: raw PCM in and out over a WebSocket, a tile of its own, no WebRTC
    /// (`docs/agents.md`).
    Agent,
}

impl Role {
    /// Whether this role has a tile in the composite and its own mix-minus (publishers and
    /// agents).
    pub fn has_tile(self) -> bool {
        matches!(self, Self::Publisher | Self::Agent)
    }
}

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ClientMessage {
    /// Enter a room (created on first join) with a display name and a role.
    Join {
        /// Room name, `[A-Za-z0-9_-]{1,64}`.
        room: String,
        /// Display name, 1–64 characters.
        name: String,
        /// Publisher or viewer.
        role: Role,
        /// An access token (JWT), required when the server has token secrets.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// The client's SDP answer to the server's offer.
    Answer {
        /// The SDP text.
        sdp: String,
    },
    /// A trickled ICE candidate of the client, naming its m-line by `sdpMid`, `sdpMLineIndex`
    /// or both (`sdpMid` wins, as in the WebRTC API); one of them is required.
    Ice {
        /// The `candidate:` line (an empty string means end of candidates).
        candidate: String,
        /// The `a=mid` of the m-line the candidate belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        /// Index of the m-line the candidate belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_m_line_index: Option<u32>,
    },
    /// Leave the room; the server then closes the socket.
    Leave,
    /// The client muted or unmuted its microphone or camera (drawn on its tile).
    Mute {
        /// Microphone muted.
        audio: bool,
        /// Camera off.
        video: bool,
    },
    /// Change the room's layout (refused with `layout_locked` when an administrator locked it).
    SetLayout {
        /// The new layout.
        layout: LayoutSpec,
    },
    /// A chat line for everyone in the room.
    Chat(ChatLine),
    /// A caption of what this participant says.
    Caption(CaptionLine),
}

/// A chat line for everyone in the room (at most [`MAX_TEXT_CHARS`] characters), as a
/// participant or an agent sends it ([`ClientMessage::Chat`], `AgentMessage::Chat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    /// The text.
    pub text: String,
}

/// A caption of what a participant says (speech recognition, an agent's speech), as a
/// participant or an agent sends it ([`ClientMessage::Caption`], `AgentMessage::Caption`);
/// partial captions are replaced by the next one until a final one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptionLine {
    /// The text.
    pub text: String,
    /// False while the sentence may still change.
    #[serde(rename = "final")]
    pub is_final: bool,
}

impl ClientMessage {
    /// The `type` tags a client may send, for telling an unknown type from a malformed one.
    pub const TYPES: [&'static str; 8] = ["join", "answer", "ice", "leave", "mute", "setLayout", "chat", "caption"];
}

/// The longest `chat` or `caption` text, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;

/// A participant as others see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantInfo {
    /// Server-assigned id.
    pub id: ParticipantId,
    /// Display name.
    pub name: String,
    /// Publisher or viewer.
    pub role: Role,
}

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ServerMessage {
    /// The join succeeded; lists everyone already in the room (the joiner excluded).
    Joined {
        /// The joiner's own id.
        participant_id: ParticipantId,
        /// The room joined.
        room: RoomId,
        /// The others in the room.
        participants: Vec<ParticipantInfo>,
        /// TURN (or STUN) servers the client should build its peer connection with, with
        /// credentials minted for this join; absent when the server configures none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
    },
    /// The server's SDP offer; the client answers with `answer`.
    Offer {
        /// The SDP text.
        sdp: String,
    },
    /// A trickled ICE candidate of the server, naming its m-line both ways: stacks that match
    /// candidates by mid alone (aiortc) and by index alone (webrtcbin) both find it.
    Ice {
        /// The `candidate:` line.
        candidate: String,
        /// The `a=mid` of the m-line (in our offer) the candidate belongs to.
        sdp_mid: String,
        /// Index of the m-line the candidate belongs to.
        sdp_m_line_index: u32,
    },
    /// Someone joined the room.
    ParticipantJoined {
        /// Who joined.
        participant: ParticipantInfo,
    },
    /// Someone left the room.
    ParticipantLeft {
        /// Who left.
        participant_id: ParticipantId,
    },
    /// The active speaker changed (`null` when nobody is).
    SpeakerChanged {
        /// The new speaker.
        participant_id: Option<ParticipantId>,
    },
    /// The room's layout changed (also sent right after `joined`).
    LayoutChanged {
        /// The layout now in force.
        layout: LayoutSpec,
    },
    /// A participant muted or unmuted.
    MuteChanged {
        /// Who.
        participant_id: ParticipantId,
        /// Microphone muted.
        audio: bool,
        /// Camera off.
        video: bool,
    },
    /// The room started being recorded (also sent on joining a room being recorded).
    RecordingStarted {
        /// The recording's id.
        recording_id: crate::ids::RecordingId,
    },
    /// A recording of the room stopped.
    RecordingStopped {
        /// The recording's id.
        recording_id: crate::ids::RecordingId,
    },
    /// The room runs on another server of the fleet: the server closes this connection, and the
    /// client opens `{url}/ws` (`ws`/`wss` for `http`/`https`) and sends the same `join` there.
    /// A later reconnect starts again at the server the client first used.
    Redirect {
        /// The owning server's public URL, e.g. `https://node-2.example.com`.
        url: String,
        /// The room asked for.
        room: RoomId,
    },
    /// Everyone in the room and their tiles, as the DataChannel's `participants` event; sent
    /// on the socket to agents, which have no DataChannel.
    Participants {
        /// The composite's size, the tiles' coordinate space.
        canvas: Size,
        /// Everyone, in join order.
        participants: Vec<ChannelParticipant>,
    },
    /// Publishers only: the most their video is worth sending, from the size of their tile
    /// (also on the `tessera` DataChannel); sent once connected and whenever it changes.
    VideoConstraints(VideoConstraints),
    /// A chat line from a participant (also on the `tessera` DataChannel).
    Chat(Said),
    /// A caption of what a participant says (also on the `tessera` DataChannel): show it over
    /// the video, replacing that participant's previous partial caption.
    Caption(Caption),
    /// Something the client sent or caused failed; only this client gets it.
    Error {
        /// Stable machine-readable code.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
}

impl ServerMessage {
    /// Shorthand for an [`ServerMessage::Error`].
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error { code, message: message.into() }
    }
}

/// A chat line as participants receive it ([`ServerMessage::Chat`], [`ChannelMessage::Chat`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Said {
    /// Who wrote it.
    pub from: ParticipantId,
    /// Their display name.
    pub name: String,
    /// The text.
    pub text: String,
}

/// A caption as participants receive it ([`ServerMessage::Caption`], [`ChannelMessage::Caption`]):
/// show it over the video, replacing that participant's previous partial caption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caption {
    /// Whose speech.
    pub from: ParticipantId,
    /// Their display name.
    pub name: String,
    /// The text.
    pub text: String,
    /// False while the sentence may still change.
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// A participant as the `tessera` DataChannel describes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelParticipant {
    /// Id.
    pub id: ParticipantId,
    /// Display name.
    pub name: String,
    /// Publisher or viewer.
    pub role: Role,
    /// Where their picture is in the composite (`null` when not shown).
    pub tile: Option<Rect>,
    /// The tile's stacking order: where tiles overlap (custom regions), the one with the
    /// higher `z` is on top. 0 outside custom layouts, and for viewers.
    #[serde(default)]
    pub z: i32,
}

/// A room event on each participant's `tessera` DataChannel (JSON text), so a client can map a
/// click on the composite to a participant without the WebSocket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ChannelMessage {
    /// Everyone in the room and their tiles; sent when the channel opens and on every change.
    Participants {
        /// The composite's size, the tiles' coordinate space.
        canvas: Size,
        /// Everyone, in join order.
        participants: Vec<ChannelParticipant>,
    },
    /// The active speaker changed.
    SpeakerChanged {
        /// The new speaker.
        participant_id: Option<ParticipantId>,
    },
    /// The layout changed.
    LayoutChanged {
        /// The layout now in force.
        layout: LayoutSpec,
    },
    /// A chat line (as [`ServerMessage::Chat`]).
    Chat(Said),
    /// A caption (as [`ServerMessage::Caption`]).
    Caption(Caption),
    /// Publishers only: as [`ServerMessage::VideoConstraints`].
    VideoConstraints(VideoConstraints),
}

#[cfg(test)]
mod tests;
