//! Two publishers in one room: each receives the composite with both tiles where the layout
//! puts them, hears the other's tone, and does not hear its own (mix-minus).

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_publishers_see_both_tiles_and_hear_only_the_other() -> anyhow::Result<()> {
    let server = start_server().await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("duo", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("duo", "blue", BLUE, 1000.0)).await?;
    assert_eq!(blue.others_at_join().len(), 1);
    assert_eq!(blue.others_at_join()[0].id, red.id());

    for (name, peer) in [("red", &red), ("blue", &blue)] {
        let waited = peer
            .wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE]))
            .await
            .map_err(|e| anyhow::anyhow!("{name}: {e}; sees {}", describe(peer, 2)))?;
        println!("{name} sees red|blue after {waited:?}: {}", describe(peer, 2));
    }
    // Measure each once it hears the other steadily over the whole 1.5 s window (the first
    // second of a mix can hold its start-up gap).
    wait_tone(&red, 1000.0, -20.0, 1500).await?;
    let (red_hears_blue, red_hears_self) = (red.tone_dbfs(1000.0, 1500), red.tone_dbfs(440.0, 1500));
    wait_tone(&blue, 440.0, -20.0, 1500).await?;
    let (blue_hears_red, blue_hears_self) = (blue.tone_dbfs(440.0, 1500), blue.tone_dbfs(1000.0, 1500));
    println!("red hears blue {red_hears_blue:.1} dBFS, itself {red_hears_self:.1} dBFS");
    println!("blue hears red {blue_hears_red:.1} dBFS, itself {blue_hears_self:.1} dBFS");
    assert!(red_hears_blue - red_hears_self >= 30.0, "mix-minus: red's own tone must be 30 dB below");
    assert!(blue_hears_red - blue_hears_self >= 30.0, "mix-minus: blue's own tone must be 30 dB below");
    server.stop().await;
    Ok(())
}
