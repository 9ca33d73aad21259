//! A fleet under test: a real `redis-server` (Debian's) on a free loopback port, without
//! persistence, and `tessera serve` nodes sharing it, each a child process on its own loopback
//! port with `--public-url` and a short `--fleet-ttl-ms`. Every process dies with the test.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::bail;
pub use tessera_bench::bench::redis::Redis;
use tessera_client::{PeerOptions, TestPeer};

use super::{ServerProcess, free_port};

/// The nodes' lease in tests: a dead node's rooms are free again within this long (the
/// default is 10 s; 3 s keeps the failover tests short).
pub const TTL: Duration = Duration::from_millis(3000);

/// Starts `n` nodes sharing `redis`, each allowing the others' pages (a page loaded from one
/// node opens its WebSocket on another after a redirect).
pub async fn start_nodes(redis: &Redis, n: usize) -> anyhow::Result<Vec<ServerProcess>> {
    let addrs: Vec<SocketAddr> = (0..n).map(|_| free_port()).collect();
    let origins: Vec<String> = addrs.iter().map(|a| format!("http://{a}")).collect();
    let (url, ttl, origins) = (redis.url(), TTL.as_millis().to_string(), origins.join(","));
    let starts = addrs.iter().map(|addr| {
        let public = format!("http://{addr}");
        let (url, ttl, origins) = (url.clone(), ttl.clone(), origins.clone());
        async move {
            let extra =
                ["--redis-url", &url, "--public-url", &public, "--fleet-ttl-ms", &ttl, "--allowed-origins", &origins];
            ServerProcess::start_on(*addr, &extra).await
        }
    });
    futures_util::future::try_join_all(starts).await
}

/// Joins through `entry` until it works (a node that died is still the owner until its lease
/// runs out, so joins fail until then); gives up after `limit`.
pub async fn join_until(entry: SocketAddr, options: &PeerOptions, limit: Duration) -> anyhow::Result<TestPeer> {
    let deadline = Instant::now() + limit;
    loop {
        match TestPeer::join(entry, options.clone()).await {
            Ok(peer) => return Ok(peer),
            Err(e) if Instant::now() < deadline => tracing::debug!("join failed, again: {e:#}"),
            Err(e) => return Err(e.context(format!("no join within {limit:?}"))),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The node (by index) whose address is `addr`.
pub fn index_of(nodes: &[ServerProcess], addr: SocketAddr) -> usize {
    nodes.iter().position(|n| n.addr == addr).expect("one of the fleet's nodes")
}

/// `GET /api/rooms` on `node`, polled until `ready` holds for the list; returns it.
pub async fn rooms_until(
    node: SocketAddr,
    limit: Duration,
    ready: impl Fn(&[serde_json::Value]) -> bool,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = super::http(node, "GET", "/api/rooms", None).await;
        let rooms = body["rooms"].as_array().cloned().unwrap_or_default();
        if status == 200 && ready(&rooms) {
            return Ok(rooms);
        }
        if Instant::now() > deadline {
            bail!("GET /api/rooms on {node} never matched within {limit:?}: {status} {body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The lines of the nodes' logs holding any of `words`, each after its node's address.
pub fn fleet_log(nodes: &[ServerProcess], words: &[&str]) -> String {
    let lines = nodes.iter().flat_map(|n| {
        let log = n.log.lock().unwrap();
        log.iter()
            .filter(|l| words.iter().any(|w| l.contains(w)))
            .map(|l| format!("{}: {l}", n.addr))
            .collect::<Vec<_>>()
    });
    lines.collect::<Vec<_>>().join("\n")
}
