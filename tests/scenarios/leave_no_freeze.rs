//! While others join and leave, the steady participants' video never stalls: no gap over
//! 300 ms between decoded frames and at least 25 fps in every 1 s window.

use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};
use tessera_protocol::ServerMessage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_video_survives_joins_and_leaves() -> anyhow::Result<()> {
    let server = start_server().await;
    let mut red = TestPeer::join(server.addr, PeerOptions::publisher("steady", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("steady", "blue", BLUE, 1000.0)).await?;
    for p in [&red, &blue] {
        p.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;
    }
    let start = Instant::now();
    for round in 0..4 {
        // A publisher joins (relayout to 3 tiles) and a viewer joins; then both leave.
        let green = TestPeer::join(server.addr, PeerOptions::publisher("steady", "green", GREEN, 600.0)).await?;
        let viewer = TestPeer::join(server.addr, PeerOptions::viewer("steady", &format!("v{round}"))).await?;
        red.wait_for(secs(5), |p| shows_tiles(p, &[RED, BLUE, GREEN])).await?;
        viewer.wait_for(secs(5), |p| p.received().frames() > 5).await?;
        green.leave().await?;
        red.wait_for(secs(5), |p| shows_tiles(p, &[RED, BLUE])).await?;
        // The last one vanishes without `leave`.
        let gone = viewer.id();
        drop(viewer);
        red.wait_message(
            secs(2),
            |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == gone),
        )
        .await?;
    }
    // A further second of frames after the last leave belongs to the window.
    let more = red.received().frames() + 30;
    red.wait_for(secs(3), |p| p.received().frames() >= more).await?;
    let end = Instant::now();
    for (name, p) in [("red", &red), ("blue", &blue)] {
        let (gap, worst) = smoothness(&p.received().frame_arrivals(), start, end);
        println!(
            "{name}: over {:.1} s of joins and leaves, largest frame gap {gap:?}, worst 1 s window {worst} frames",
            (end - start).as_secs_f64()
        );
        assert!(gap < Duration::from_millis(300), "{name} stalled for {gap:?}");
        assert!(worst >= 25, "{name} dropped to {worst} fps");
    }
    server.stop().await;
    Ok(())
}
