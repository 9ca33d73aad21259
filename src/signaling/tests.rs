//! Unit tests of the signaling handler: every bad input gets its code, without a network.

use super::*;

const ANSWER: &str = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
    a=group:BUNDLE video0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n\
    a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n\
    a=fingerprint:sha-256 00:11\r\na=setup:active\r\na=mid:video0\r\na=recvonly\r\n\
    a=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n";

/// Feeds frames 10 s apart, so no rate limit bites (the rate tests use their own clock).
trait Slowly {
    fn text(&mut self, text: &str) -> Step;
}

impl Slowly for Session {
    fn text(&mut self, text: &str) -> Step {
        thread_local!(static NOW: std::cell::Cell<Instant> = std::cell::Cell::new(Instant::now()));
        let now = NOW.with(|n| {
            n.set(n.get() + std::time::Duration::from_secs(10));
            n.get()
        });
        self.on_text(text, now)
    }
}

fn error_code(step: Step) -> ErrorCode {
    match step {
        Step::Reply(ServerMessage::Error { code, .. }) => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn joined_session() -> Session {
    let mut s = Session::new(64);
    let step = s.text(r#"{"type":"join","room":"r1","name":"Ada","role":"publisher"}"#);
    let Step::Join { room, .. } = step else { panic!("{step:?}") };
    s.joined(room, ParticipantId::next());
    s
}

#[test]
fn bad_frames_get_their_codes() {
    let mut s = Session::new(64);
    assert_eq!(error_code(s.text("{not json")), ErrorCode::BadJson);
    assert_eq!(error_code(s.text(r#"{"type":"dance"}"#)), ErrorCode::UnknownType);
    assert_eq!(error_code(s.text(r#"{"type":7}"#)), ErrorCode::InvalidMessage);
    assert_eq!(error_code(s.text(r#"[1,2]"#)), ErrorCode::InvalidMessage);
    assert_eq!(error_code(s.text(r#"{"type":"join","room":"r"}"#)), ErrorCode::InvalidMessage);
    assert_eq!(error_code(s.text(r#"{"type":"join","room":5,"name":"a","role":"viewer"}"#)), ErrorCode::InvalidMessage);
    assert_eq!(error_code(s.text(r#"{"type":"join","room":"r","name":"a","role":"king"}"#)), ErrorCode::InvalidMessage);
    assert_eq!(error_code(s.text(r#"{"type":"leave"}"#)), ErrorCode::NotJoined);
    assert_eq!(error_code(s.text(r#"{"type":"answer","sdp":"v=0"}"#)), ErrorCode::NotJoined);
    let big = format!(r#"{{"type":"answer","sdp":"{}"}}"#, "x".repeat(MAX_MESSAGE_BYTES));
    assert_eq!(error_code(s.text(&big)), ErrorCode::MessageTooLarge);
    assert_eq!(error_code(s.on_oversized(1 << 20)), ErrorCode::MessageTooLarge);
}

#[test]
fn failed_joins_are_reported_and_retryable() {
    let mut s = Session::new(64);
    let j = r#"{"type":"join","room":"r","name":"a","role":"viewer"}"#;
    assert!(matches!(s.text(j), Step::Join { .. }));
    let msg = s.join_failed(ErrorCode::ServerShutdown, "server is shutting down".into());
    assert!(matches!(msg, ServerMessage::Error { code: ErrorCode::ServerShutdown, .. }));
    let msg = s.join_failed(ErrorCode::InternalError, "media setup failed".into());
    assert!(matches!(msg, ServerMessage::Error { code: ErrorCode::InternalError, .. }));
    assert!(matches!(s.text(j), Step::Join { .. }), "a failed join can be retried");
}

#[test]
fn join_validation() {
    let mut s = Session::new(64);
    let j = |room: &str, name: &str| format!(r#"{{"type":"join","room":"{room}","name":"{name}","role":"viewer"}}"#);
    assert_eq!(error_code(s.text(&j("bad room", "a"))), ErrorCode::InvalidRoom);
    assert_eq!(error_code(s.text(&j(&"r".repeat(65), "a"))), ErrorCode::InvalidRoom);
    assert_eq!(error_code(s.text(&j("", "a"))), ErrorCode::InvalidRoom);
    assert_eq!(error_code(s.text(&j("r", ""))), ErrorCode::InvalidName);
    assert_eq!(error_code(s.text(&j("r", &"n".repeat(65)))), ErrorCode::InvalidName);
    // Still idle after refused joins: a valid join goes through.
    assert!(matches!(s.text(&j("r", "Ada")), Step::Join { role: Role::Viewer, .. }));
    // A join while the first is pending is refused.
    assert_eq!(error_code(s.text(&j("r", "Ada"))), ErrorCode::AlreadyJoined);
}

#[test]
fn joined_session_forwards_to_its_room() {
    let mut s = joined_session();
    let j = r#"{"type":"join","room":"r2","name":"Bo","role":"viewer"}"#;
    assert_eq!(error_code(s.text(j)), ErrorCode::AlreadyJoined);
    let answer = serde_json::json!({"type": "answer", "sdp": ANSWER}).to_string();
    assert!(matches!(s.text(&answer), Step::Room { command: PeerCommand::Answer(_), .. }));
    let ice = r#"{"type":"ice","candidate":"candidate:1 1 UDP 1 127.0.0.1 9 typ host","sdpMLineIndex":0}"#;
    assert!(matches!(s.text(ice), Step::Room { command: PeerCommand::Ice { mline: MLine::Index(0), .. }, .. }));
    let mute = r#"{"type":"mute","audio":true,"video":false}"#;
    assert!(matches!(s.text(mute), Step::Room { command: PeerCommand::Mute { audio: true, video: false }, .. }));
    let bad_layout = r#"{"type":"setLayout","layout":{"mode":"custom","regions":[]}}"#;
    assert_eq!(error_code(s.text(bad_layout)), ErrorCode::InvalidLayout);
    let lock = r#"{"type":"setLayout","layout":{"mode":"speaker","locked":true}}"#;
    let Step::Room { command: PeerCommand::SetLayout(l), .. } = s.text(lock) else { panic!() };
    assert!(!l.locked, "participants cannot lock the layout");
    let end = r#"{"type":"ice","candidate":"","sdpMLineIndex":0}"#;
    assert!(matches!(s.text(end), Step::Nothing));
    assert!(matches!(s.text(r#"{"type":"leave"}"#), Step::Room { command: PeerCommand::Leave, .. }));
    assert!(s.membership().is_none(), "after leave the socket no longer speaks for the participant");
    assert_eq!(error_code(s.text(r#"{"type":"leave"}"#)), ErrorCode::NotJoined);
}

#[test]
fn candidates_name_their_m_line_by_mid_or_index() {
    let mut s = joined_session();
    let line = "candidate:1 1 UDP 1 127.0.0.1 9 typ host";
    let ice = |fields: serde_json::Value| {
        let mut msg = serde_json::json!({"type": "ice", "candidate": line});
        msg.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        msg.to_string()
    };
    let mline = |step: Step| match step {
        Step::Room { command: PeerCommand::Ice { mline, .. }, .. } => mline,
        other => panic!("expected a candidate for the room, got {other:?}"),
    };
    assert_eq!(mline(s.text(&ice(serde_json::json!({"sdpMid": "audio1"})))), MLine::Mid("audio1".into()));
    assert_eq!(mline(s.text(&ice(serde_json::json!({"sdpMLineIndex": 1})))), MLine::Index(1));
    let both = ice(serde_json::json!({"sdpMid": "video0", "sdpMLineIndex": 1}));
    assert_eq!(mline(s.text(&both)), MLine::Mid("video0".into()), "the mid wins, as in the WebRTC API");
    // Neither: a clear error to this client, and the socket stays usable.
    let Step::Reply(ServerMessage::Error { code, message }) = s.text(&ice(serde_json::json!({}))) else { panic!() };
    assert_eq!(code, ErrorCode::InvalidMessage);
    assert!(message.contains("sdpMid") && message.contains("sdpMLineIndex"), "{message}");
    let long = ice(serde_json::json!({"sdpMid": "m".repeat(65)}));
    assert_eq!(error_code(s.text(&long)), ErrorCode::InvalidMessage);
    assert_eq!(error_code(s.text(&ice(serde_json::json!({"sdpMid": 7})))), ErrorCode::InvalidMessage);
    assert_eq!(mline(s.text(&ice(serde_json::json!({"sdpMLineIndex": 0})))), MLine::Index(0));
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
    assert_eq!(error_code(s.text(msg)), ErrorCode::InvalidCandidate);
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
    assert_eq!(error_code(s.text(&msg)), ErrorCode::InvalidSdp);
}

#[test]
fn every_kind_of_message_is_rate_limited() {
    let t0 = Instant::now();
    let mut s = joined_session();
    let mute = r#"{"type":"mute","audio":true,"video":false}"#;
    let steps: Vec<Step> = (0..12).map(|_| s.on_text(mute, t0)).collect();
    assert_eq!(steps.iter().filter(|s| matches!(s, Step::Room { .. })).count(), 10, "the burst");
    assert_eq!(error_code(s.on_text(mute, t0)), ErrorCode::RateLimited);
    assert!(matches!(s.on_text(mute, t0 + std::time::Duration::from_secs(1)), Step::Room { .. }), "refilled");
    // Garbage has its own, smaller budget; a socket that keeps going over the rates is closed.
    let mut junk = Session::new(64);
    let codes: Vec<ErrorCode> = (0..12).map(|_| error_code(junk.on_text("{", t0))).collect();
    assert_eq!(codes.iter().filter(|c| **c == ErrorCode::BadJson).count(), 10);
    assert_eq!(codes.last(), Some(&ErrorCode::RateLimited));
    let mut binary = Session::new(64);
    let codes: Vec<ErrorCode> = (0..12).map(|_| error_code(binary.on_binary(10, t0))).collect();
    assert_eq!((codes[0], codes[11]), (ErrorCode::BadJson, ErrorCode::RateLimited), "binary frames count too");
    let last = (0..MAX_STRIKES).map(|_| junk.on_text("{", t0)).last().unwrap();
    assert!(matches!(last, Step::Close(ServerMessage::Error { code: ErrorCode::RateLimited, .. })), "{last:?}");
    // A joined participant's burst costs it only the refused messages, up to a far larger count.
    let steps: Vec<Step> = (0..MAX_STRIKES * 2).map(|_| s.on_text(mute, t0)).collect();
    assert!(!steps.iter().any(|s| matches!(s, Step::Close(_))));
    let last = (0..MAX_JOINED_STRIKES).map(|_| s.on_text(mute, t0)).last().unwrap();
    assert!(matches!(last, Step::Close(_)), "{last:?}");
}

#[test]
fn candidates_are_bounded_per_connection() {
    let mut s = Session::new(3);
    let step = s.text(r#"{"type":"join","room":"r1","name":"Ada","role":"publisher"}"#);
    let Step::Join { room, .. } = step else { panic!("{step:?}") };
    s.joined(room, ParticipantId::next());
    let ice = r#"{"type":"ice","candidate":"candidate:1 1 UDP 1 127.0.0.1 9 typ host","sdpMLineIndex":0}"#;
    assert!((0..3).all(|_| matches!(s.text(ice), Step::Room { .. })));
    assert_eq!(error_code(s.text(ice)), ErrorCode::RateLimited);
}

mod arbitrary_input {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Any text, at any point of a session, gets a step and never a panic.
        #[test]
        fn any_text_is_answered(frames in proptest::collection::vec(".{0,300}", 1..8)) {
            let mut s = joined_session();
            let mut idle = Session::new(8);
            for f in &frames {
                let _ = s.text(f);
                let _ = idle.text(f);
            }
        }

        /// Messages of the right type with fields of any content.
        #[test]
        fn any_fields_are_answered(room in ".{0,80}", name in ".{0,80}", candidate in ".{0,200}", sdp in ".{0,400}", mline in any::<u32>()) {
            let mut s = Session::new(8);
            let join = serde_json::json!({"type": "join", "room": room, "name": name, "role": "publisher", "token": candidate});
            let _ = s.text(&join.to_string());
            let mut s = joined_session();
            let _ = s.text(&serde_json::json!({"type": "ice", "candidate": candidate, "sdpMLineIndex": mline}).to_string());
            let _ = s.text(&serde_json::json!({"type": "answer", "sdp": sdp}).to_string());
        }

        /// Candidate lines built from plausible pieces: the check never panics and accepts
        /// only the RFC 8839 shape.
        #[test]
        fn candidate_lines(fields in proptest::collection::vec("[a-zA-Z0-9.:]{0,12}", 0..12)) {
            let line = format!("candidate:{}", fields.join(" "));
            if check_candidate(&line).is_ok() {
                prop_assert!(fields.len() >= 8 && fields[6] == "typ");
            }
        }

        /// SDP built from real lines in any order and number: parsed or refused, never a panic.
        #[test]
        fn sdp_of_shuffled_lines(lines in proptest::collection::vec(proptest::sample::select(ANSWER.split("\r\n").collect::<Vec<_>>()), 0..30), junk in ".{0,40}") {
            let mut sdp = lines.join("\r\n");
            sdp.push_str(&junk);
            let _ = parse_answer(&sdp);
        }
    }
}
