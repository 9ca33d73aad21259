//! A node of a fleet dies (`kill -9`) under a room: a test peer and a Chromium page that were in
//! it come back through the node they first reached, and are in the room again, on another
//! node, with video. The lease of the dead node's entry (the test's `--fleet-ttl-ms`) dominates
//! the time to return; the test measures it from the kill to the first frames decoded again.

use std::time::{Duration, Instant};

use tessera_client::{PeerOptions, TestPeer};

use crate::common::browser::{Browser, Kind, page};
use crate::common::fleet::{Redis, TTL, index_of, join_until, rooms_until, start_nodes};
use crate::common::*;

/// Beyond the lease: the page's backoff between attempts (0.5, 1, 2 s…), a join and the first
/// keyframe. Measured here: about 4–5 s from the kill with a 3 s lease (docs/deployment.md).
const BEYOND_LEASE: Duration = Duration::from_secs(5);

/// The peer's own yellow somewhere in the composite it receives.
fn shows_yellow(peer: &TestPeer) -> bool {
    peer.received().latest_frame().is_some_and(|f| !points_showing(&f, &[YELLOW]).is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_comes_back_on_another_node_after_kill_9() -> anyhow::Result<()> {
    let redis = Redis::start().await?;
    let mut nodes = start_nodes(&redis, 3).await?;
    // The room starts where the fleet places it; both clients' way in is another node.
    let options = PeerOptions::publisher("phoenix-fleet", "Peer", YELLOW, 440.0);
    let peer = TestPeer::join(nodes[1].addr, options.clone()).await?;
    let doomed = index_of(&nodes, peer.server());
    let entry = nodes[(doomed + 1) % nodes.len()].addr;
    peer.wait_for(secs(15), shows_yellow).await?;
    let mut b = Browser::launch(Kind::Chromium, true, None).await?;
    let page = page::join_as_publisher(&mut b, &format!("http://{entry}"), "phoenix-fleet", "Browser").await?;
    b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 30)", secs(20)).await?;
    rooms_until(entry, secs(5), |l| l.iter().any(|r| r["id"] == "phoenix-fleet" && r["participants"] == 2)).await?;
    b.eval(page, "window.marker = 'same page'").await?;

    let killed = Instant::now();
    let victim = nodes.remove(doomed);
    let mut child = victim.child;
    child.start_kill()?;
    assert!(!child.wait().await?.success());
    drop(peer);

    // The peer comes back through node 0 (redirected to the dead node until its lease ran out).
    let peer = join_until(entry, &options, TTL + BEYOND_LEASE).await?;
    let peer_joined = killed.elapsed();
    peer.wait_for(secs(10), shows_yellow).await?;
    let peer_video = killed.elapsed();
    let survivor = index_of(&nodes, peer.server());

    b.wait_for(page, "window.tessera.state === 'connected'", TTL + BEYOND_LEASE).await?;
    b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 1)", secs(10)).await?;
    let page_video = killed.elapsed();
    println!(
        "kill -9 of a fleet node (lease {TTL:?}) -> test peer joined {peer_joined:?}, video {peer_video:?}; \
         page video {page_video:?}"
    );
    assert_eq!(b.eval(page, "window.marker").await?, "same page", "no reload");
    // Both are in one room again, on a live node.
    let list =
        rooms_until(entry, secs(5), |l| l.iter().any(|r| r["id"] == "phoenix-fleet" && r["participants"] == 2)).await?;
    let room = list.iter().find(|r| r["id"] == "phoenix-fleet").unwrap();
    assert_eq!(room["nodeUrl"], format!("http://{}", nodes[survivor].addr), "{room}");
    for (who, took) in [("test peer", peer_video), ("page", page_video)] {
        assert!(took < TTL + BEYOND_LEASE, "the {who} was back with video only after {took:?}");
    }
    b.quit().await;
    Ok(())
}
