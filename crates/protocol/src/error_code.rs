//! The stable error codes a client is told (`docs/protocol.md` lists each with its meaning).

use serde::{Deserialize, Serialize};

#[cfg(doc)]
use crate::{MAX_MESSAGE_BYTES, ServerMessage};

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
    /// The server runs in a fleet and cannot reach the fleet's registry (Redis), so it cannot
    /// place a room it does not already run; try again shortly (rooms already running go on).
    FleetUnavailable,
    /// An agent asked for a sample rate other than 16000, 24000 or 48000.
    InvalidRate,
    /// An agent's binary audio frame is not 20 ms of 16-bit mono PCM at its rate.
    InvalidAudioFrame,
    /// An agent sent audio further ahead of real time than its buffer holds; the frame was dropped.
    AgentAudioOverflow,
    /// A text frame where the protocol expects a binary one (the image after `image`).
    ExpectedBinary,
    /// An agent's image is not a JPEG or PNG the server can decode, or is too large.
    InvalidImage,
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
        Self::FleetUnavailable,
        Self::InvalidRate,
        Self::InvalidAudioFrame,
        Self::AgentAudioOverflow,
        Self::ExpectedBinary,
        Self::InvalidImage,
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
            Self::FleetUnavailable => "fleet_unavailable",
            Self::InvalidRate => "invalid_rate",
            Self::InvalidAudioFrame => "invalid_audio_frame",
            Self::AgentAudioOverflow => "agent_audio_overflow",
            Self::ExpectedBinary => "expected_binary",
            Self::InvalidImage => "invalid_image",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerMessage;

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
            LayoutForbidden => FleetUnavailable,
            FleetUnavailable => InvalidRate,
            InvalidRate => InvalidAudioFrame,
            InvalidAudioFrame => AgentAudioOverflow,
            AgentAudioOverflow => ExpectedBinary,
            ExpectedBinary => InvalidImage,
            InvalidImage => BadJson,
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
            let json = serde_json::to_string(&ServerMessage::error(*code, "x")).unwrap();
            assert_eq!(serde_json::from_str::<ServerMessage>(&json).unwrap(), ServerMessage::error(*code, "x"));
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["code"].as_str(), Some(code.as_str()));
        }
        let distinct: std::collections::HashSet<String> =
            ErrorCode::ALL.iter().map(|c| serde_json::to_string(c).unwrap()).collect();
        assert_eq!(distinct.len(), ErrorCode::ALL.len(), "codes serialize to distinct strings");
    }
}
