//! Three rooms of three publishers, all nine joining at the same moment: everyone gets media —
//! exactly their own room's colours in their composite, and their two room-mates' tones (each
//! of the nine sends its own frequency) with no other room's tone and their own far below.

mod common;

use std::time::Instant;

use common::*;
use tessera::client::{PeerOptions, TestPeer, close_to};

const CYAN: [u8; 3] = [0, 255, 255];
const MAGENTA: [u8; 3] = [255, 0, 255];
const WHITE: [u8; 3] = [255, 255, 255];
const ORANGE: [u8; 3] = [255, 128, 0];
const PURPLE: [u8; 3] = [128, 0, 255];

/// A room-mate's tone is heard above this level (sent at −10 dBFS).
const HEARD_DBFS: f64 = -30.0;
/// Another room's tone, or one's own (mix-minus), stays below this level.
const ABSENT_DBFS: f64 = -50.0;

/// The tone of peer `n` of 9: 300, 400, … 1100 Hz.
fn tone(n: usize) -> f64 {
    300.0 + 100.0 * n as f64
}

/// True when the 3 tiles show exactly `palette`, in any order (join order is a race).
fn shows_palette(peer: &TestPeer, palette: &[[u8; 3]; 3]) -> bool {
    let Some(frame) = peer.received().latest_frame() else { return false };
    let seen: Vec<[u8; 3]> = (0..3).map(|i| colour_in(&frame, tile(i, 3))).collect();
    palette.iter().all(|c| seen.iter().filter(|s| close_to(**s, *c, TOLERANCE)).count() == 1)
}

/// Levels (dBFS) of all nine tones in the last 500 ms `peer` received.
fn levels(peer: &TestPeer) -> Vec<f64> {
    (0..9).map(|n| peer.tone_dbfs(tone(n), 500)).collect()
}

/// True when peer `n` hears its two room-mates and nobody else.
fn hears_its_room(n: usize, levels: &[f64]) -> bool {
    levels.iter().enumerate().all(|(m, db)| if m / 3 == n / 3 && m != n { *db > HEARD_DBFS } else { *db < ABSENT_DBFS })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nine_simultaneous_joins_in_three_rooms() -> anyhow::Result<()> {
    let server = start_server().await;
    let rooms = [("alpha", [RED, GREEN, BLUE]), ("beta", [YELLOW, CYAN, MAGENTA]), ("gamma", [WHITE, ORANGE, PURPLE])];
    let joins = rooms.iter().enumerate().flat_map(|(r, (room, palette))| {
        palette.iter().enumerate().map(move |(i, c)| {
            TestPeer::join(server.addr, PeerOptions::publisher(room, &format!("{room}-{i}"), *c, tone(r * 3 + i)))
        })
    });
    let joined = Instant::now();
    let peers = futures_util::future::try_join_all(joins).await?;
    for (n, peer) in peers.iter().enumerate() {
        let (room, palette) = &rooms[n / 3];
        peer.wait_for(secs(20), |p| shows_palette(p, palette))
            .await
            .map_err(|e| anyhow::anyhow!("{room} peer {n}: {e}; sees {}", describe(peer, 3)))?;
        let tiles_after = joined.elapsed();
        peer.wait_for(secs(10), |p| hears_its_room(n, &levels(p))).await.map_err(|e| {
            let heard: Vec<String> = levels(peer).iter().map(|db| format!("{db:.0}")).collect();
            anyhow::anyhow!("{room} peer {n}: {e}; tones 300..1100 Hz at {} dBFS", heard.join(" "))
        })?;
        let heard: Vec<String> = levels(peer).iter().map(|db| format!("{db:.0}")).collect();
        println!(
            "{room} peer {n}: its room's three tiles {tiles_after:?} after the joins, its room-mates' tones \
             {:?} after; tones 300..1100 Hz at [{}] dBFS",
            joined.elapsed(),
            heard.join(" ")
        );
    }
    drop(peers);
    server.stop().await;
    Ok(())
}
