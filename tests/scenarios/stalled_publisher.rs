//! A publisher that keeps its WebSocket but stops sending media: the composite keeps its frame
//! rate; the stalled tile holds its last frame for 1 s, then shows the publisher's placeholder
//! (issue 7 asks for a placeholder instead of a frozen frame); after the media timeout with no
//! inbound RTP the publisher is removed as if it had left. The real binary runs with
//! `TESSERA_MEDIA_TIMEOUT=3` (the default, 10 s, is checked by a unit test in `config.rs`).

use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer, close_to};
use tessera_protocol::{ErrorCode, ServerMessage};

const TIMEOUT: Duration = Duration::from_secs(3);

/// Samples every new frame `peer` decodes between `from` and `to` after `since`; returns how many
/// frames were sampled and the colours of blue's tile (2nd of 2) in those that did not show blue.
async fn held_frames(peer: &TestPeer, since: Instant, from: Duration, to: Duration) -> (usize, Vec<[u8; 3]>) {
    let (mut sampled, mut wrong, mut last) = (0, Vec::new(), 0);
    peer.wait_for(secs(2), |_| since.elapsed() >= from).await.unwrap();
    while since.elapsed() < to {
        let n = peer.received().frames();
        if n != last
            && let Some(f) = peer.received().latest_frame()
        {
            last = n;
            sampled += 1;
            let c = colour_in(&f, tile(1, 2));
            if !close_to(c, BLUE, TOLERANCE) {
                wrong.push(c);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (sampled, wrong)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_publisher_is_held_then_removed() -> anyhow::Result<()> {
    let server = ServerProcess::start_with_prefix(&["env", "TESSERA_MEDIA_TIMEOUT=3"], &[]).await?;
    let mut red = TestPeer::join(server.addr, PeerOptions::publisher("stall", "red", RED, 440.0)).await?;
    let mut blue = TestPeer::join(server.addr, PeerOptions::publisher("stall", "blue", BLUE, 1000.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;

    // Blue's sources stop: no more RTP, but its connection and WebSocket stay open.
    let stalled = Instant::now();
    blue.media().stop_sources();
    // Frames composited after the stall (the path from compositor to red takes ~0.1–0.2 s):
    // every one still shows blue's last frame.
    let (sampled, wrong) = held_frames(&red, stalled, Duration::from_millis(300), Duration::from_millis(900)).await;
    println!("hold: {sampled} frames sampled 0.3–0.9 s after the stall, {} without blue: {wrong:?}", wrong.len());
    assert!(sampled >= 10, "only {sampled} frames in 0.6 s");
    assert!(wrong.is_empty(), "the stalled tile did not hold its last frame: {wrong:?}");
    let placeholder = tessera::draw::tile_colour(blue.id());
    let b = tile(1, 2);
    red.wait_for(secs(3), |p| {
        p.received().latest_frame().is_some_and(|f| close_to(f.rgb_at(b.x + 6, b.y + b.h / 8, 4), placeholder, 24))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}; blue's tile shows {}", describe(&red, 2)))?;
    println!("then the placeholder {placeholder:?}, {:?} after the stall", stalled.elapsed());

    let blue_id = blue.id();
    red.wait_message(
        TIMEOUT + secs(3),
        |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == blue_id),
    )
    .await?;
    let removed_after = stalled.elapsed();
    let (gap, worst) = smoothness(&red.received().frame_arrivals(), stalled, Instant::now());
    println!(
        "stalled publisher removed {removed_after:?} after it stopped (TESSERA_MEDIA_TIMEOUT=3); meanwhile red's \
         largest gap {gap:?}, worst 1 s window {worst} frames"
    );
    assert!(removed_after >= TIMEOUT && removed_after < TIMEOUT + secs(2), "removed after {removed_after:?}");
    assert!(gap < Duration::from_millis(300) && worst >= 25, "the composite kept its rate");
    let told = blue.wait_message(secs(2), |m| matches!(m, ServerMessage::Error { .. })).await?;
    assert!(matches!(told, ServerMessage::Error { code: ErrorCode::MediaTimeout, .. }), "{told:?}");
    let full =
        |p: &TestPeer| p.received().latest_frame().is_some_and(|f| close_to(colour_in(&f, tile(1, 2)), RED, TOLERANCE));
    red.wait_for(secs(2), full).await?;
    Ok(())
}
