//! Three rooms of three publishers, all nine joining at the same moment: everyone gets media,
//! with exactly their own room's colours in their composite.

mod common;

use common::*;
use tessera::client::{PeerOptions, TestPeer, close_to};

const CYAN: [u8; 3] = [0, 255, 255];
const MAGENTA: [u8; 3] = [255, 0, 255];
const WHITE: [u8; 3] = [255, 255, 255];
const ORANGE: [u8; 3] = [255, 128, 0];
const PURPLE: [u8; 3] = [128, 0, 255];

/// True when the 3 tiles show exactly `palette`, in any order (join order is a race).
fn shows_palette(peer: &TestPeer, palette: &[[u8; 3]; 3]) -> bool {
    let Some(frame) = peer.received().latest_frame() else { return false };
    let seen: Vec<[u8; 3]> = (0..3).map(|i| colour_in(&frame, tile(i, 3))).collect();
    palette.iter().all(|c| seen.iter().filter(|s| close_to(**s, *c, TOLERANCE)).count() == 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nine_simultaneous_joins_in_three_rooms() -> anyhow::Result<()> {
    let server = start_server().await;
    let rooms = [("alpha", [RED, GREEN, BLUE]), ("beta", [YELLOW, CYAN, MAGENTA]), ("gamma", [WHITE, ORANGE, PURPLE])];
    let joins = rooms.iter().flat_map(|(room, palette)| {
        palette.iter().enumerate().map(move |(i, c)| {
            TestPeer::join(
                server.addr,
                PeerOptions::publisher(room, &format!("{room}-{i}"), *c, 300.0 + 200.0 * i as f64),
            )
        })
    });
    let peers = futures_util::future::try_join_all(joins).await?;
    for (n, peer) in peers.iter().enumerate() {
        let (room, palette) = &rooms[n / 3];
        let waited = peer
            .wait_for(secs(20), |p| shows_palette(p, palette))
            .await
            .map_err(|e| anyhow::anyhow!("{room} peer {n}: {e}; sees {}", describe(peer, 3)))?;
        peer.wait_for(secs(10), |p| p.received().audio_samples() > 24_000).await?;
        println!("{room} peer {n}: its room's three tiles after {waited:?} more, {} frames", peer.received().frames());
    }
    drop(peers);
    server.stop().await;
    Ok(())
}
