//! Three `tessera serve` nodes and a real Redis: rooms first joined through one node spread
//! over the least-loaded nodes; a join that reaches a node which does not run the room is
//! redirected and gets the room's media (decoded colours); REST calls for the room answer
//! `307` to its node; an agent on `/agent` follows its `redirect` too; `GET /api/rooms` on any
//! node lists the whole fleet's rooms.

use std::collections::HashSet;

use tessera_client::agent::AgentClient;
use tessera_client::{PeerOptions, TestPeer};

use crate::common::fleet::{Redis, fleet_log, index_of, rooms_until, start_nodes};
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
        panic!("one room per node: {owners:?}; placements:\n{}", fleet_log(&nodes, &["placing"]));
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
