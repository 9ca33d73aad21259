//! Every bad input gets its stable error code on the offending socket only, the socket stays
//! usable, and a participant in the same room keeps receiving frames throughout and never
//! receives an error meant for someone else.

use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::{PeerOptions, Signaling, TestPeer};
use tessera_protocol::{ErrorCode, MAX_MESSAGE_BYTES, ServerMessage};

/// Waits for a message to `peer` matching `pred`, keeping every message seen in `seen`.
async fn watch_for(
    peer: &mut TestPeer,
    seen: &mut Vec<ServerMessage>,
    pred: impl Fn(&ServerMessage) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + secs(5);
    while let Some(m) = peer.next_message(deadline.saturating_duration_since(Instant::now())).await {
        let hit = pred(&m);
        seen.push(m);
        if hit {
            return Ok(());
        }
    }
    anyhow::bail!("no matching message within 5 s")
}

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
        (r#"{"type":"mute","audio":true,"video":false}"#.into(), NotJoined, "mute before join"),
        (r#"{"type":"setLayout","layout":{"mode":"grid"}}"#.into(), NotJoined, "setLayout before join"),
        (join("no spaces allowed", "x"), InvalidRoom, "room with spaces"),
        (join(&"r".repeat(65), "x"), InvalidRoom, "65-char room"),
        (join("", "x"), InvalidRoom, "empty room"),
        (join("steady", ""), InvalidName, "empty name"),
        (join("steady", &"n".repeat(65)), InvalidName, "65-char name"),
        (format!(r#"{{"type":"answer","sdp":"{}"}}"#, "x".repeat(100 * 1024)), MessageTooLarge, "100 KiB frame"),
        ("x".repeat(MAX_MESSAGE_BYTES + 1), MessageTooLarge, "a frame one byte over 64 KiB"),
    ];
    for (text, code, what) in &cases {
        bad.send_text(text.clone()).await?;
        expect(&mut bad, *code, what).await;
    }
    bad.send_binary(vec![0, 1, 2]).await?;
    expect(&mut bad, BadJson, "binary frame").await;
    bad.send_binary(vec![b'x'; MAX_MESSAGE_BYTES + 1]).await?;
    expect(&mut bad, MessageTooLarge, "binary frame over 64 KiB").await;

    // The same socket can still join, then misbehave inside the room.
    bad.send_text(join("steady", "troublemaker")).await?;
    let joined = bad.recv_timeout(secs(5)).await?;
    let Some(ServerMessage::Joined { participant_id: bad_id, .. }) = joined else {
        panic!("expected joined, got {joined:?}")
    };
    let mut seen = Vec::new(); // everything the steady participant is told
    watch_for(&mut steady, &mut seen, |m| matches!(m, ServerMessage::ParticipantJoined { .. })).await?;
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
    let line = "candidate:1 1 UDP 1 127.0.0.1 9 typ host";
    bad.send_text(serde_json::json!({"type": "ice", "candidate": line, "sdpMid": "video7"}).to_string()).await?;
    expect(&mut bad, InvalidCandidate, "a mid our offer does not have").await;
    bad.send_text(serde_json::json!({"type": "ice", "candidate": line, "sdpMLineIndex": 9}).to_string()).await?;
    expect(&mut bad, InvalidCandidate, "an m-line index past our offer's").await;
    bad.send_text(serde_json::json!({"type": "ice", "candidate": line}).to_string()).await?;
    expect(&mut bad, InvalidMessage, "a candidate naming no m-line").await;

    // A frame beyond what the transport reads at all (1 MiB) still gets its code before the
    // socket is closed; the troublemaker is then gone and the others are told.
    let mut huge = Signaling::connect(server.addr).await?;
    huge.send_text(format!(r#"{{"type":"join","room":"{}"}}"#, "y".repeat(2 << 20))).await?;
    expect(&mut huge, MessageTooLarge, "2 MiB frame").await;
    assert!(huge.recv_timeout(secs(5)).await.map_or(true, |m| m.is_none()), "socket closed after a 2 MiB frame");

    // Vanishing without `leave`: the others are told.
    drop(bad);
    let gone =
        |m: &ServerMessage| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == bad_id);
    watch_for(&mut steady, &mut seen, gone).await.expect("steady participant was not told the vanished peer left");

    // Measure the steady participant over at least 2 s from the first bad input: wait for
    // another 60 frames' worth of time (awaited on the frames themselves).
    steady.wait_for(secs(4), |p| p.received().frames() >= frames_before + 60).await?;
    while let Some(m) = steady.next_message(Duration::from_millis(100)).await {
        seen.push(m);
    }
    let errors: Vec<_> = seen.iter().filter(|m| matches!(m, ServerMessage::Error { .. })).collect();
    println!("steady participant got {} messages, {} of them errors", seen.len(), errors.len());
    assert!(errors.is_empty(), "errors reached a participant who did nothing wrong: {errors:?}");
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
