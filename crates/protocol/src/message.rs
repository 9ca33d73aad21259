//! The signaling protocol: every message a client and the server exchange over `/ws`.
//!
//! Messages are JSON objects tagged by `type` (camelCase). The server, the Rust client library
//! (`tessera-client`) and the browser client all follow these types; `docs/protocol.md`
//! documents them with an example session.

use serde::{Deserialize, Serialize};

use crate::ids::{ParticipantId, RoomId};
use crate::layout::{LayoutSpec, Rect, Size};

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
    /// A trickled ICE candidate of the client.
    Ice {
        /// The `candidate:` line (an empty string means end of candidates).
        candidate: String,
        /// Index of the m-line the candidate belongs to.
        sdp_m_line_index: u32,
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
}

impl ClientMessage {
    /// The `type` tags a client may send, for telling an unknown type from a malformed one.
    pub const TYPES: [&'static str; 6] = ["join", "answer", "ice", "leave", "mute", "setLayout"];
}

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
    },
    /// The server's SDP offer; the client answers with `answer`.
    Offer {
        /// The SDP text.
        sdp: String,
    },
    /// A trickled ICE candidate of the server.
    Ice {
        /// The `candidate:` line.
        candidate: String,
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
}

/// The stable error codes of [`ServerMessage::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON (or not text).
    BadJson,
    /// The JSON had a `type` the server does not know.
    UnknownType,
    /// A known message with missing or wrong-typed fields.
    InvalidMessage,
    /// A message that needs a joined session came before `join`.
    NotJoined,
    /// A second `join` on one socket.
    AlreadyJoined,
    /// The room name is not `[A-Za-z0-9_-]{1,64}`.
    InvalidRoom,
    /// The display name is empty, too long or has control characters.
    InvalidName,
    /// The SDP answer could not be parsed or was rejected.
    InvalidSdp,
    /// The ICE candidate was rejected.
    InvalidCandidate,
    /// A frame larger than [`MAX_MESSAGE_BYTES`].
    MessageTooLarge,
    /// The participant's media failed (bad stream, decoder error); the participant is removed.
    MediaError,
    /// No media arrived from this publisher for the media timeout; they are removed.
    MediaTimeout,
    /// An administrator removed this participant.
    Kicked,
    /// An administrator closed the room.
    RoomClosed,
    /// An administrator locked the room's layout.
    LayoutLocked,
    /// A layout that is not usable (e.g. custom regions outside the canvas).
    InvalidLayout,
    /// Too many `setLayout` or `mute` messages in a short time; this one was ignored.
    RateLimited,
    /// The server is shutting down.
    ServerShutdown,
    /// An unexpected server-side failure.
    InternalError,
    /// The join carried no valid access token (missing, bad signature, expired, wrong
    /// algorithm).
    Unauthorized,
    /// A valid token that does not allow this join (another room, a viewer token joining as
    /// a publisher).
    Forbidden,
    /// The server has its maximum number of rooms; no new room is created.
    ServerFull,
    /// The room has its maximum number of participants.
    RoomFull,
    /// The connection did not join a room in time and is closed.
    JoinTimeout,
    /// A `setLayout` from a participant who may not change the layout (a viewer, or a
    /// publisher whose token does not allow it).
    LayoutForbidden,
}

impl ErrorCode {
    /// Every code, in declaration order (clients can check they have a message for each).
    pub const ALL: &[ErrorCode] = &[
        Self::BadJson,
        Self::UnknownType,
        Self::InvalidMessage,
        Self::NotJoined,
        Self::AlreadyJoined,
        Self::InvalidRoom,
        Self::InvalidName,
        Self::InvalidSdp,
        Self::InvalidCandidate,
        Self::MessageTooLarge,
        Self::MediaError,
        Self::MediaTimeout,
        Self::Kicked,
        Self::RoomClosed,
        Self::LayoutLocked,
        Self::InvalidLayout,
        Self::RateLimited,
        Self::ServerShutdown,
        Self::InternalError,
        Self::Unauthorized,
        Self::Forbidden,
        Self::ServerFull,
        Self::RoomFull,
        Self::JoinTimeout,
        Self::LayoutForbidden,
    ];

