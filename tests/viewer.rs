//! A receive-only viewer in a room of two publishers sees both tiles and hears both tones,
//! and costs the room no tile.

mod common;

use common::*;
use tessera::client::{PeerOptions, TestPeer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_sees_both_tiles_and_hears_both_tones() -> anyhow::Result<()> {
    let server = start_server().await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("show", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("show", "blue", BLUE, 1000.0)).await?;
    let viewer = TestPeer::join(server.addr, PeerOptions::viewer("show", "watcher")).await?;
    assert_eq!(viewer.others_at_join().len(), 2);

    let waited = viewer
        .wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE]))
        .await
        .map_err(|e| anyhow::anyhow!("{e}; viewer sees {}", describe(&viewer, 2)))?;
    println!("viewer sees red|blue after {waited:?}: {}", describe(&viewer, 2));
    // The viewer is not a tile: the publishers still see a two-tile layout.
    red.wait_for(secs(5), |p| shows_tiles(p, &[RED, BLUE])).await?;

    viewer.wait_for(secs(10), |p| p.tone_dbfs(440.0, 1000) > -30.0 && p.tone_dbfs(1000.0, 1000) > -30.0).await?;
    // Steady state: the first second or two can hold the mixers' start-up gap.
    tokio::time::sleep(secs(3)).await;
    let (a, b) = (viewer.tone_dbfs(440.0, 1500), viewer.tone_dbfs(1000.0, 1500));
    println!("viewer hears 440 Hz at {a:.1} dBFS and 1000 Hz at {b:.1} dBFS");
    assert!(a > -20.0 && b > -20.0, "the full mix carries both tones");
    drop((red, blue));
    server.stop().await;
    Ok(())
}
