//! Redis dies under a running fleet (`kill -9`, and its keys with it: no persistence) and comes
//! back on the same port. Meanwhile the room already running goes on undisturbed (frames keep
//! arriving at the composite rate, a newcomer on its own node still gets in), and a new room is
//! refused with `fleet_unavailable`. Once Redis is back, the nodes register again, the running
//! room is re-claimed by its node (a join elsewhere is redirected to it) and new rooms open.

use std::time::{Duration, Instant};

use tessera_client::{PeerOptions, TestPeer};
use tessera_protocol::ErrorCode;

use crate::common::fleet::{Redis, TTL, fleet_log, join_until, start_nodes};
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_room_survives_a_redis_restart_and_the_fleet_recovers() -> anyhow::Result<()> {
    let redis = Redis::start().await?;
    let nodes = start_nodes(&redis, 2).await?;
    let publisher = TestPeer::join(nodes[0].addr, PeerOptions::publisher("steady", "P", RED, 440.0)).await?;
    // The room went to the less loaded node (CPU counts): `home` runs it, `other` does not.
    let home = publisher.server();
    let other = nodes.iter().map(|n| n.addr).find(|a| *a != home).unwrap();
    publisher.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;

    let port = redis.kill().await?;
    let down = Instant::now();
    // Longer than the lease: were Redis there, every key would have expired by now.
    let frames = publisher.received().frames();
    let refused = TestPeer::join(other, PeerOptions::publisher("fresh", "N", GREEN, 660.0)).await;
    let error = refused.err().map(|e| format!("{e:#}")).unwrap_or_default();
    assert!(error.contains(&format!("{:?}", ErrorCode::FleetUnavailable)), "a new room without Redis: {error}");
    let viewer = TestPeer::join(home, PeerOptions::viewer("steady", "V")).await?;
    viewer.wait_for(secs(10), |p| shows_tiles(p, &[RED])).await?;
    tokio::time::sleep((TTL + Duration::from_millis(500)).saturating_sub(down.elapsed())).await;
    let (got, took) = (publisher.received().frames() - frames, down.elapsed());
    // The test composite runs at 30 fps; allow for the machine's load, not for a stall.
    let wanted = (took.as_secs_f64() * 30.0 * 0.6) as u64;
    assert!(got >= wanted, "{got} frames in {took:?} with Redis down (want {wanted})");
    assert!(shows_tiles(&publisher, &[RED]), "{}", describe(&publisher, 1));

    let _redis = Redis::start_on(port).await?;
    let back = Instant::now();
    // The running room is re-claimed by its node: a join on the other node is sent there.
    let late = join_until(other, &PeerOptions::viewer("steady", "Late"), secs(5)).await?;
    assert_eq!(
        late.server(),
        home,
        "the running room moved ({:?} after Redis came back); the nodes' fleet log:\n{}",
        back.elapsed(),
        fleet_log(&nodes, &["fleet", "registry", "placing", "placed", "holds this room"])
    );
    late.wait_for(secs(10), |p| shows_tiles(p, &[RED])).await?;
    // New rooms wait a whole lease after the first node found Redis empty.
    let fresh = join_until(other, &PeerOptions::publisher("fresh", "N", GREEN, 660.0), TTL + secs(5)).await?;
    fresh.wait_for(secs(15), |p| shows_tiles(p, &[GREEN])).await?;
    println!(
        "Redis down {took:?}: {got} frames meanwhile; after its restart new rooms open again within {:?}",
        back.elapsed()
    );
    Ok(())
}
