//! Two rooms at once stay isolated: no colour or tone of one appears in the other.

mod common;

use common::*;
use tessera::client::{PeerOptions, TestPeer};

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
    for peer in [&a1, &a2, &b1, &b2] {
        peer.wait_for(secs(10), |p| p.received().audio_samples() > 48_000).await?;
    }
    // Steady state: the first second or two can hold the mixers' start-up gap.
    tokio::time::sleep(secs(3)).await;
    // Each peer hears its room-mate and nothing of the other room.
    let (room_a, room_b) = ([RED, BLUE], [GREEN, YELLOW]);
    let cases = [
        (&a1, 1000.0, [600.0, 1500.0], room_b),
        (&a2, 440.0, [600.0, 1500.0], room_b),
        (&b1, 1500.0, [440.0, 1000.0], room_a),
        (&b2, 600.0, [440.0, 1000.0], room_a),
    ];
    for (peer, mate, foreign, foreign_colours) in cases {
        let heard = peer.tone_dbfs(mate, 1500);
        assert!(heard > -20.0, "room-mate tone {mate} Hz at {heard:.1} dBFS");
        for f in foreign {
            let leak = peer.tone_dbfs(f, 1500);
            println!("{}: mate {mate} Hz {heard:.1} dBFS, foreign {f} Hz {leak:.1} dBFS", peer.id());
            assert!(leak < heard - 40.0, "tone {f} Hz leaked across rooms: {leak:.1} dBFS");
        }
        let frame = peer.received().latest_frame().unwrap();
        for i in 0..2 {
            let c = colour_in(&frame, tile(i, 2));
            assert!(
                foreign_colours.iter().all(|f| !tessera::client::close_to(c, *f, TOLERANCE)),
                "{c:?} from the other room"
            );
        }
    }
    drop((a1, a2, b1, b2));
    server.stop().await;
    Ok(())
}
