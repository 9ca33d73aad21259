//! The signaling protocol: every message a client and the server exchange over `/ws`.
//!
//! Messages are JSON objects tagged by `type` (camelCase). The server, the Rust client library
//! (`tessera-client`) and the browser client all follow these types; `docs/protocol.md`
//! documents them with an example session.

use serde::{Deserialize, Serialize};

use crate::ids::{ParticipantId, RoomId};
use crate::layout::{LayoutSpec, Rect, Size};
use crate::{ErrorCode, IceServer};

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
        round_trip_client(ClientMessage::Ice {
            candidate: "candidate:1".into(),
            sdp_mid: None,
            sdp_m_line_index: Some(1),
        });
        round_trip_client(ClientMessage::Ice {
            candidate: "candidate:1".into(),
            sdp_mid: Some("audio1".into()),
            sdp_m_line_index: None,
        });
        round_trip_client(ClientMessage::Ice {
            candidate: "candidate:1".into(),
            sdp_mid: Some("video0".into()),
            sdp_m_line_index: Some(0),
        });
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
        assert!(matches!(m, ClientMessage::Ice { sdp_m_line_index: Some(0), sdp_mid: None, .. }));
        // aiortc and others name the m-line by mid only; a candidate may also name neither
        // (the server then refuses it, see `signaling`).
        let m: ClientMessage = serde_json::from_str(
            r#"{"type":"ice","candidate":"candidate:0 1 UDP 1 127.0.0.1 5000 typ host","sdpMid":"audio1"}"#,
        )
        .unwrap();
        assert!(
            matches!(m, ClientMessage::Ice { sdp_m_line_index: None, sdp_mid: Some(ref mid), .. } if mid == "audio1")
        );
        let m: ClientMessage = serde_json::from_str(r#"{"type":"ice","candidate":""}"#).unwrap();
        assert!(matches!(m, ClientMessage::Ice { sdp_m_line_index: None, sdp_mid: None, .. }));
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"ice","candidate":"","sdpMid":0}"#).is_err());
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
            ice_servers: Vec::new(),
        });
        assert_eq!(v["type"], "joined");
        assert_eq!(v["participantId"], me.to_string());
        assert_eq!(v["participants"][0]["role"], "viewer");
        assert!(v.get("iceServers").is_none(), "no TURN configured, no key: {v}");
        round_trip_server(ServerMessage::Offer { sdp: "v=0".into() });
        let v = round_trip_server(ServerMessage::Ice {
            candidate: "c".into(),
            sdp_mid: "video0".into(),
            sdp_m_line_index: 0,
        });
        assert_eq!((v["sdpMLineIndex"].as_u64(), v["sdpMid"].as_str()), (Some(0), Some("video0")));
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
    fn joined_carries_ice_servers_in_the_browsers_shape() {
        let turn = IceServer {
            urls: vec!["turn:127.0.0.1:3478?transport=udp".into(), "turns:turn.example.com:443?transport=tcp".into()],
            username: Some("1700003600:p7".into()),
            credential: Some("c2VjcmV0".into()),
        };
        let stun = IceServer { urls: vec!["stun:stun.example.com:3478".into()], username: None, credential: None };
        let v = round_trip_server(ServerMessage::Joined {
            participant_id: ParticipantId::next(),
            room: RoomId::parse("r").unwrap(),
            participants: Vec::new(),
            ice_servers: vec![turn, stun],
        });
        // Exactly RTCIceServer's member names, so the page passes the list on untouched.
        assert_eq!(
            v["iceServers"],
            serde_json::json!([
                {"urls": ["turn:127.0.0.1:3478?transport=udp", "turns:turn.example.com:443?transport=tcp"],
                 "username": "1700003600:p7", "credential": "c2VjcmV0"},
                {"urls": ["stun:stun.example.com:3478"]},
            ])
        );
        // An older server's `joined` (no list) still reads.
        let old = r#"{"type":"joined","participantId":"p1","room":"r","participants":[]}"#;
        let ServerMessage::Joined { ice_servers, .. } = serde_json::from_str(old).unwrap() else { panic!() };
        assert!(ice_servers.is_empty());
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
}
