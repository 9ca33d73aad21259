//! Three `tessera serve` nodes and a real Redis: rooms first joined through one node spread
//! over the least-loaded nodes; a join that reaches a node which does not run the room is
//! redirected and gets the room's media (decoded colours); REST calls for the room answer
//! `307` to its node; an agent on `/agent` follows its `redirect` too; `GET /api/rooms` on any
//! node lists the whole fleet's rooms.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Context;

use tessera_client::agent::AgentClient;
use tessera_client::{PeerOptions, TestPeer};

use crate::common::fleet::{Redis, TTL, index_of, rooms_until, start_nodes};
use crate::common::*;
use crate::whip_errors::{OFFER, SDP, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_spread_over_the_fleet_and_joins_follow_redirects() -> anyhow::Result<()> {
    let redis = Redis::start().await?;
    let nodes = start_nodes(&redis, 3).await?;
    let entry = nodes[0].addr;

    // Three rooms, each first joined through node 0: each lands on the least-loaded node.
    let rooms = [("spread-a", RED), ("spread-b", GREEN), ("spread-c", BLUE)];
    let mut publishers = Vec::new();
    for (n, (room, colour)) in rooms.iter().enumerate() {
        let peer = TestPeer::join(entry, PeerOptions::publisher(room, "P", *colour, 440.0)).await?;
        // The claim counted the room on its node; the owner's heartbeats carry its list (and
        // load) to the fleet.
        rooms_until(nodes[2].addr, secs(5), |list| list.len() == n + 1).await?;
        publishers.push(peer);
    }
    let owners: Vec<usize> = publishers.iter().map(|p| index_of(&nodes, p.server())).collect();
    if owners.iter().collect::<HashSet<_>>().len() != 3 {
        let placing: Vec<String> = nodes
            .iter()
            .flat_map(|n| n.log.lock().unwrap().iter().filter(|l| l.contains("placing")).cloned().collect::<Vec<_>>())
            .collect();
        panic!("one room per node: {owners:?}; placements:\n{}", placing.join("\n"));
    }

    // Redirected publishers get their room's composite like any other.
    for (peer, (room, colour)) in publishers.iter().zip(rooms) {
        peer.wait_for(secs(15), |p| shows_tiles(p, &[colour])).await.map_err(|e| {
            anyhow::anyhow!("{room} on node {}: {e}; sees {}", index_of(&nodes, peer.server()), describe(peer, 1))
        })?;
    }

    // A second participant of spread-a reaches another node: redirected to spread-a's node, both
    // in one room.
    let a_node = nodes[owners[0]].addr;
    let second =
        TestPeer::join(nodes[(owners[0] + 2) % 3].addr, PeerOptions::publisher("spread-a", "Q", YELLOW, 660.0)).await?;
    assert_eq!(second.server(), a_node, "redirected to spread-a's node");
    second
        .wait_for(secs(15), |p| shows_tiles(p, &[RED, YELLOW]))
        .await
        .map_err(|e| anyhow::anyhow!("{e}: {}", describe(&second, 2)))?;

    // An agent reaching the third node for spread-a is redirected and hears the room there.
    let agent = AgentClient::connect(nodes[(owners[0] + 1) % 3].addr, "room=spread-a&name=Bot&rate=16000").await?;
    assert_eq!(agent.server(), a_node, "the agent is redirected to spread-a's node");
    agent.wait_message(secs(10), |m| m["type"] == "joined").await?;
    agent
        .wait_for(secs(10), |a| a.tone_dbfs(440.0, 500) > -20.0 && a.tone_dbfs(660.0, 500) > -20.0)
        .await
        .map_err(|e| anyhow::anyhow!("{e}: the agent hears 440 Hz at {:.1} dBFS", agent.tone_dbfs(440.0, 500)))?;
    drop(agent);

    // REST calls for a room on another node: 307 to the same path there.
    let b_node = &nodes[owners[1]];
    let other = nodes.iter().find(|n| n.addr != b_node.addr).unwrap();
    let (status, body) = http(other.addr, "GET", "/api/rooms/spread-b", None).await;
    assert_eq!(status, 307, "{body}");
    assert_eq!(body["redirect"], format!("http://{}/api/rooms/spread-b", b_node.addr));
    // A WHIP offer too (before its body is read: the 307 keeps method and body for the owner).
    let (status, body) = http_body(other.addr, "POST", "/whip/spread-b?name=Cam", None, "v=0").await;
    assert_eq!(status, 307, "{body}");
    assert_eq!(body["redirect"], format!("http://{}/whip/spread-b?name=Cam", b_node.addr));
    // A WHIP offer for a new room: placed by the node asked (after its checks), here or with a
    // 307 to the node chosen, where the same offer is created.
    let asked = nodes[2].addr;
    let created = match send(asked, "POST", "/whip/spread-d?name=Cam", &[SDP], OFFER).await? {
        answer if answer.status == 307 => {
            let location = answer.header("location").unwrap_or_default().to_owned();
            println!("a WHIP offer for a new room through node 2: 307 to {location}");
            let owner = nodes.iter().find(|n| location == format!("http://{}/whip/spread-d?name=Cam", n.addr));
            let owner = owner.unwrap_or_else(|| panic!("307 to {location:?}"));
            send(owner.addr, "POST", "/whip/spread-d?name=Cam", &[SDP], OFFER).await?
        }
        answer => answer,
    };
    assert_eq!(created.status, 201, "the WHIP session is created on the room's node");
    let (status, body) = http(b_node.addr, "GET", "/api/rooms/spread-b", None).await;
    assert_eq!((status, body["participants"].as_array().map(Vec::len)), (200, Some(1)), "{body}");

    // Any node lists the fleet's rooms with their nodes.
    let list = rooms_until(nodes[1].addr, secs(5), |list| {
        list.iter().any(|r| r["id"] == "spread-a" && r["participants"] == 2)
    })
    .await?;
    for (room, owner) in rooms.iter().map(|r| r.0).zip(&owners) {
        let entry = list.iter().find(|r| r["id"] == room).expect("listed");
        assert_eq!(entry["nodeUrl"], format!("http://{}", nodes[*owner].addr), "{entry}");
    }
    Ok(())
}

/// A room claimed for a node counts there for its whole lease, before (or without) the node
/// running it: the node's own heartbeats must not reset the count, or the next rooms placed
/// pile onto it. An unused claim stops counting once its lease has run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_room_counts_on_its_node_for_its_lease() -> anyhow::Result<()> {
    let redis = Redis::start().await?;
    let nodes = start_nodes(&redis, 2).await?;
    // WHIP offers for new rooms through node 0 until one is placed on node 1: its 307 is not
    // followed, so node 1 holds the claim and never runs the room. (Each room placed on node 0
    // counts there; node 1's CPU counts too, and a node that just started is busy for a while.)
    let mut placed = None;
    for n in 0..12 {
        let room = format!("claimed-{n}");
        let answer = send(nodes[0].addr, "POST", &format!("/whip/{room}?name=Cam"), &[SDP], OFFER).await?;
        if answer.status == 307 {
            placed = Some((room, Instant::now()));
            break;
        }
        assert_eq!(answer.status, 201, "the offer for {room}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (room, claimed) = placed.context("no room was placed on node 1")?;
    let owner = redis.command(&["GET", &format!("tessera:room:{room}")]).await?;
    let entry = format!("tessera:node:{owner}");
    // Node 1 heartbeats every third of the lease: two or more of them fall in this window.
    let mut samples = 0;
    while claimed.elapsed() < TTL * 3 / 4 {
        let rooms = redis.command(&["HGET", &entry, "rooms"]).await?;
        assert_eq!(rooms, "1", "node {owner}'s room count {:?} after the claim of {room}", claimed.elapsed());
        samples += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(samples > 20, "{samples} samples");
    // The lease ran out unused: the next heartbeat no longer counts it.
    let deadline = claimed + TTL + secs(2);
    loop {
        let rooms = redis.command(&["HGET", &entry, "rooms"]).await?;
        if rooms == "0" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node {owner} still counts {rooms} rooms {:?} after the claim",
            claimed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
