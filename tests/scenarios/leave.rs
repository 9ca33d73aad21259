//! When one of two publishers leaves, the other gets `participantLeft` and a single
//! full-canvas tile within 2 s, stops hearing the one who left, and the room goes on.

use std::time::Instant;

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer, close_to};
use tessera_protocol::ServerMessage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remaining_publisher_gets_full_canvas_within_2s() -> anyhow::Result<()> {
    let server = start_server().await;
    let mut red = TestPeer::join(server.addr, PeerOptions::publisher("pair", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("pair", "blue", BLUE, 1000.0)).await?;
    let blue_id = blue.id();
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;
    wait_tone(&red, 1000.0, -20.0, 300).await?;

    let left_at = Instant::now();
    blue.leave().await?;
    red.wait_message(
        secs(2),
        |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == blue_id),
    )
    .await?;
    // One tile over the whole canvas: red at the centre and where blue used to be.
    let full = |p: &TestPeer| {
        p.received().latest_frame().is_some_and(|f| {
            let (w, h) = (f.width(), f.height());
            [(w / 2, h / 2), tile(1, 2).centre(), (w / 8, h / 8), (w * 7 / 8, h * 7 / 8)]
                .iter()
                .all(|(x, y)| close_to(f.rgb_at(*x, *y, 8), RED, TOLERANCE))
        })
    };
    red.wait_for(secs(2), full).await.map_err(|e| anyhow::anyhow!("{e}; sees {}", describe(&red, 1)))?;
    let took = left_at.elapsed();
    println!("full-canvas red tile {took:?} after blue's leave");
    assert!(took.as_secs_f64() < 2.0);

    // Blue is gone from red's mix too.
    red.wait_for(secs(2), |p| p.tone_dbfs(1000.0, 200) < -60.0).await?;
    let silent = left_at.elapsed();
    println!("blue's 1000 Hz gone from red's mix {silent:?} after the leave");
    assert!(silent.as_secs_f64() < 2.0);

    // The room goes on: frames keep coming.
    let before = red.received().frames();
    tokio::time::sleep(secs(1)).await;
    let per_sec = red.received().frames() - before;
    println!("red receives {per_sec} frames/s after the leave");
    assert!(per_sec >= 25, "composite kept its rate: {per_sec} fps");
    server.stop().await;
    Ok(())
}
