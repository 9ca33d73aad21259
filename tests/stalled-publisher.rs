//! A publisher that keeps its WebSocket but stops sending media: the composite keeps its frame
//! rate, the stalled tile holds its last frame and then (after 1 s without a frame) shows the
//! publisher's placeholder, never black; after the media timeout (3 s here, 10 s by default)
//! the publisher is removed as if it had left.

mod common;

use std::time::{Duration, Instant};

use common::*;
use gst::prelude::*;
use tessera::client::{PeerOptions, TestPeer, close_to};
use tessera::config::MediaConfig;
use tessera::protocol::{ErrorCode, ServerMessage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_publisher_is_held_then_removed() -> anyhow::Result<()> {
    let timeout = Duration::from_secs(3);
    let server = start_server_with(MediaConfig { media_timeout: timeout, ..test_media_config() }).await;
    let mut red = TestPeer::join(server.addr, PeerOptions::publisher("stall", "red", RED, 440.0)).await?;
    let mut blue = TestPeer::join(server.addr, PeerOptions::publisher("stall", "blue", BLUE, 1000.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;

    // Blue's pipeline stops: no more RTP, but its WebSocket stays open.
    let stalled = Instant::now();
    blue.media().pipeline().set_state(gst::State::Paused)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(shows_tiles(&red, &[RED, BLUE]), "the stalled tile holds its last frame: {}", describe(&red, 2));
    let placeholder = tessera::draw::tile_colour(blue.id());
    let b = tile(1, 2);
    red.wait_for(secs(2), |p| {
        p.received().latest_frame().is_some_and(|f| close_to(f.rgb_at(b.x + 6, b.y + b.h / 8, 4), placeholder, 24))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}; blue's tile shows {}", describe(&red, 2)))?;
    println!(
        "stalled tile held its last frame, then showed the placeholder {:?} after {:?}",
        placeholder,
        stalled.elapsed()
    );

    let blue_id = blue.id();
    red.wait_message(
        timeout + secs(3),
        |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == blue_id),
    )
    .await?;
    let removed_after = stalled.elapsed();
    let (gap, worst) = smoothness(&red.received().frame_arrivals(), stalled, Instant::now());
    println!(
        "stalled publisher removed {removed_after:?} after it stopped; meanwhile red's largest gap {gap:?}, worst 1 s window {worst} frames"
    );
    assert!(removed_after >= timeout && removed_after < timeout + secs(2), "removed after {removed_after:?}");
    assert!(gap < Duration::from_millis(300) && worst >= 25, "the composite kept its rate");
    let told = blue.wait_message(secs(2), |m| matches!(m, ServerMessage::Error { .. })).await?;
    assert!(matches!(told, ServerMessage::Error { code: ErrorCode::MediaTimeout, .. }), "{told:?}");
    let full =
        |p: &TestPeer| p.received().latest_frame().is_some_and(|f| close_to(colour_in(&f, tile(1, 2)), RED, TOLERANCE));
    red.wait_for(secs(2), full).await?;
    server.stop().await;
    Ok(())
}
