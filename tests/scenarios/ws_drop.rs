//! A WebSocket that drops without `leave`: the participant is removed and the others get
//! `participantLeft` within 2 s.

use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::{PeerOptions, Signaling, TestPeer};
use tessera_protocol::{ClientMessage, Role, ServerMessage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_socket_is_removed_within_2s() -> anyhow::Result<()> {
    let server = start_server().await;
    let mut red = TestPeer::join(server.addr, PeerOptions::publisher("drops", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("drops", "blue", BLUE, 1000.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;

    // A connected publisher whose signaling connection dies (the socket is dropped, no close frame).
    let blue_id = blue.id();
    let dropped = Instant::now();
    drop(blue);
    red.wait_message(
        secs(2),
        |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == blue_id),
    )
    .await?;
    let took = dropped.elapsed();
    red.wait_for(secs(2), |p| shows_tiles(p, &[RED])).await?;
    println!("publisher's dropped socket: participantLeft after {took:?}");

    // A half-joined client (joined, never answered) that vanishes.
    let mut raw = Signaling::connect(server.addr).await?;
    raw.send(&ClientMessage::Join { room: "drops".into(), name: "ghost".into(), role: Role::Viewer, token: None })
        .await?;
    let Some(ServerMessage::Joined { participant_id: ghost, .. }) = raw.recv_timeout(secs(5)).await? else {
        panic!("expected joined")
    };
    red.wait_message(secs(2), |m| matches!(m, ServerMessage::ParticipantJoined { .. })).await?;
    let dropped = Instant::now();
    drop(raw);
    red.wait_message(
        secs(2),
        |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == ghost),
    )
    .await?;
    println!("unanswered viewer's dropped socket: participantLeft after {:?}", dropped.elapsed());
    assert!(took < Duration::from_secs(2));
    // The room goes on: the next 30 frames come at the canvas rate.
    let (from, more) = (Instant::now(), red.received().frames() + 30);
    red.wait_for(secs(3), |p| p.received().frames() >= more).await?;
    let (gap, worst) = smoothness(&red.received().frame_arrivals(), from, Instant::now());
    println!("red afterwards: 30 frames in {:?}, largest gap {gap:?}", from.elapsed());
    assert!(gap < Duration::from_millis(300) && from.elapsed() < Duration::from_millis(1200), "{worst}");
    server.stop().await;
    Ok(())
}
