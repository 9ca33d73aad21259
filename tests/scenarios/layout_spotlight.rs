//! Layout changes on a live room: `spotlight` on a participant fills the canvas within 500 ms
//! (and within 3 decoded frames); a locked layout refuses a participant's `setLayout` with
//! `layout_locked`; unlocked, a participant's `setLayout` is told to everyone and shown within
//! 500 ms; no change freezes anyone's video.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::stage::*;
use tessera::layout::{LayoutSpec, Mode};
use tessera_client::{TestPeer, close_to};
use tessera_protocol::{ClientMessage, ErrorCode, ServerMessage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spotlight_lock_and_a_participants_layout() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;
    let path = "/api/rooms/spot/layout";
    let mut red = TestPeer::join(addr, publisher("spot", "Red", RED, 440.0, 0.05)).await?;
    let mut green = TestPeer::join(addr, publisher("spot", "Green", GREEN, 600.0, 0.05)).await?;
    let mut blue = TestPeer::join(addr, publisher("spot", "Blue", BLUE, 1000.0, 0.05)).await?;
    for p in [&red, &green, &blue] {
        p.wait_for(secs(15), |p| shows_tiles(p, &[RED, GREEN, BLUE])).await?;
    }
    // Settled: everyone's media flows and a speaker was elected (1.5 s of audio from all).
    red.wait_message(secs(5), |m| matches!(m, ServerMessage::SpeakerChanged { participant_id: Some(_) })).await?;
    let steady_from = Instant::now();

    // Spotlight on red, locked: red fills the canvas within 500 ms.
    let body = format!(r#"{{"mode":"spotlight","pinned":"{}","locked":true}}"#, red.id());
    let frames_at_put = blue.received().frames();
    let asked = Instant::now();
    assert_eq!(http_body(addr, "PUT", path, None, &body).await.0, 200);
    let whole = |p: &TestPeer| {
        p.received().latest_frame().is_some_and(|f| {
            let (w, h) = (CANVAS.width, CANVAS.height);
            [(w / 2, h / 2), (w / 8, h / 8), (w * 7 / 8, h / 8), (w * 7 / 8, h / 2)]
                .iter()
                .all(|(x, y)| close_to(f.rgb_at(*x, *y, 4), RED, TOLERANCE))
        })
    };
    blue.wait_for(secs(2), whole).await?;
    let spot = asked.elapsed();
    let stale = blue.received().frames() - frames_at_put;
    println!("spotlight on red filled the canvas {spot:?} after the PUT ({stale} frames decoded in between)");
    assert!(spot < Duration::from_millis(500));
    assert!(stale <= 3, "{stale} frames of the old layout after the PUT");

    // Locked: a participant may not change it, and only they hear why.
    blue.send(ClientMessage::SetLayout { layout: LayoutSpec { mode: Mode::Grid, ..Default::default() } })?;
    let refused = blue.wait_message(secs(2), |m| matches!(m, ServerMessage::Error { .. })).await?;
    assert!(matches!(refused, ServerMessage::Error { code: ErrorCode::LayoutLocked, .. }), "{refused:?}");
    assert!(blue.received().latest_frame().is_some_and(|_| whole(&blue)), "the spotlight stays");

    // Unlocked, a participant may: blue asks for the grid, everyone is told, the canvas follows.
    assert_eq!(http_body(addr, "PUT", path, None, r#"{"mode":"speaker"}"#).await.0, 200);
    blue.send(ClientMessage::SetLayout { layout: LayoutSpec { mode: Mode::Grid, ..Default::default() } })?;
    let asked = Instant::now();
    for p in [&mut red, &mut green] {
        p.wait_message(secs(2), |m| matches!(m, ServerMessage::LayoutChanged { layout } if layout.mode == Mode::Grid))
            .await?;
    }
    red.wait_for(secs(2), |p| shows_tiles(p, &[RED, GREEN, BLUE])).await?;
    println!("a participant's setLayout grid shown {:?} after it was sent", asked.elapsed());
    assert!(asked.elapsed() < Duration::from_millis(500));

    // No layout change froze anyone's video, over at least 2 s from before the first change.
    tokio::time::sleep((steady_from + secs(2)).saturating_duration_since(Instant::now())).await;
    for p in [&red, &green, &blue] {
        let (gap, worst) = smoothness(&p.received().frame_arrivals(), steady_from, Instant::now());
        println!("through every layout change: largest frame gap {gap:?}, worst 1 s window {worst} frames");
        assert!(gap < Duration::from_millis(300) && worst >= 25, "video stalled: {gap:?}, {worst} fps");
    }
    drop((red, green, blue));
    server.stop().await;
    Ok(())
}
