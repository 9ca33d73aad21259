//! Limits on what a stranger can make the server do (issue 15): rooms, participants,
//! connections and joins per address, sockets that never join, message rates and candidates,
//! names, who changes the layout, recordings. Each refusal has its code and costs nothing else.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::security_access::upgrade;
use crate::security_tokens::{code, try_join};
use tessera_client::{PeerOptions, Signaling, TestPeer};
use tessera_protocol::{ClientMessage, ErrorCode, Role, ServerMessage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_participants_connections_and_joins_are_capped() -> anyhow::Result<()> {
    let config = test_config_with(|c| {
        c.limits.max_rooms = 2;
        c.limits.max_participants = 2;
        c.limits.connections_per_address = 8;
        c.limits.joins_per_minute = 8;
    });
    let server = start_server_with(config).await;
    let addr = server.addr;
    let _a = TestPeer::join(addr, PeerOptions::viewer("one", "a")).await?;
    let _b = TestPeer::join(addr, PeerOptions::viewer("one", "b")).await?;
    let _c = TestPeer::join(addr, PeerOptions::viewer("two", "c")).await?;
    let full = try_join(addr, "one", Role::Viewer, None).await;
    assert_eq!(code(&full), Some(ErrorCode::RoomFull), "{full:?}");
    let no_room = try_join(addr, "three", Role::Viewer, None).await;
    assert_eq!(code(&no_room), Some(ErrorCode::ServerFull), "{no_room:?}");
    let (_, stats) = http(addr, "GET", "/api/stats", None).await;
    // Three peers: three webrtcbins in the server, three in this process's test peers.
    assert_eq!(
        (stats["rooms"].as_u64(), stats["webrtcbins"].as_u64()),
        (Some(2), Some(6)),
        "refusals built nothing: {stats}"
    );

    // 3 connections are open (a, b, c); 5 more fit, the 9th upgrade is refused with 429.
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(Signaling::connect(addr).await?);
    }
    assert_eq!(upgrade(addr, &[]).await, 429);
    drop(idle);
    let deadline = Instant::now() + secs(3);
    while upgrade(addr, &[]).await != 101 {
        assert!(Instant::now() < deadline, "slots come back when sockets close");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 5 joins were attempted so far (a, b, c, full, no_room); the 8-per-minute budget allows
    // 3 more, then `rate_limited` before anything else is looked at.
    let answers: Vec<Option<ErrorCode>> = futures_util::future::join_all(
        (0..4).map(|i| async move { code(&try_join(addr, &format!("budget{i}"), Role::Viewer, None).await) }),
    )
    .await;
    assert_eq!(answers.iter().filter(|c| **c == Some(ErrorCode::RateLimited)).count(), 1, "{answers:?}");
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_must_join_in_time_and_within_their_message_rates() -> anyhow::Result<()> {
    let config = test_config_with(|c| {
        c.limits.join_timeout = 1;
        c.limits.max_candidates = 5;
    });
    let server = start_server_with(config).await;
    let addr = server.addr;
    // Connected, never joined: told and closed after the join timeout, pongs or not.
    let mut lurker = Signaling::connect(addr).await?;
    let started = Instant::now();
    let msg = lurker.recv_timeout(secs(5)).await?.expect("an error before the close");
    assert_eq!(code(&msg), Some(ErrorCode::JoinTimeout), "{msg:?}");
    assert!(lurker.recv_timeout(secs(2)).await?.is_none(), "closed");
    println!("unjoined socket closed after {:?}", started.elapsed());

    // A joined socket flooding one message kind is cut off at its rate; others still work.
    let mut ws = Signaling::connect(addr).await?;
    ws.send(&ClientMessage::Join { room: "rates".into(), name: "flood".into(), role: Role::Publisher, token: None })
        .await?;
    let mut refused = 0;
    for _ in 0..40 {
        ws.send(&ClientMessage::Mute { audio: true, video: false }).await?;
    }
    let ice = ClientMessage::Ice {
        candidate: "candidate:1 1 UDP 1 127.0.0.1 9 typ host".into(),
        sdp_mid: None,
        sdp_m_line_index: Some(0),
    };
    for _ in 0..8 {
        ws.send(&ice).await?;
    }
    let deadline = Instant::now() + secs(3);
    let mut candidates_refused = false;
    while let Ok(Some(msg)) = ws.recv_timeout(deadline.saturating_duration_since(Instant::now())).await {
        if let ServerMessage::Error { code: ErrorCode::RateLimited, message } = &msg {
            refused += 1;
            candidates_refused |= message.contains("ICE candidates");
        }
    }
    println!("40 mutes and 8 candidates at once: {refused} refused");
    assert!(refused >= 25, "a burst of 10 mutes, then refused: {refused}");
    assert!(candidates_refused, "candidates beyond 5 per connection are refused");
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_must_read_as_they_are_and_only_the_allowed_change_the_layout() -> anyhow::Result<()> {
    let server = start_server_with(test_config_with(|c| c.server.dev = false)).await;
    let addr = server.addr;
    for name in ["Ali\u{200B}ce", "\u{202E}ecilA", "Ali\u{200D}ce", "A\u{2028}B", "\u{FEFF}Alice"] {
        let mut ws = Signaling::connect(addr).await?;
        ws.send(&ClientMessage::Join { room: "names".into(), name: name.into(), role: Role::Viewer, token: None })
            .await?;
        let answer = ws.recv_timeout(secs(5)).await?.unwrap();
        assert_eq!(code(&answer), Some(ErrorCode::InvalidName), "{name:?}: {answer:?}");
    }
    // Without a token and outside --dev, nobody but an administrator changes the layout.
    let mut host = TestPeer::join(addr, PeerOptions::publisher("names", "host", RED, 440.0)).await?;
    let mut viewer = TestPeer::join(addr, PeerOptions::viewer("names", "viewer")).await?;
    let speaker: tessera_protocol::layout::LayoutSpec =
        serde_json::from_value(serde_json::json!({ "mode": "speaker" }))?;
    for peer in [&mut host, &mut viewer] {
        peer.send(ClientMessage::SetLayout { layout: speaker.clone() })?;
        let answer = peer.wait_message(secs(3), |m| matches!(m, ServerMessage::Error { .. })).await?;
        assert_eq!(code(&answer), Some(ErrorCode::LayoutForbidden), "{answer:?}");
    }
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_are_bounded_by_count_duration_and_free_disk() -> anyhow::Result<()> {
    let dir = record_dir("bounded");
    let config = test_config_with(|c| {
        c.recording.dir = dir.clone();
        c.recording.max_active = 1;
        c.recording.max_duration = 2;
    });
    let server = start_server_with(config).await;
    let addr = server.addr;
    let viewer = TestPeer::join(addr, PeerOptions::publisher("bounded", "p", RED, 440.0)).await?;
    viewer.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    let (status, first) = http(addr, "POST", "/api/rooms/bounded/recordings", None).await;
    assert_eq!(status, 201, "{first}");
    let (status, second) = http(addr, "POST", "/api/rooms/bounded/recordings", None).await;
    assert_eq!((status, second["error"]["code"].as_str()), (409, Some("recording_refused")), "{second}");
    println!("second recording: {second}");
    // The first stops itself at 2 s, finalized (a playable file), not failed.
    let id = first["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + secs(10);
    let done = loop {
        let (_, list) = http(addr, "GET", "/api/rooms/bounded/recordings", None).await;
        let rec = list["recordings"].as_array().unwrap().iter().find(|r| r["id"] == id.as_str()).cloned().unwrap();
        if rec["state"] == "done" || Instant::now() > deadline {
            break rec;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done["state"], "done", "{done}");
    let secs_written = done["durationSecs"].as_f64().unwrap_or_default();
    assert!((1.5..4.0).contains(&secs_written), "{done}");
    let found = crate::common::recording::discover(std::path::Path::new(done["path"].as_str().unwrap()))?;
    println!("a 2 s cap: {found:?}");
    assert!(found.duration.is_some_and(|d| d >= Duration::from_millis(1500)) && !found.video.is_empty());
    server.stop().await;

    // A disk below the free-space minimum refuses new recordings, saying so.
    let config = test_config_with(|c| {
        c.recording.dir = dir.clone();
        c.recording.min_free_disk_mb = u64::MAX / 2;
    });
    let server = start_server_with(config).await;
    let _p = TestPeer::join(server.addr, PeerOptions::publisher("bounded", "p", RED, 440.0)).await?;
    let (status, refused) = http(server.addr, "POST", "/api/rooms/bounded/recordings", None).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("recording_refused")), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("MiB free"), "{refused}");
    server.stop().await;
    Ok(())
}

/// Connections that send nothing are closed after 10 s, and an address holding its maximum of
/// TCP connections (2 × connections per address + 8) has further ones closed at accept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_capped() -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let server = start_server_with(test_config_with(|c| c.limits.connections_per_address = 2)).await;
    let addr = server.addr;
    let mut held = Vec::new();
    for _ in 0..12 {
        held.push(tokio::net::TcpStream::connect(addr).await?);
    }
    let mut extra = tokio::net::TcpStream::connect(addr).await?;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(secs(2), extra.read(&mut buf)).await?.unwrap_or(0);
    assert_eq!(n, 0, "the 13th connection of an address capped at 12 is closed at once");
    let started = Instant::now();
    let n = tokio::time::timeout(secs(15), held[0].read(&mut buf)).await?.unwrap_or(0);
    println!("a silent connection was closed after {:?}", started.elapsed());
    assert_eq!(n, 0);
    assert!(started.elapsed() >= Duration::from_secs(9), "{:?}", started.elapsed());
    drop(held);
    assert_eq!(http(addr, "GET", "/healthz", None).await.0, 200, "slots come back");
    server.stop().await;
    Ok(())
}
