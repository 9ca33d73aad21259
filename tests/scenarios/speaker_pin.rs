//! Pin in speaker mode: red is pinned while blue is much louder. Detection elects blue (everyone
//! hears `speakerChanged` for blue), yet the speaker slot keeps showing red for every frame
//! sampled over the next 2 s. Unpinned, blue moves into the slot within 500 ms.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::stage::*;
use tessera_client::{TestPeer, close_to};
use tessera_protocol::ServerMessage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pinned_participant_keeps_the_speaker_slot() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;
    let path = "/api/rooms/pin/layout";
    let mut red = TestPeer::join(addr, publisher("pin", "Red", RED, 440.0, 0.01)).await?;
    let body = format!(r#"{{"mode":"speaker","pinned":"{}"}}"#, red.id());
    assert_eq!(http_body(addr, "PUT", path, None, &body).await.0, 200);
    let _green = TestPeer::join(addr, publisher("pin", "Green", GREEN, 600.0, 0.003)).await?;
    let blue = TestPeer::join(addr, publisher("pin", "Blue", BLUE, 1000.0, 0.5)).await?;
    let slot = speaker_slot();

    // Detection picks blue...
    let blue_id = blue.id();
    red.wait_message(
        secs(15),
        |m| matches!(m, ServerMessage::SpeakerChanged { participant_id: Some(s) } if *s == blue_id),
    )
    .await?;
    // ...but the pinned red keeps the slot, frame after frame.
    let (mut samples, mut not_red) = (0, Vec::new());
    let until = Instant::now() + secs(2);
    while Instant::now() < until {
        let c = centre_of(&red, slot).expect("frames");
        samples += 1;
        if !close_to(c, RED, TOLERANCE) {
            not_red.push(c);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "blue is the detected speaker; the slot showed red in {}/{samples} samples over 2 s",
        samples - not_red.len()
    );
    assert!(samples >= 20 && not_red.is_empty(), "the slot left the pinned peer: {not_red:?}");

    // Unpinned, the detected speaker takes the slot.
    let asked = Instant::now();
    assert_eq!(http_body(addr, "PUT", path, None, r#"{"mode":"speaker"}"#).await.0, 200);
    red.wait_for(secs(2), |p| centre_of(p, slot).is_some_and(|c| close_to(c, BLUE, TOLERANCE))).await?;
    println!("unpinned: blue in the slot {:?} after the PUT", asked.elapsed());
    assert!(asked.elapsed() < Duration::from_millis(500));
    drop((red, blue));
    server.stop().await;
    Ok(())
}
