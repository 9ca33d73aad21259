//! Who keeps a room two nodes both run: the node whose claim is in Redis. A node's room is
//! claimed by another node behind its back (as when this node was cut off from Redis for longer
//! than the lease and a client started the room elsewhere meanwhile); at its next heartbeat the
//! node closes its copy with `server_shutdown`, and its participant, rejoining through that same
//! node, is redirected to the owner and gets media there. The fleet then lists the room once.

use tessera_client::{PeerOptions, TestPeer};
use tessera_protocol::{ErrorCode, ServerMessage};

use crate::common::fleet::{Redis, TTL, rooms_until, start_nodes};
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_decides_which_copy_of_a_room_lives() -> anyhow::Result<()> {
    let redis = Redis::start().await?;
    let nodes = start_nodes(&redis, 2).await?;
    let options = PeerOptions::publisher("contested", "P", BLUE, 440.0);
    let mut peer = TestPeer::join(nodes[0].addr, options.clone()).await?;
    peer.wait_for(secs(15), |p| shows_tiles(p, &[BLUE])).await?;
    let home = peer.server();
    let other = nodes.iter().map(|n| n.addr).find(|a| *a != home).unwrap();
    let (_, body) = http(other, "GET", "/api/rooms", None).await;
    let other_id = body["fleet"]["node"].as_str().expect("the node's id").to_owned();

    // The other node's claim, written behind the owner's back.
    assert_eq!(redis.command(&["SET", "tessera:room:contested", &other_id]).await?, "+OK");
    let told =
        peer.wait_message(TTL, |m| matches!(m, ServerMessage::Error { code: ErrorCode::ServerShutdown, .. })).await?;
    println!("the stale copy's participant was told: {told:?}");

    // Rejoining through the same node now leads to the registry's owner.
    let back = TestPeer::join(home, options).await?;
    assert_eq!(back.server(), other, "redirected to the node that holds the room");
    back.wait_for(secs(15), |p| shows_tiles(p, &[BLUE])).await?;
    let list = rooms_until(home, secs(5), |l| {
        l.iter().filter(|r| r["id"] == "contested").count() == 1
            && l.iter().any(|r| r["id"] == "contested" && r["nodeUrl"] == format!("http://{other}"))
    })
    .await?;
    println!("{list:?}");
    Ok(())
}
