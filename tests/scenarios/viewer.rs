//! A receive-only viewer in a room of two publishers sees both tiles and hears both tones, and
//! costs the room no decoder, no mixer input and no tile; the composite is still encoded once.

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};

/// The room's pipeline inventory from `GET /api/rooms/{room}`.
async fn inventory(addr: std::net::SocketAddr, room: &str) -> serde_json::Value {
    let (status, detail) = http(addr, "GET", &format!("/api/rooms/{room}"), None).await;
    assert_eq!(status, 200, "{detail}");
    detail["pipeline"].clone()
}

fn count(inventory: &serde_json::Value, factory: &str) -> u64 {
    inventory["byFactory"][factory].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_sees_both_tiles_and_hears_both_tones() -> anyhow::Result<()> {
    let server = start_server().await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("show", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("show", "blue", BLUE, 1000.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;
    wait_tone(&red, 1000.0, -20.0, 500).await?;
    wait_tone(&blue, 440.0, -20.0, 500).await?;
    let before = inventory(server.addr, "show").await;

    let viewer = TestPeer::join(server.addr, PeerOptions::viewer("show", "watcher")).await?;
    assert_eq!(viewer.others_at_join().len(), 2);
    let waited = viewer
        .wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE]))
        .await
        .map_err(|e| anyhow::anyhow!("{e}; viewer sees {}", describe(&viewer, 2)))?;
    println!("viewer sees red|blue after {waited:?}: {}", describe(&viewer, 2));
    // The viewer is not a tile: the publishers still see a two-tile layout.
    red.wait_for(secs(5), |p| shows_tiles(p, &[RED, BLUE])).await?;

    // Measure once both tones fill the whole window (the mix's start-up gap has passed).
    viewer.wait_for(secs(15), |p| p.tone_dbfs(440.0, 1500) > -20.0 && p.tone_dbfs(1000.0, 1500) > -20.0).await?;
    let (a, b) = (viewer.tone_dbfs(440.0, 1500), viewer.tone_dbfs(1000.0, 1500));
    println!("viewer hears 440 Hz at {a:.1} dBFS and 1000 Hz at {b:.1} dBFS");
    assert!(a > -20.0 && b > -20.0, "the full mix carries both tones");

    // What the viewer cost the room: a webrtcbin and its egress, nothing that decodes or mixes.
    let after = inventory(server.addr, "show").await;
    println!("pipeline before the viewer: {before}");
    println!("pipeline with the viewer:   {after}");
    assert_eq!(count(&after, "webrtcbin"), count(&before, "webrtcbin") + 1, "the viewer has its own webrtcbin");
    for factory in ["vp8dec", "tesseraopusdec", "tesseramix", "tesseraopusenc", "compositor", "vp8enc"] {
        assert_eq!(count(&after, factory), count(&before, factory), "a viewer adds no {factory}");
    }
    assert_eq!(after["mixerInputs"], before["mixerInputs"], "a viewer adds no mixer input");
    assert_eq!(count(&after, "vp8enc"), 1, "the composite is encoded once");
    assert_eq!(count(&after, "vp8dec"), 2, "one video decoder per publisher");
    assert_eq!(count(&after, "tesseraopusdec"), 2, "one voice decoder per publisher");
    // The full mix for viewers and one mix-minus per publisher.
    assert_eq!(count(&after, "tesseraopusenc"), 3);
    drop((red, blue));
    server.stop().await;
    Ok(())
}
