//! Inbound video a publisher may send (issue 15): larger than `max_video_size`, or changing
//! size many times a second, removes that publisher with `media_error` before a decoder sees
//! the stream; the room goes on at its frame rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::{EncodedClip, PeerOptions, TestPeer, VideoSource, VideoSpec};
use tessera_protocol::{ErrorCode, ServerMessage};

async fn removed_with(peer: &mut TestPeer) -> anyhow::Result<String> {
    match peer.wait_message(secs(10), |m| matches!(m, ServerMessage::Error { .. })).await? {
        ServerMessage::Error { code: ErrorCode::MediaError, message } => Ok(message),
        other => anyhow::bail!("expected media_error, got {other:?}"),
    }
}

/// The room keeps its frame rate: the viewer's next 30 frames come within about a second.
async fn room_goes_on(viewer: &TestPeer) -> anyhow::Result<()> {
    let (from, more) = (Instant::now(), viewer.received().frames() + 30);
    viewer.wait_for(secs(3), |p| p.received().frames() >= more).await?;
    let (gap, _) = smoothness(&viewer.received().frame_arrivals(), from, Instant::now());
    println!("room afterwards: 30 frames in {:?}, largest gap {gap:?}", from.elapsed());
    assert!(from.elapsed() < Duration::from_millis(1300) && gap < Duration::from_millis(300));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_video_removes_only_its_publisher() -> anyhow::Result<()> {
    let server = start_server_with(test_config_with(|c| c.limits.max_video_size = "320x240".parse().unwrap())).await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("big", "red", RED, 440.0)).await?;
    let viewer = TestPeer::join(server.addr, PeerOptions::viewer("big", "v")).await?;
    viewer.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    let spec = VideoSpec { rgb: BLUE, width: 640, height: 360, fps: 30 };
    // It ignores its `videoConstraints` (it would shrink to its 320x360 cell): the limit is
    // for clients that do not cooperate.
    let big = PeerOptions {
        video: Some(VideoSource::Solid(spec)),
        follow_constraints: false,
        ..PeerOptions::publisher("big", "big", BLUE, 880.0)
    };
    let mut big = TestPeer::join(server.addr, big).await?;
    let why = removed_with(&mut big).await?;
    println!("640x360 against a 320x240 limit: {why}");
    assert!(why.contains("640x360"), "{why}");
    room_goes_on(&viewer).await?;
    assert!(shows_tiles(&viewer, &[RED]), "{}", describe(&viewer, 2));
    drop(red);
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_changing_size_every_few_frames_removes_its_publisher() -> anyhow::Result<()> {
    let server = start_server().await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("flap", "red", RED, 440.0)).await?;
    let viewer = TestPeer::join(server.addr, PeerOptions::viewer("flap", "v")).await?;
    viewer.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    // Keyframes of 160x90 and 320x180 alternating every 3 frames: 10 size changes a second.
    let (small, large) = (EncodedClip::vp8(160, 90, 30, 1, 200)?, EncodedClip::vp8(320, 180, 30, 1, 300)?);
    let frames =
        (0..10).flat_map(|i| if i % 2 == 0 { &small.frames[..3] } else { &large.frames[..3] }).cloned().collect();
    let clip = Arc::new(EncodedClip { caps: small.caps.clone(), frames, frame_duration: small.frame_duration });
    let flapping =
        PeerOptions { video: Some(VideoSource::Clip(clip)), ..PeerOptions::publisher("flap", "flap", BLUE, 880.0) };
    let mut flapping = TestPeer::join(server.addr, flapping).await?;
    let why = removed_with(&mut flapping).await?;
    println!("size changes every 100 ms: {why}");
    assert!(why.contains("changed size"), "{why}");
    room_goes_on(&viewer).await?;
    drop(red);
    server.stop().await;
    Ok(())
}
