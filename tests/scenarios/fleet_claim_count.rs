//! Two `tessera serve` nodes and a real Redis: a node's room count (what placement weighs)
//! includes a room claimed for it that its clients have not reached yet, through the node's
//! own heartbeats, until the claim's lease runs out.

use std::time::{Duration, Instant};

use anyhow::Context;
use tessera_client::{PeerOptions, TestPeer};

use crate::common::fleet::{Redis, TTL, start_nodes};
use crate::common::*;
use crate::whip_errors::{OFFER, SDP, send};

/// Rooms claimed for a node count there from the claim, before (or without) the node running
/// them: the node's own heartbeats must not reset the count, or the next rooms placed pile onto
/// it. An unused claim stops counting once its lease has run out; a room the node runs counts
/// for as long as it runs, and stops at once when it closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claimed_rooms_count_on_their_node_until_used_up_or_released() -> anyhow::Result<()> {
    let redis = Redis::start().await?;
    let nodes = start_nodes(&redis, 2).await?;
    // WHIP offers for new rooms through node 0 until two are placed on node 1: their 307s are
    // not followed, so node 1 holds the claims and runs neither room. (Each room placed on node 0
    // counts there; node 1's CPU counts too.)
    let mut placed = Vec::new();
    for n in 0..16 {
        let room = format!("claimed-{n}");
        let answer = send(nodes[0].addr, "POST", &format!("/whip/{room}?name=Cam"), &[SDP], OFFER).await?;
        if answer.status == 307 {
            let location = answer.header("location").unwrap_or_default().to_owned();
            placed.push((room, Instant::now(), location));
            if placed.len() == 2 {
                break;
            }
            continue;
        }
        assert_eq!(answer.status, 201, "the offer for {room}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    anyhow::ensure!(placed.len() == 2, "{} rooms placed on node 1, not 2", placed.len());
    let (unused, used) = (&placed[0], &placed[1]);
    let owner = redis.command(&["GET", &format!("tessera:room:{}", used.0)]).await?;
    let node1 = nodes.iter().find(|n| used.2.starts_with(&format!("http://{}/", n.addr))).context("307 to node 1")?;
    let entry = format!("tessera:node:{owner}");
    let rooms = async || redis.command(&["HGET", &entry, "rooms"]).await;

    // Node 1 heartbeats every third of the lease: two or more of them fall in this window.
    let mut samples = 0;
    while unused.1.elapsed() < TTL * 3 / 4 {
        assert_eq!(rooms().await?, "2", "node {owner}'s room count {:?} after the first claim", unused.1.elapsed());
        samples += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(samples > 20, "{samples} samples");

    // The second room's client arrives: node 1 runs it and renews its lease; the first claim's
    // lease runs out unused.
    let publisher = TestPeer::join(node1.addr, PeerOptions::publisher(&used.0, "P", RED, 440.0)).await?;
    assert_eq!(publisher.server(), node1.addr, "joined where the room was placed");
    tokio::time::sleep((TTL + secs(1)).saturating_sub(unused.1.elapsed())).await;
    let deadline = Instant::now() + secs(2);
    while rooms().await? != "1" {
        assert!(
            Instant::now() < deadline,
            "node {owner} counts {} rooms {:?} after the claims",
            rooms().await?,
            unused.1.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // It leaves: the room closes and its lease is released then, not when it would run out.
    drop(publisher);
    let left = Instant::now();
    while rooms().await? != "0" {
        assert!(
            left.elapsed() < TTL / 2,
            "node {owner} still counts the closed room {:?} after it closed",
            left.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("a closed room stopped counting {:?} after its last participant left", left.elapsed());
    Ok(())
}
