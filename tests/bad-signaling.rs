//! Every bad input gets its stable error code on the offending socket only, the socket stays
//! usable, and a participant in the same room keeps receiving frames throughout.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tessera::client::{PeerOptions, Signaling, TestPeer};
use tessera::protocol::{ErrorCode, ServerMessage};

/// Reads until an error arrives (skipping offer/ice/roster messages) and checks its code.
async fn expect(sig: &mut Signaling, code: ErrorCode, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match sig.recv_timeout(left).await {
            Ok(Some(ServerMessage::Error { code: got, message })) => {
                assert_eq!(got, code, "{what}: got {got:?} ({message})");
                println!("{what:<40} -> {got:?}: {message}");
                return;
            }
            Ok(Some(_)) => continue,
            other => panic!("{what}: expected {code:?}, got {other:?}"),
        }
    }
}

fn join(room: &str, name: &str) -> String {
    serde_json::json!({"type": "join", "room": room, "name": name, "role": "publisher"}).to_string()
}

const ANSWER_ONE_MLINE: &str = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
    m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n\
    a=ice-pwd:abcdefghijklmnopqrstuv\r\na=fingerprint:sha-256 00:11\r\na=setup:active\r\n\
    a=mid:nonexistent\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_error_codes_and_harms_nobody() -> anyhow::Result<()> {
    let server = start_server().await;
    let mut steady = TestPeer::join(server.addr, PeerOptions::publisher("steady", "calm", RED, 440.0)).await?;
    steady.wait_for(secs(15), |p| p.received().frames() > 10).await?;
    let start = Instant::now();
    let frames_before = steady.received().frames();

    let mut bad = Signaling::connect(server.addr).await?;
    use ErrorCode::*;
    let cases: Vec<(String, ErrorCode, &str)> = vec![
        ("{not json".into(), BadJson, "malformed JSON"),
        (r#"{"type":"dance"}"#.into(), UnknownType, "unknown type"),
        (r#"{"kind":"join"}"#.into(), InvalidMessage, "no type field"),
        (r#"{"type":"join","room":"steady"}"#.into(), InvalidMessage, "missing fields"),
        (r#"{"type":"join","room":5,"name":"x","role":"viewer"}"#.into(), InvalidMessage, "wrong-typed field"),
        (r#"{"type":"join","room":"r","name":"x","role":"admin"}"#.into(), InvalidMessage, "unknown role"),
        (r#"{"type":"answer","sdp":"v=0"}"#.into(), NotJoined, "answer before join"),
        (r#"{"type":"ice","candidate":"c","sdpMLineIndex":0}"#.into(), NotJoined, "ice before join"),
        (r#"{"type":"leave"}"#.into(), NotJoined, "leave before join"),
        (join("no spaces allowed", "x"), InvalidRoom, "room with spaces"),
        (join(&"r".repeat(65), "x"), InvalidRoom, "65-char room"),
        (join("", "x"), InvalidRoom, "empty room"),
        (join("steady", ""), InvalidName, "empty name"),
        (join("steady", &"n".repeat(65)), InvalidName, "65-char name"),
        (format!(r#"{{"type":"answer","sdp":"{}"}}"#, "x".repeat(100 * 1024)), MessageTooLarge, "100 KiB frame"),
    ];
    for (text, code, what) in &cases {
        bad.send_text(text.clone()).await?;
        expect(&mut bad, *code, what).await;
    }
    bad.send_binary(vec![0, 1, 2]).await?;
    expect(&mut bad, BadJson, "binary frame").await;

    // The same socket can still join, then misbehave inside the room.
    bad.send_text(join("steady", "troublemaker")).await?;
    let joined = bad.recv_timeout(secs(5)).await?;
    let Some(ServerMessage::Joined { participant_id: bad_id, .. }) = joined else {
        panic!("expected joined, got {joined:?}")
    };
    steady.wait_message(secs(5), |m| matches!(m, ServerMessage::ParticipantJoined { .. })).await?;
    loop {
        if let Some(ServerMessage::Offer { .. }) = bad.recv_timeout(secs(5)).await? {
            break;
        }
    }
    bad.send_text(join("steady", "again")).await?;
    expect(&mut bad, AlreadyJoined, "second join").await;
    bad.send_text(r#"{"type":"answer","sdp":"garbage"}"#).await?;
    expect(&mut bad, InvalidSdp, "unparsable SDP answer").await;
    bad.send_text(serde_json::json!({"type": "answer", "sdp": ANSWER_ONE_MLINE}).to_string()).await?;
    expect(&mut bad, InvalidSdp, "answer not matching the offer").await;
    bad.send_text(r#"{"type":"ice","candidate":"not a candidate","sdpMLineIndex":0}"#).await?;
    expect(&mut bad, InvalidCandidate, "garbage ICE candidate").await;

    // Vanishing without `leave`: the others are told.
    drop(bad);
    let left = steady
        .wait_message(
            secs(5),
            |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == bad_id),
        )
        .await;
    assert!(left.is_ok(), "steady participant was not told the vanished peer left");

    tokio::time::sleep(Duration::from_millis(500)).await;
    let elapsed = start.elapsed().as_secs_f64();
    let frames = steady.received().frames() - frames_before;
    let arrivals = steady.received().frame_arrivals();
    let max_gap = arrivals.windows(2).filter(|w| w[0] >= start).map(|w| w[1] - w[0]).max().unwrap_or_default();
    println!(
        "steady peer: {frames} frames in {elapsed:.1} s ({:.1} fps), largest gap {max_gap:?}",
        frames as f64 / elapsed
    );
    assert!(frames as f64 >= 25.0 * elapsed, "frame rate dropped during bad input");
    assert!(max_gap < Duration::from_millis(300), "video stalled for {max_gap:?}");
    server.stop().await;
    Ok(())
}