    /// The code as it appears on the wire (`bad_json`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::BadJson => "bad_json",
            Self::UnknownType => "unknown_type",
            Self::InvalidMessage => "invalid_message",
            Self::NotJoined => "not_joined",
            Self::AlreadyJoined => "already_joined",
            Self::InvalidRoom => "invalid_room",
            Self::InvalidName => "invalid_name",
            Self::InvalidSdp => "invalid_sdp",
            Self::InvalidCandidate => "invalid_candidate",
            Self::MessageTooLarge => "message_too_large",
            Self::MediaError => "media_error",
            Self::MediaTimeout => "media_timeout",
            Self::Kicked => "kicked",
            Self::RoomClosed => "room_closed",
            Self::LayoutLocked => "layout_locked",
            Self::InvalidLayout => "invalid_layout",
            Self::RateLimited => "rate_limited",
            Self::ServerShutdown => "server_shutdown",
            Self::InternalError => "internal_error",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::ServerFull => "server_full",
            Self::RoomFull => "room_full",
            Self::JoinTimeout => "join_timeout",
            Self::LayoutForbidden => "layout_forbidden",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_client(msg: ClientMessage) {
        let json = serde_json::to_string(&msg).unwrap();
        assert_eq!(serde_json::from_str::<ClientMessage>(&json).unwrap(), msg, "{json}");
    }

