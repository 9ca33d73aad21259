//! Joining a live room is fast: the newcomer's tile appears in the others' composite within
//! 1.5 s of its join, its first decodable frame within 1 s of its ICE connection, and a burst of
//! 8 joins in 2 s forces at most one keyframe per `min-force-key-unit-interval` (0.8 s).

mod common;

use std::time::{Duration, Instant};

use common::*;
use tessera::client::{PeerOptions, TestPeer, close_to};
use tessera::media::mixer::MIN_KEYFRAME_INTERVAL;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newcomers_appear_fast_and_bursts_share_keyframes() -> anyhow::Result<()> {
    let server = start_server().await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("lobby", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("lobby", "blue", BLUE, 1000.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;

    // One newcomer: its tile in the others' composite, its own first frame.
    let joined_at = Instant::now();
    let green = TestPeer::join(server.addr, PeerOptions::publisher("lobby", "green", GREEN, 600.0)).await?;
    red.wait_for(secs(5), |p| shows_tiles(p, &[RED, BLUE, GREEN])).await?;
    let tile_after = joined_at.elapsed();
    green.wait_for(secs(5), |p| p.received().first_frame_at().is_some()).await?;
    let connected = green.received().connected_at().expect("connected before its first frame");
    let first_frame = green.received().first_frame_at().unwrap() - connected;
    println!(
        "newcomer tile visible to others {tile_after:?} after join; its first frame {first_frame:?} after ICE connected"
    );
    assert!(tile_after < Duration::from_millis(1500), "tile took {tile_after:?}");
    assert!(first_frame < Duration::from_secs(1), "first frame took {first_frame:?}");

    // A burst: 8 viewers in 2 s, watched by a packet-counting viewer that sees every keyframe.
    let counter =
        TestPeer::join(server.addr, PeerOptions { decode: false, ..PeerOptions::viewer("lobby", "counter") }).await?;
    counter.wait_for(secs(5), |p| p.received().rtp().keyframes > 0).await?;
    let keyframes_before = counter.received().rtp().keyframes;
    let burst_start = Instant::now();
    let mut burst = Vec::new();
    for i in 0..8 {
        burst.push(TestPeer::join(server.addr, PeerOptions::viewer("lobby", &format!("burst-{i}"))).await?);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut worst = Duration::ZERO;
    for p in &burst {
        p.wait_for(secs(5), |p| p.received().first_frame_at().is_some()).await?;
        let wait = p.received().first_frame_at().unwrap() - p.received().connected_at().unwrap();
        worst = worst.max(wait);
    }
    let last_connected = burst.iter().filter_map(|p| p.received().connected_at()).max().unwrap();
    let window = (last_connected - burst_start).as_secs_f64() + 1.0;
    tokio::time::sleep((last_connected + secs(1)).saturating_duration_since(Instant::now())).await;
    let forced = counter.received().rtp().keyframes - keyframes_before;
    let arrivals = counter.received().keyframe_arrivals();
    let closest = arrivals
        .windows(2)
        .filter(|w| w[0] >= burst_start)
        .map(|w| w[1] - w[0])
        .min()
        .expect("8 joins over 2 s force at least two keyframes");
    println!(
        "burst of 8 joins over {window:.1} s: {forced} keyframes, closest two {closest:?} apart \
         (interval {MIN_KEYFRAME_INTERVAL:?}); worst first frame {worst:?} after connect"
    );
    assert!(forced < 8, "{forced} keyframes for 8 joins: requests are not merged");
    // Arrival jitter on loopback is a few ms; allow 50 ms.
    assert!(closest + Duration::from_millis(50) >= MIN_KEYFRAME_INTERVAL, "two keyframes only {closest:?} apart");
    assert!(worst < Duration::from_secs(1), "a burst joiner waited {worst:?} for its first frame");
    assert!(close_to(colour_in(&red.received().latest_frame().unwrap(), tile(2, 3)), GREEN, TOLERANCE));
    drop((blue, green, burst));
    server.stop().await;
    Ok(())
}
