//! One participant flooding `mute` cannot flood the room: after a burst of 10, its messages are
//! refused with `rate_limited` (to it alone), the others hear at most the burst plus the refill,
//! everyone's video keeps flowing, and a second later a `mute` is accepted again.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::stage::*;
use tessera_client::TestPeer;
use tessera_protocol::{ClientMessage, ErrorCode, ServerMessage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mute_flood_is_cut_off() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;
    let mut red = TestPeer::join(addr, publisher("flood", "Red", RED, 440.0, 0.1)).await?;
    let mut blue = TestPeer::join(addr, publisher("flood", "Blue", BLUE, 1000.0, 0.1)).await?;
    blue.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;
    let start = Instant::now();
    for i in 0..200 {
        red.send(ClientMessage::Mute { audio: i % 2 == 0, video: false })?;
    }
    let refused = red.wait_message(secs(2), |m| matches!(m, ServerMessage::Error { .. })).await?;
    assert!(matches!(refused, ServerMessage::Error { code: ErrorCode::RateLimited, .. }), "{refused:?}");
    // Count what blue was told over the next second.
    let mut told = 0;
    let until = Instant::now() + secs(1);
    while let Some(m) = blue.next_message(until.saturating_duration_since(Instant::now())).await {
        told += usize::from(matches!(m, ServerMessage::MuteChanged { .. }));
        assert!(!matches!(m, ServerMessage::Error { .. }), "only the sender hears the refusal: {m:?}");
    }
    println!("200 mute messages sent: blue was told of {told} changes; red was refused with rate_limited");
    assert!((10..=14).contains(&told), "{told}");
    let (gap, worst) = smoothness(&blue.received().frame_arrivals(), start, Instant::now());
    println!("blue's video through the flood: largest gap {gap:?}, worst 1 s window {worst} frames");
    assert!(gap < Duration::from_millis(300) && worst >= 25);

    // The budget refills: a mute a second later goes through.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    while red.next_message(Duration::from_millis(10)).await.is_some() {}
    red.send(ClientMessage::Mute { audio: true, video: true })?;
    let red_id = red.id();
    blue.wait_message(
        secs(2),
        |m| matches!(m, ServerMessage::MuteChanged { participant_id, video: true, .. } if *participant_id == red_id),
    )
    .await?;
    drop((red, blue));
    server.stop().await;
    Ok(())
}
