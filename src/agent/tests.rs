use std::time::{Duration, Instant};

use super::*;

fn query(rate: Option<&str>) -> AgentQuery {
    AgentQuery { room: Some("r".into()), name: Some("Bot".into()), rate: rate.map(Into::into), ..Default::default() }
}

fn code(step: AgentStep) -> ErrorCode {
    match step {
        AgentStep::Reply(ServerMessage::Error { code, .. }) => code,
        other => panic!("not an error: {other:?}"),
    }
}

#[test]
fn the_query_is_checked() {
    let p = params(query(None)).unwrap();
    assert_eq!((p.rate, p.frames, p.name.as_str()), (16_000, 0, "Bot"));
    assert_eq!(params(query(Some("48000"))).unwrap().rate, 48_000);
    for bad in ["44100", "16k", "", "-1"] {
        assert_eq!(params(query(Some(bad))).unwrap_err().0, ErrorCode::InvalidRate, "{bad}");
    }
    let no_room = AgentQuery { room: None, ..query(None) };
    assert_eq!(params(no_room).unwrap_err().0, ErrorCode::InvalidRoom);
    let six = AgentQuery { frames: Some("6".into()), ..query(None) };
    assert_eq!(params(six).unwrap_err().0, ErrorCode::InvalidMessage);
}

#[test]
fn frames_of_the_wrong_size_text_for_binary_and_floods_of_errors() {
    let now = Instant::now();
    let mut s = AgentSession::new(16_000);
    assert!(matches!(s.on_binary(Bytes::from(vec![0; 640]), now), AgentStep::Audio(_)));
    assert_eq!(code(s.on_binary(Bytes::from(vec![0; 641]), now)), ErrorCode::InvalidAudioFrame);
    assert_eq!(code(s.on_text("{", now)), ErrorCode::BadJson);
    assert_eq!(code(s.on_text(r#"{"type":"dance"}"#, now)), ErrorCode::UnknownType);
    assert_eq!(code(s.on_text(r#"{"type":"chat"}"#, now)), ErrorCode::InvalidMessage);
    assert!(matches!(s.on_text(r#"{"type":"image"}"#, now), AgentStep::Nothing));
    assert_eq!(code(s.on_text(r#"{"type":"chat","text":"hi"}"#, now)), ErrorCode::ExpectedBinary);
    assert!(matches!(s.on_text(r#"{"type":"image"}"#, now), AgentStep::Nothing));
    assert!(matches!(s.on_binary(Bytes::from_static(b"\xff\xd8"), now), AgentStep::Image(_)));
    // A flood of bad frames gets a burst of errors, then silence.
    let later = now + Duration::from_secs(60);
    let answered = (0..1000).filter(|_| matches!(s.on_binary(Bytes::new(), later), AgentStep::Reply(_))).count();
    assert_eq!(answered, 20);
}

#[test]
fn chat_captions_and_snapshots_are_rate_limited() {
    let now = Instant::now();
    let mut s = AgentSession::new(24_000);
    assert!(matches!(s.on_binary(Bytes::from(vec![0; 960]), now), AgentStep::Audio(_)));
    let chat = r#"{"type":"chat","text":" hello "}"#;
    let AgentStep::Room(PeerCommand::Chat(text)) = s.on_text(chat, now) else { panic!() };
    assert_eq!(text, "hello");
    let caption = r#"{"type":"caption","text":"hel","final":false}"#;
    assert!(matches!(s.on_text(caption, now), AgentStep::Room(PeerCommand::Caption { is_final: false, .. })));
    let sent = (0..20).filter(|_| matches!(s.on_text(chat, now), AgentStep::Room(_))).count();
    assert_eq!(sent, 9, "a burst of 10 chat lines");
    let snaps = (0..10).filter(|_| matches!(s.on_text(r#"{"type":"snapshot"}"#, now), AgentStep::Snapshot)).count();
    assert_eq!(snaps, 5);
    assert!(matches!(s.on_text(r#"{"type":"clearAudio"}"#, now), AgentStep::ClearAudio));
    assert!(matches!(s.on_text(r#"{"type":"leave"}"#, now), AgentStep::Leave));
}

#[test]
fn jpeg_sizes() {
    // SOI, an APP0 of 16 bytes, then SOF0 declaring 720 rows of 1280.
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    jpeg.extend([0; 14]);
    jpeg.extend([0xFF, 0xC0, 0x00, 0x11, 0x08, 0x02, 0xD0, 0x05, 0x00, 0x03]);
    jpeg.extend([0; 12]);
    assert_eq!(jpeg_size(&jpeg), Some((1280, 720)));
    assert_eq!(jpeg_size(b"\x89PNG"), None);
    assert_eq!(snapshot_header(&jpeg).bytes, jpeg.len());
}
