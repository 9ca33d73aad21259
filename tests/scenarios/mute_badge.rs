//! The muted badge follows a client's `mute` message, read from decoded pixels: red keeps
//! sending an audible tone (so the silence rule cannot be what draws it), mutes its microphone,
//! and the red badge with its white microphone appears in the badge's place on red's tile;
//! after unmute it is gone. Blue's tile never gets one.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::stage::*;
use tessera::draw::MUTED_RED;
use tessera::layout::{self, Rect};
use tessera_client::{Frame, TestPeer, close_to};
use tessera_protocol::{ClientMessage, ServerMessage};

/// The share of `badge`'s pixels in the badge's red or its white icon.
fn badge_share(frame: &Frame, badge: Rect) -> f64 {
    let drawn = count(frame, badge, |c| close_to(c, MUTED_RED, 40) || white(c));
    drawn as f64 / f64::from(badge.w * badge.h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badge_on_mute_and_gone_on_unmute() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;
    let red = TestPeer::join(addr, publisher("mute", "Red", RED, 440.0, 0.2)).await?;
    let mut blue = TestPeer::join(addr, publisher("mute", "Blue", BLUE, 1000.0, 0.2)).await?;
    blue.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;
    let badge_of = |i| layout::decorations(CANVAS, tile(i, 2)).badge.expect("a 2-up tile has room for a badge");
    let (red_badge, blue_badge) = (badge_of(0), badge_of(1));
    let share = |p: &TestPeer, r: Rect| p.received().latest_frame().map_or(0.0, |f| badge_share(&f, r));
    println!(
        "badge place on red's tile {red_badge:?}; before mute {:.2} of it is badge-coloured",
        share(&blue, red_badge)
    );
    assert!(share(&blue, red_badge) < 0.05, "no badge before muting");

    let red_id = red.id();
    let muted = Instant::now();
    red.send(ClientMessage::Mute { audio: true, video: false })?;
    blue.wait_message(
        secs(2),
        |m| matches!(m, ServerMessage::MuteChanged { participant_id, audio: true, .. } if *participant_id == red_id),
    )
    .await?;
    blue.wait_for(secs(2), |p| share(p, red_badge) > 0.8).await?;
    let shown = muted.elapsed();
    let f = blue.received().latest_frame().unwrap();
    let icon = count(&f, red_badge, white);
    println!(
        "badge drawn {shown:?} after mute: {:.2} of its place, {icon} white icon pixels",
        badge_share(&f, red_badge)
    );
    assert!(shown < Duration::from_secs(1));
    assert!(icon >= 20, "the microphone icon is drawn on the badge");
    assert!(share(&blue, blue_badge) < 0.05, "no badge on the unmuted blue");

    let unmuted = Instant::now();
    red.send(ClientMessage::Mute { audio: false, video: false })?;
    blue.wait_for(secs(2), |p| share(p, red_badge) < 0.05).await?;
    let gone = unmuted.elapsed();
    println!("badge gone {gone:?} after unmute ({:.2} of its place left)", share(&blue, red_badge));
    assert!(gone < Duration::from_secs(1));
    drop((red, blue));
    server.stop().await;
    Ok(())
}