    fn round_trip_server(msg: ServerMessage) -> serde_json::Value {
        let json = serde_json::to_string(&msg).unwrap();
        assert_eq!(serde_json::from_str::<ServerMessage>(&json).unwrap(), msg, "{json}");
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn client_messages_round_trip() {
        round_trip_client(ClientMessage::Join {
            room: "r1".into(),
            name: "Ada".into(),
            role: Role::Publisher,
            token: None,
        });
        round_trip_client(ClientMessage::Answer { sdp: "v=0\r\n".into() });
        round_trip_client(ClientMessage::Ice { candidate: "candidate:1".into(), sdp_m_line_index: 1 });
        round_trip_client(ClientMessage::Leave);
        round_trip_client(ClientMessage::Mute { audio: true, video: false });
        round_trip_client(ClientMessage::SetLayout { layout: LayoutSpec::default() });
    }

    #[test]
    fn client_wire_format() {
        let m: ClientMessage = serde_json::from_str(
            r#"{"type":"ice","candidate":"candidate:0 1 UDP 1 127.0.0.1 5000 typ host","sdpMLineIndex":0}"#,
        )
        .unwrap();
        assert!(matches!(m, ClientMessage::Ice { sdp_m_line_index: 0, .. }));
        let j: ClientMessage =
            serde_json::from_str(r#"{"type":"join","room":"a","name":"b","role":"viewer"}"#).unwrap();
        assert!(matches!(j, ClientMessage::Join { role: Role::Viewer, .. }));
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"leave"}"#).is_ok());
    }

    #[test]
    fn server_messages_round_trip() {
        let me = ParticipantId::next();
        let other = ParticipantInfo { id: ParticipantId::next(), name: "Bo".into(), role: Role::Viewer };
        let v = round_trip_server(ServerMessage::Joined {
            participant_id: me,
            room: RoomId::parse("r").unwrap(),
            participants: vec![other.clone()],
        });
        assert_eq!(v["type"], "joined");
        assert_eq!(v["participantId"], me.to_string());
        assert_eq!(v["participants"][0]["role"], "viewer");
        round_trip_server(ServerMessage::Offer { sdp: "v=0".into() });
        let v = round_trip_server(ServerMessage::Ice { candidate: "c".into(), sdp_m_line_index: 0 });
        assert_eq!(v["sdpMLineIndex"], 0);
        let v = round_trip_server(ServerMessage::ParticipantJoined { participant: other });
        assert_eq!(v["type"], "participantJoined");
        let v = round_trip_server(ServerMessage::ParticipantLeft { participant_id: me });
        assert_eq!(v["type"], "participantLeft");
        let v = round_trip_server(ServerMessage::RecordingStarted { recording_id: "rec3".parse().unwrap() });
        assert_eq!((v["type"].as_str(), v["recordingId"].as_str()), (Some("recordingStarted"), Some("rec3")));
        round_trip_server(ServerMessage::RecordingStopped { recording_id: "rec3".parse().unwrap() });
        let v = round_trip_server(ServerMessage::SpeakerChanged { participant_id: Some(me) });
        assert_eq!((v["type"].as_str(), v["participantId"].as_str()), (Some("speakerChanged"), Some(&*me.to_string())));
        round_trip_server(ServerMessage::LayoutChanged { layout: LayoutSpec::default() });
        round_trip_server(ServerMessage::MuteChanged { participant_id: me, audio: true, video: false });
        let v = round_trip_server(ServerMessage::error(ErrorCode::BadJson, "nope"));
        assert_eq!(v["code"], "bad_json");
    }

    #[test]
    fn channel_messages() {
        let tile = Rect { x: 0, y: 0, w: 640, h: 360 };
        let p = ChannelParticipant {
            id: ParticipantId::next(),
            name: "Ada".into(),
            role: Role::Publisher,
            tile: Some(tile),
            z: 2,
        };
        let msg = ChannelMessage::Participants { canvas: Size::new(1280, 720), participants: vec![p] };
        let v: serde_json::Value = serde_json::to_value(&msg).unwrap();
        assert_eq!((v["type"].as_str(), v["participants"][0]["tile"]["w"].as_u64()), (Some("participants"), Some(640)));
        assert_eq!(v["participants"][0]["z"], 2);
        assert_eq!(serde_json::from_value::<ChannelMessage>(v).unwrap(), msg);
        // A list without z (an older server) still reads, as z 0.
        let old = r#"{"type":"participants","canvas":{"width":2,"height":2},"participants":[{"id":"p1","name":"A","role":"viewer","tile":null}]}"#;
        let ChannelMessage::Participants { participants, .. } = serde_json::from_str(old).unwrap() else { panic!() };
        assert_eq!(participants[0].z, 0);
    }

    /// The next code in a cycle through every variant. Exhaustive on purpose: a new variant
    /// fails to compile here until it is placed in the cycle, and the test below then requires
    /// it in [`ErrorCode::ALL`].
    fn next(code: ErrorCode) -> ErrorCode {
        use ErrorCode::*;
        match code {
            BadJson => UnknownType,
            UnknownType => InvalidMessage,
            InvalidMessage => NotJoined,
            NotJoined => AlreadyJoined,
            AlreadyJoined => InvalidRoom,
            InvalidRoom => InvalidName,
            InvalidName => InvalidSdp,
            InvalidSdp => InvalidCandidate,
            InvalidCandidate => MessageTooLarge,
            MessageTooLarge => MediaError,
            MediaError => MediaTimeout,
            MediaTimeout => Kicked,
            Kicked => RoomClosed,
            RoomClosed => LayoutLocked,
            LayoutLocked => InvalidLayout,
            InvalidLayout => RateLimited,
            RateLimited => ServerShutdown,
            ServerShutdown => InternalError,
            InternalError => Unauthorized,
            Unauthorized => Forbidden,
            Forbidden => ServerFull,
            ServerFull => RoomFull,
            RoomFull => JoinTimeout,
            JoinTimeout => LayoutForbidden,
            LayoutForbidden => BadJson,
        }
    }

    #[test]
    fn every_error_code_round_trips() {
        let mut cycle = vec![ErrorCode::BadJson];
        loop {
            let code = next(*cycle.last().unwrap());
            if code == ErrorCode::BadJson {
                break;
            }
            cycle.push(code);
        }
        assert_eq!(cycle, ErrorCode::ALL, "ErrorCode::ALL lists every code once, in order");
        for code in ErrorCode::ALL {
            let v = round_trip_server(ServerMessage::error(*code, "x"));
            assert_eq!(v["code"].as_str(), Some(code.as_str()));
        }
        let distinct: std::collections::HashSet<String> =
            ErrorCode::ALL.iter().map(|c| serde_json::to_string(c).unwrap()).collect();
        assert_eq!(distinct.len(), ErrorCode::ALL.len(), "codes serialize to distinct strings");
    }
}
