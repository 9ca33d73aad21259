//! Joining a live room is fast: the newcomer's tile appears in every other participant's
//! composite within 1.5 s of its `join`, its first decodable frame arrives within 1 s of its
//! ICE connection, and a burst of 8 joins within 2 s forces at most one keyframe per
//! `min-force-key-unit-interval` (0.8 s here), far fewer keyframes than joins.

use std::time::{Duration, Instant};

use crate::common::*;
use tessera::media::MIN_KEYFRAME_INTERVAL;
use tessera_client::{PeerOptions, TestPeer};

/// Joins in the burst, and the spacing of their `join` messages.
const BURST: usize = 8;
const STAGGER: Duration = Duration::from_millis(250);

/// How long a peer waited from ICE connected to its first decoded frame.
fn first_frame_after_ice(p: &TestPeer) -> Duration {
    let ice = p.received().ice_connected_at().expect("ICE connected before the first frame");
    p.received().first_frame_at().expect("a first frame") - ice
}

/// Waits until the newcomer's tile (3rd of 3, green) shows in each steady peer's composite;
/// returns, per peer, the time since the newcomer's `join` was sent.
async fn tile_seen_by(steady: &[&TestPeer], since: Instant) -> anyhow::Result<Vec<Duration>> {
    let mut seen = vec![None; steady.len()];
    while seen.iter().any(Option::is_none) {
        anyhow::ensure!(since.elapsed() < secs(5), "newcomer's tile missing: {:?}", seen);
        for (i, p) in steady.iter().enumerate() {
            if seen[i].is_none() && shows_tiles(p, &[RED, BLUE, GREEN]) {
                seen[i] = Some(since.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(seen.into_iter().flatten().collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newcomers_appear_fast_and_bursts_share_keyframes() -> anyhow::Result<()> {
    let server = start_server().await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("lobby", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("lobby", "blue", BLUE, 1000.0)).await?;
    for p in [&red, &blue] {
        p.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;
    }

    // One newcomer: its tile in every other participant's composite, its own first frame.
    let green = TestPeer::join(server.addr, PeerOptions::publisher("lobby", "green", GREEN, 600.0)).await?;
    let tile_after = tile_seen_by(&[&red, &blue], green.join_sent_at()).await?;
    green.wait_for(secs(5), |p| p.received().first_frame_at().is_some()).await?;
    let first_frame = first_frame_after_ice(&green);
    println!(
        "newcomer's tile visible {:?} after its join (red, blue); its first frame {first_frame:?} after ICE connected",
        tile_after
    );
    for t in &tile_after {
        assert!(*t < Duration::from_millis(1500), "tile took {t:?}");
    }
    assert!(first_frame < Duration::from_secs(1), "first frame took {first_frame:?}");

    // A burst: 8 viewers whose joins go out 250 ms apart, watched by a packet-counting viewer
    // that sees every keyframe of the composite.
    let counter =
        TestPeer::join(server.addr, PeerOptions { decode: false, ..PeerOptions::viewer("lobby", "counter") }).await?;
    counter.wait_for(secs(5), |p| p.received().rtp().keyframes > 0).await?;
    let before = counter.received().keyframe_arrivals().len();
    let joins = (0..BURST).map(|i| {
        let addr = server.addr;
        async move {
            tokio::time::sleep(STAGGER * i as u32).await;
            TestPeer::join(addr, PeerOptions::viewer("lobby", &format!("burst-{i}"))).await
        }
    });
    let burst = futures_util::future::try_join_all(joins).await?;
    let sent: Vec<Instant> = burst.iter().map(TestPeer::join_sent_at).collect();
    let (first_sent, last_sent) = (*sent.iter().min().unwrap(), *sent.iter().max().unwrap());
    let mut worst = Duration::ZERO;
    for p in &burst {
        p.wait_for(secs(5), |p| p.received().first_frame_at().is_some()).await?;
        worst = worst.max(first_frame_after_ice(p));
    }
    let last_first_frame = burst.iter().filter_map(|p| p.received().first_frame_at()).max().unwrap();
    // Every request of the burst has been answered once each joiner has its first frame; one
    // more interval lets a late, merged keyframe show up in the count.
    let window_end = last_first_frame + MIN_KEYFRAME_INTERVAL;
    counter.wait_for(secs(5), |_| Instant::now() >= window_end).await?;
    let arrivals = counter.received().keyframe_arrivals();
    // The keyframe just before the burst counts for the spacing (a forced one must not follow it
    // too closely), not for the burst's count.
    let spacing_from = before.saturating_sub(1);
    let burst_keyframes: Vec<Instant> =
        arrivals[before..].iter().copied().filter(|t| *t >= first_sent && *t <= window_end).collect();
    // Spacing on the encoder's clock (RTP timestamps, 90 kHz): arrival times add the jitter of a
    // loaded machine to it.
    let stamps = counter.received().keyframe_timestamps();
    let closest = stamps[spacing_from..]
        .windows(2)
        .map(|w| Duration::from_micros(u64::from(w[1].wrapping_sub(w[0])) * 1000 / 90))
        .min()
        .unwrap_or(Duration::MAX);
    let ice: Vec<Instant> = burst.iter().filter_map(|p| p.received().ice_connected_at()).collect();
    let requests_span = *ice.iter().max().unwrap() - *ice.iter().min().unwrap();
    let allowed = (requests_span.as_secs_f64() / MIN_KEYFRAME_INTERVAL.as_secs_f64()).ceil() as usize + 1;
    println!(
        "burst: {BURST} joins sent within {:?}; their ICE connections spread over {requests_span:?}; \
         {} keyframes (at most {allowed} allowed at one per {MIN_KEYFRAME_INTERVAL:?}), closest two {closest:?} apart; \
         worst first frame {worst:?} after ICE connected",
        last_sent - first_sent,
        burst_keyframes.len()
    );
    assert!(last_sent - first_sent < secs(2), "the 8 joins took {:?} to send", last_sent - first_sent);
    // One frame period (33 ms) of rounding: the encoder forces the key unit on the first frame at
    // or after the interval.
    assert!(closest + Duration::from_millis(34) >= MIN_KEYFRAME_INTERVAL, "two keyframes only {closest:?} apart");
    assert!(burst_keyframes.len() <= allowed, "more than one keyframe per interval");
    assert!(burst_keyframes.len() * 2 <= BURST, "{} keyframes for {BURST} joins", burst_keyframes.len());
    assert!(!burst_keyframes.is_empty(), "no keyframe was forced for the newcomers");
    assert!(worst < Duration::from_secs(1), "a burst joiner waited {worst:?} for its first frame");
    drop((blue, green, burst));
    server.stop().await;
    Ok(())
}
