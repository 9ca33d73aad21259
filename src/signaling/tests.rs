//! Unit tests of the signaling handler: every bad input gets its code, without a network.

use super::*;

const ANSWER: &str = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
    a=group:BUNDLE video0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n\
    a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n\
    a=fingerprint:sha-256 00:11\r\na=setup:active\r\na=mid:video0\r\na=recvonly\r\n\
    a=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n";

fn error_code(step: Step) -> ErrorCode {
    match step {
        Step::Reply(ServerMessage::Error { code, .. }) => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn joined_session() -> Session {
    let mut s = Session::new();
    let step = s.on_text(r#"{"type":"join","room":"r1","name":"Ada","role":"publisher"}"#);
    let Step::Join { room, .. } = step else { panic!("{step:?}") };
    s.joined(room, ParticipantId::next());
    s
}

#[test]
fn bad_frames_get_their_codes() {
    let mut s = Session::new();
    assert_eq!(error_code(s.on_text("{not json")), ErrorCode::BadJson);
    assert_eq!(error_code(s.on_text(r#"{"type":"dance"}"#)), ErrorCode::UnknownType);
    assert_eq!(error_code(s.on_text(r#"{"type":7}"#)), ErrorCode::InvalidMessage);
    assert_eq!(error_code(s.on_text(r#"[1,2]"#)), ErrorCode::InvalidMessage);
    assert_eq!(error_code(s.on_text(r#"{"type":"join","room":"r"}"#)), ErrorCode::InvalidMessage);
    assert_eq!(
        error_code(s.on_text(r#"{"type":"join","room":5,"name":"a","role":"viewer"}"#)),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        error_code(s.on_text(r#"{"type":"join","room":"r","name":"a","role":"king"}"#)),
        ErrorCode::InvalidMessage
    );
    assert_eq!(error_code(s.on_text(r#"{"type":"leave"}"#)), ErrorCode::NotJoined);
    assert_eq!(error_code(s.on_text(r#"{"type":"answer","sdp":"v=0"}"#)), ErrorCode::NotJoined);
    let big = format!(r#"{{"type":"answer","sdp":"{}"}}"#, "x".repeat(MAX_MESSAGE_BYTES));
    assert_eq!(error_code(s.on_text(&big)), ErrorCode::MessageTooLarge);
    assert_eq!(error_code(s.on_oversized(1 << 20)), ErrorCode::MessageTooLarge);
}

#[test]
fn failed_joins_are_reported_and_retryable() {
    let mut s = Session::new();
    let j = r#"{"type":"join","room":"r","name":"a","role":"viewer"}"#;
    assert!(matches!(s.on_text(j), Step::Join { .. }));
    let msg = s.join_failed(ErrorCode::ServerShutdown, "server is shutting down".into());
    assert!(matches!(msg, ServerMessage::Error { code: ErrorCode::ServerShutdown, .. }));
    let msg = s.join_failed(ErrorCode::InternalError, "media setup failed".into());
    assert!(matches!(msg, ServerMessage::Error { code: ErrorCode::InternalError, .. }));
    assert!(matches!(s.on_text(j), Step::Join { .. }), "a failed join can be retried");
}

#[test]
fn join_validation() {
    let mut s = Session::new();
    let j = |room: &str, name: &str| format!(r#"{{"type":"join","room":"{room}","name":"{name}","role":"viewer"}}"#);
    assert_eq!(error_code(s.on_text(&j("bad room", "a"))), ErrorCode::InvalidRoom);
    assert_eq!(error_code(s.on_text(&j(&"r".repeat(65), "a"))), ErrorCode::InvalidRoom);
    assert_eq!(error_code(s.on_text(&j("", "a"))), ErrorCode::InvalidRoom);
    assert_eq!(error_code(s.on_text(&j("r", ""))), ErrorCode::InvalidName);
    assert_eq!(error_code(s.on_text(&j("r", &"n".repeat(65)))), ErrorCode::InvalidName);
    // Still idle after refused joins: a valid join goes through.
    assert!(matches!(s.on_text(&j("r", "Ada")), Step::Join { role: Role::Viewer, .. }));
    // A join while the first is pending is refused.
    assert_eq!(error_code(s.on_text(&j("r", "Ada"))), ErrorCode::AlreadyJoined);
}

#[test]
fn joined_session_forwards_to_its_room() {
    let mut s = joined_session();
    let j = r#"{"type":"join","room":"r2","name":"Bo","role":"viewer"}"#;
    assert_eq!(error_code(s.on_text(j)), ErrorCode::AlreadyJoined);
    let answer = serde_json::json!({"type": "answer", "sdp": ANSWER}).to_string();
    assert!(matches!(s.on_text(&answer), Step::Room { command: PeerCommand::Answer(_), .. }));
    let ice = r#"{"type":"ice","candidate":"candidate:1 1 UDP 1 127.0.0.1 9 typ host","sdpMLineIndex":0}"#;
    assert!(matches!(s.on_text(ice), Step::Room { command: PeerCommand::Ice { mline: 0, .. }, .. }));
    let mute = r#"{"type":"mute","audio":true,"video":false}"#;
    assert!(matches!(s.on_text(mute), Step::Room { command: PeerCommand::Mute { audio: true, video: false }, .. }));
    let bad_layout = r#"{"type":"setLayout","layout":{"mode":"custom","regions":[]}}"#;
    assert_eq!(error_code(s.on_text(bad_layout)), ErrorCode::InvalidLayout);
    let lock = r#"{"type":"setLayout","layout":{"mode":"speaker","locked":true}}"#;
    let Step::Room { command: PeerCommand::SetLayout(l), .. } = s.on_text(lock) else { panic!() };
    assert!(!l.locked, "participants cannot lock the layout");
    let end = r#"{"type":"ice","candidate":"","sdpMLineIndex":0}"#;
    assert!(matches!(s.on_text(end), Step::Nothing));
    assert!(matches!(s.on_text(r#"{"type":"leave"}"#), Step::Room { command: PeerCommand::Leave, .. }));
    assert!(s.membership().is_none(), "after leave the socket no longer speaks for the participant");
    assert_eq!(error_code(s.on_text(r#"{"type":"leave"}"#)), ErrorCode::NotJoined);
}

#[test]
fn candidates_are_checked() {
    assert!(check_candidate("candidate:1 1 UDP 2015363327 127.0.0.1 40215 typ host").is_ok());
    assert!(
        check_candidate(
            "candidate:842163049 1 udp 1677729535 a1b2.local 55000 typ srflx raddr 0.0.0.0 rport 0 generation 0"
        )
        .is_ok()
    );
    assert!(check_candidate("candidate:3 1 TCP 1015023871 10.0.0.5 9 typ host tcptype active").is_ok());
    for bad in [
        "garbage",
        "candidate:1 1 UDP x 1.2.3.4 5 typ host",
        "candidate:1 1 UDP 1 1.2.3.4 99999 typ host",
        "candidate:1 1 SCTP 1 h 5 typ host",
    ] {
        assert!(check_candidate(bad).is_err(), "{bad}");
    }
    let mut s = joined_session();
    let msg = r#"{"type":"ice","candidate":"nonsense","sdpMLineIndex":0}"#;
    assert_eq!(error_code(s.on_text(msg)), ErrorCode::InvalidCandidate);
}

#[test]
fn answers_are_checked() {
    assert!(parse_answer(ANSWER).is_ok());
    for bad in [
        "",
        "hello",
        "v=0\r\n",
        &ANSWER.replace("a=fingerprint:sha-256 00:11\r\n", ""),
        &ANSWER.replace("a=ice-ufrag:abcd\r\n", ""),
    ] {
        assert!(matches!(parse_answer(bad), Err(SignalingError::InvalidSdp(_))), "{bad:?}");
    }
    let mut s = joined_session();
    let msg = serde_json::json!({"type": "answer", "sdp": "garbage"}).to_string();
    assert_eq!(error_code(s.on_text(&msg)), ErrorCode::InvalidSdp);
}
