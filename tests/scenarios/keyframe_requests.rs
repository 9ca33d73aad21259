//! PLI and FIR from a connected receiver reach the room's one encoder: each request is answered
//! by a keyframe within 500 ms, and a receiver hammering the server with requests gets at most
//! one keyframe per `min-force-key-unit-interval` (0.8 s), never a keyframe storm.

use std::time::{Duration, Instant};

use crate::common::*;
use tessera::media::MIN_KEYFRAME_INTERVAL;
use tessera_client::{PeerOptions, TestPeer};

/// Keyframes that started arriving at `peer` after `since`.
fn keyframes_since(peer: &TestPeer, since: Instant) -> Vec<Instant> {
    peer.received().keyframe_arrivals().into_iter().filter(|t| *t > since).collect()
}

/// Waits until `peer`'s last keyframe is at least `quiet` old (time is what is waited for: the
/// encoder's rate limit must have expired before a request can be timed).
async fn quiet_for(peer: &TestPeer, quiet: Duration) -> anyhow::Result<()> {
    peer.wait_for(secs(10), |p| p.received().keyframe_arrivals().last().is_some_and(|t| t.elapsed() >= quiet))
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pli_and_fir_are_answered_and_rate_limited() -> anyhow::Result<()> {
    let server = start_server().await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("kf", "red", RED, 440.0)).await?;
    let viewer = TestPeer::join(server.addr, PeerOptions::viewer("kf", "watcher")).await?;
    viewer.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;

    // Single requests, each answered promptly. The periodic keyframe is 10 s away and restarts
    // after every keyframe, so whatever arrives within 500 ms was forced by the request.
    for (what, fir) in [("PLI", false), ("FIR", true), ("PLI", false)] {
        quiet_for(&viewer, secs(1)).await?;
        let asked = Instant::now();
        assert!(viewer.request_keyframe(fir), "the viewer has a video stream to ask on");
        viewer.wait_for(secs(2), |p| !keyframes_since(p, asked).is_empty()).await?;
        let took = keyframes_since(&viewer, asked)[0] - asked;
        println!("{what}: keyframe {took:?} after the request");
        assert!(took < Duration::from_millis(500), "{what} answered after {took:?}");
    }

    // A receiver asking 20 times a second for 2 s shares keyframes, one per interval at most.
    quiet_for(&viewer, secs(1)).await?;
    let start = Instant::now();
    let mut requests = 0;
    while start.elapsed() < secs(2) {
        viewer.request_keyframe(false);
        requests += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let end = Instant::now();
    // Time is what is waited for here: the last request's keyframe, if any, to arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let keyframes = keyframes_since(&viewer, start);
    let spacing: Vec<Duration> = keyframes.windows(2).map(|w| w[1] - w[0]).collect();
    println!("{requests} PLIs in {:?} -> {} keyframes, spaced {spacing:?}", end - start, keyframes.len());
    let allowed = (end - start).as_secs_f64() / MIN_KEYFRAME_INTERVAL.as_secs_f64() + 1.0;
    assert!(keyframes.len() >= 2, "requests during 2 s were answered: {keyframes:?}");
    assert!(keyframes.len() as f64 <= allowed.ceil(), "{} keyframes for {requests} PLIs", keyframes.len());
    // Arrival jitter on a loaded machine: allow 100 ms below the encoder's interval.
    let min_gap = MIN_KEYFRAME_INTERVAL - Duration::from_millis(100);
    assert!(spacing.iter().all(|d| *d >= min_gap), "keyframes closer than {MIN_KEYFRAME_INTERVAL:?}: {spacing:?}");
    drop((red, viewer));
    server.stop().await;
    Ok(())
}
