//! Two rooms at once stay isolated: no colour or tone of one appears in the other.

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rooms_stay_isolated() -> anyhow::Result<()> {
    let server = start_server().await;
    let a1 = TestPeer::join(server.addr, PeerOptions::publisher("room-a", "red", RED, 440.0)).await?;
    let a2 = TestPeer::join(server.addr, PeerOptions::publisher("room-a", "blue", BLUE, 1000.0)).await?;
    let b1 = TestPeer::join(server.addr, PeerOptions::publisher("room-b", "green", GREEN, 600.0)).await?;
    let b2 = TestPeer::join(server.addr, PeerOptions::publisher("room-b", "yellow", YELLOW, 1500.0)).await?;
    assert!(b1.others_at_join().is_empty(), "room-b starts empty whatever room-a holds");

    for (peer, colours) in [(&a1, [RED, BLUE]), (&a2, [RED, BLUE]), (&b1, [GREEN, YELLOW]), (&b2, [GREEN, YELLOW])] {
        peer.wait_for(secs(20), |p| shows_tiles(p, &colours))
            .await
            .map_err(|e| anyhow::anyhow!("{e}; sees {}", describe(peer, 2)))?;
    }
    // Each peer hears its room-mate and nothing of the other room.
    let (room_a, room_b) = ([RED, BLUE], [GREEN, YELLOW]);
    let cases = [
        (&a1, 1000.0, [600.0, 1500.0], room_b),
        (&a2, 440.0, [600.0, 1500.0], room_b),
        (&b1, 1500.0, [440.0, 1000.0], room_a),
        (&b2, 600.0, [440.0, 1000.0], room_a),
    ];
    // Every peer hears its room-mate; then one more window passes, so the measured one holds
    // none of a join's first moments (the mixer resyncs a newcomer's audio to its video then,
    // and a step in a tone spreads over every frequency: once 26 dB below the mate, in CI).
    for (peer, mate, _, _) in &cases {
        wait_tone(peer, *mate, -20.0, 1500).await?;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for (peer, mate, foreign, foreign_colours) in cases {
        let heard = peer.tone_dbfs(mate, 1500);
        assert!(heard > -25.0, "room-mate tone {mate} Hz at {heard:.1} dBFS");
        for f in foreign {
            let leak = peer.tone_dbfs(f, 1500);
            println!("{}: mate {mate} Hz {heard:.1} dBFS, foreign {f} Hz {leak:.1} dBFS", peer.id());
            // A leaked tone would arrive at mix level (within a few dB of `heard`); what is
            // measured at the other room's frequencies is the floor of the Opus codec's products
            // of the mate's tone: 38-45 dB below `heard`.
            assert!(leak < heard - 30.0, "tone {f} Hz leaked across rooms: {leak:.1} dBFS");
        }
        // Not a pixel of the other room's colours anywhere in the composite (a 16x9 grid of
        // points over the whole frame: tiles, letterbox bars and labels).
        let frame = peer.received().latest_frame().unwrap();
        let foreign = points_showing(&frame, &foreign_colours);
        assert!(foreign.is_empty(), "colours of the other room at {foreign:?}");
        let own = points_showing(&frame, if foreign_colours == room_b { &room_a } else { &room_b });
        println!("{}: {} of 144 grid points show its room's colours, none the other's", peer.id(), own.len());
        assert!(own.len() >= 40, "the grid sees this room's own tiles: {own:?}");
    }
    drop((a1, a2, b1, b2));
    server.stop().await;
    Ok(())
}
