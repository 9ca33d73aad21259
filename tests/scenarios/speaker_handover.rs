//! A real hand-over of the active speaker: red talks and is elected speaker first (everyone
//! hears `speakerChanged` on the WebSocket and the DataChannel); then blue, silent until now,
//! starts a tone 14 dB louder. Blue takes the speaker slot after the ~1.5 s hold and within
//! 3 s of starting, the border follows it, and every peer hears the change on both channels.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::stage::*;
use tessera_client::{TestPeer, close_to};
use tessera_protocol::ServerMessage;

async fn speaker_is(
    peers: &mut [&mut TestPeer],
    who: tessera_protocol::ids::ParticipantId,
    within: Duration,
) -> anyhow::Result<()> {
    let id = who.to_string();
    for p in peers.iter_mut() {
        p.wait_message(within, |m| matches!(m, ServerMessage::SpeakerChanged { participant_id: Some(s) } if *s == who))
            .await?;
        p.wait_for(within, |p| channel_speaker_is(p, &id)).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_louder_talker_takes_over_from_the_speaker() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;
    let room = "handover";
    assert_eq!(
        http_body(addr, "PUT", &format!("/api/rooms/{room}/layout"), None, r#"{"mode":"speaker"}"#).await.0,
        404
    );
    // Red talks (-23 dBFS), green is nearly silent (-53), blue is silent.
    let mut red = TestPeer::join(addr, publisher(room, "Red", RED, 440.0, 0.1)).await?;
    let (status, _) = http_body(addr, "PUT", &format!("/api/rooms/{room}/layout"), None, r#"{"mode":"speaker"}"#).await;
    assert_eq!(status, 200);
    let mut green = TestPeer::join(addr, publisher(room, "Green", GREEN, 600.0, 0.003)).await?;
    let mut blue = TestPeer::join(addr, publisher(room, "Blue", BLUE, 1000.0, 0.0)).await?;
    let slot = speaker_slot();
    for p in [&red, &green, &blue] {
        p.wait_for(secs(15), |p| centre_of(p, slot).is_some_and(|c| close_to(c, RED, TOLERANCE))).await?;
    }
    let red_id = red.id();
    speaker_is(&mut [&mut red, &mut green, &mut blue], red_id, secs(5)).await?;
    println!("red is the speaker; blue starts its tone");

    set_volume(&blue, 0.5);
    let louder = Instant::now();
    red.wait_for(secs(5), |p| centre_of(p, slot).is_some_and(|c| close_to(c, BLUE, TOLERANCE)))
        .await
        .map_err(|e| anyhow::anyhow!("{e}; speaker slot shows {:?}", centre_of(&red, slot)))?;
    let took = louder.elapsed();
    let blue_id = blue.id();
    speaker_is(&mut [&mut red, &mut green, &mut blue], blue_id, secs(1)).await?;
    let told = louder.elapsed();
    println!("blue in the speaker slot {took:?} after it got louder; every peer told by {told:?}");
    assert!(took > Duration::from_millis(1200), "switched before the ~1.5 s hold: {took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");

    // The border in the speaker colour runs along blue's picture, at its left edge.
    let on_border = |p: &TestPeer| {
        p.received()
            .latest_frame()
            .is_some_and(|f| close_to(f.rgb_at(slot.x + 2, slot.y + slot.h / 2, 0), tessera::media::SPEAKER_BORDER, 40))
    };
    red.wait_for(secs(1), on_border).await?;
    drop((red, green, blue));
    server.stop().await;
    Ok(())
}
