//! Wire-format tests of the signaling messages.

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
    round_trip_client(ClientMessage::Ice { candidate: "candidate:1".into(), sdp_mid: None, sdp_m_line_index: Some(1) });
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
    assert!(matches!(m, ClientMessage::Ice { sdp_m_line_index: None, sdp_mid: Some(ref mid), .. } if mid == "audio1"));
    let m: ClientMessage = serde_json::from_str(r#"{"type":"ice","candidate":""}"#).unwrap();
    assert!(matches!(m, ClientMessage::Ice { sdp_m_line_index: None, sdp_mid: None, .. }));
    assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"ice","candidate":"","sdpMid":0}"#).is_err());
    let j: ClientMessage = serde_json::from_str(r#"{"type":"join","room":"a","name":"b","role":"viewer"}"#).unwrap();
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
    let v =
        round_trip_server(ServerMessage::Ice { candidate: "c".into(), sdp_mid: "video0".into(), sdp_m_line_index: 0 });
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
    let c = crate::VideoConstraints { width: 640, height: 360, fps: 30, max_bitrate: 530_000 };
    let v = round_trip_server(ServerMessage::VideoConstraints(c));
    let wire =
        serde_json::json!({"type": "videoConstraints", "width": 640, "height": 360, "fps": 30, "maxBitrate": 530_000});
    assert_eq!(v, wire);
    let on_channel = serde_json::to_value(ChannelMessage::VideoConstraints(c)).unwrap();
    assert_eq!(on_channel, wire, "the same JSON on the DataChannel");
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

#[test]
fn chat_captions_and_the_agent_role() {
    let from = ParticipantId::next();
    let said = Said { from, name: "Bot".into(), text: "hi".into() };
    let v = round_trip_server(ServerMessage::Chat(said.clone()));
    assert_eq!(
        (v["type"].as_str(), v["from"].as_str(), v["text"].as_str()),
        (Some("chat"), Some(&*from.to_string()), Some("hi"))
    );
    let caption = Caption { from, name: "Bot".into(), text: "hel".into(), is_final: false };
    let v = round_trip_server(ServerMessage::Caption(caption.clone()));
    assert_eq!((v["type"].as_str(), v["final"].as_bool()), (Some("caption"), Some(false)));
    let v = serde_json::to_value(ChannelMessage::Caption(caption)).unwrap();
    assert_eq!(v["type"], "caption");
    assert_eq!(serde_json::to_value(ChannelMessage::Chat(said)).unwrap()["name"], "Bot");
    round_trip_client(ClientMessage::Chat(ChatLine { text: "hello".into() }));
    let c: ClientMessage = serde_json::from_str(r#"{"type":"caption","text":"x","final":true}"#).unwrap();
    assert_eq!(c, ClientMessage::Caption(CaptionLine { text: "x".into(), is_final: true }));
    assert_eq!(serde_json::to_value(Role::Agent).unwrap(), "agent");
    assert!(Role::Agent.has_tile() && Role::Publisher.has_tile() && !Role::Viewer.has_tile());
}
