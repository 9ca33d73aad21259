//! Three rooms of three publishers, all nine joining at the same moment: everyone gets media —
//! exactly their own room's colours in their composite, and their two room-mates' tones (each
//! of the nine sends its own frequency) with no other room's tone and their own far below.

use std::time::Instant;

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer, close_to};

const CYAN: [u8; 3] = [0, 255, 255];
const MAGENTA: [u8; 3] = [255, 0, 255];
const WHITE: [u8; 3] = [255, 255, 255];
const ORANGE: [u8; 3] = [255, 128, 0];
const PURPLE: [u8; 3] = [128, 0, 255];

/// A room-mate's tone is heard above this level (sent at −10 dBFS).
const HEARD_DBFS: f64 = -30.0;
/// Another room's tone stays below this level: the complement of `HEARD_DBFS`. A tone leaking
/// in from another room would arrive like a room-mate's (measured −10…−18 dBFS). What Opus
/// (32 kb/s) makes of two mixed tones does not, but puts noise beside them: 100 Hz from two
/// room-mates' tones it read −33…−37 dBFS over 4 runs (in `tone_dbfs`'s 200 ms windows), so a
/// −50 bound failed on the codec, not on the rooms. The condition is polled until it holds.
const OTHER_ROOM_DBFS: f64 = -30.0;
/// One's own tone (mix-minus) stays this far below the room-mates' (issue 3 asks for 30 dB).
const OWN_BELOW_DB: f64 = 30.0;

/// Each room's three tones (Hz): 300 to 1100 Hz, shared out so that one's own tone is at least
/// 200 Hz from both room-mates' and from their harmonics and intermodulation products, where
/// the codec's noise would otherwise read as a failure of mix-minus.
const TONES: [[f64; 3]; 3] = [[300.0, 800.0, 1000.0], [400.0, 600.0, 900.0], [500.0, 700.0, 1100.0]];

/// The tone of peer `n` of 9 (room `n / 3`).
fn tone(n: usize) -> f64 {
    TONES[n / 3][n % 3]
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

/// True when peer `n` hears its two room-mates, no other room, and itself 30 dB below them.
fn hears_its_room(n: usize, levels: &[f64]) -> bool {
    let mates: Vec<f64> = (0..9).filter(|m| m / 3 == n / 3 && *m != n).map(|m| levels[m]).collect();
    let quietest_mate = mates.iter().copied().fold(f64::INFINITY, f64::min);
    quietest_mate > HEARD_DBFS
        && levels[n] < quietest_mate - OWN_BELOW_DB
        && (0..9).filter(|m| m / 3 != n / 3).all(|m| levels[m] < OTHER_ROOM_DBFS)
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
            anyhow::anyhow!("{room} peer {n}: {e}; tones (room by room) at {} dBFS", heard.join(" "))
        })?;
        let heard: Vec<String> = levels(peer).iter().map(|db| format!("{db:.0}")).collect();
        println!(
            "{room} peer {n}: its room's three tiles {tiles_after:?} after the joins, its room-mates' tones \
             {:?} after; tones (room by room) at [{}] dBFS",
            joined.elapsed(),
            heard.join(" ")
        );
    }
    drop(peers);
    server.stop().await;
    Ok(())
}
