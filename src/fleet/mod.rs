//! The fleet: several servers sharing one set of rooms through Redis (`docs/deployment.md`).
//!
//! Each node registers itself (`tessera:node:{id}`, a hash: public URL, CPU, rooms,
//! participants, its room list) under a TTL its heartbeat renews ([`heartbeat`]). A room is
//! owned by the node named in `tessera:room:{id}`, a lease the owner's heartbeat renews (and
//! `tessera:leases:{id}` counts the node's leases, claimed or running, as its rooms); the
//! first join of a room claims it for the least-loaded live node ([`placement`]) in one Lua
//! script, so two nodes never both own it. A join that reaches another node is redirected
//! ([`Route::Elsewhere`]); HTTP calls for the room get a `307` ([`redirect`]). A dead node's
//! keys expire and its rooms start again wherever their clients come back. Without
//! `--redis-url` none of this exists and the server is alone.

pub mod heartbeat;
pub mod placement;
pub mod redirect;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;

use crate::config::FleetSettings;
use crate::ids::RoomId;
use placement::NodeLoad;

/// Every key of the fleet starts with this.
const PREFIX: &str = "tessera:";
/// The set of node ids that registered (members whose hash expired are dropped when seen).
const NODES: &str = "tessera:nodes";
/// Set by the first heartbeat a Redis sees: without it, Redis (re)started empty and no room
/// may be claimed until a node has announced the registry (and, after a restart, it settled).
const REGISTRY: &str = "tessera:registry";
/// Exists for a lease after a node found Redis restarted: claims wait until every live node
/// has re-registered its rooms, so none of them is taken from its node.
const SETTLING: &str = "tessera:settling";
/// How long one Redis call may take before the registry counts as unreachable: a join must
/// not hang on a Redis that is gone.
const CALL_LIMIT: Duration = Duration::from_millis(1000);

/// The fleet's registry cannot be reached (or answered nonsense).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the fleet's registry (Redis) is unreachable: {0}")]
pub struct FleetUnavailable(pub String);

impl From<redis::RedisError> for FleetUnavailable {
    fn from(e: redis::RedisError) -> Self {
        Self(e.to_string())
    }
}

/// Where a room is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// On this node: go ahead.
    Here,
    /// On another node, at this public URL.
    Elsewhere(String),
}

/// A room of the fleet, as listed by `GET /api/rooms`.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRoom {
    /// The room.
    pub id: String,
    /// Participants at the owner's last heartbeat.
    pub participants: usize,
    /// The owner's id.
    pub node: String,
    /// The owner's public URL.
    pub url: String,
}

/// This node's membership in a fleet.
pub struct Fleet {
    /// The registry; reconnects by itself after Redis comes back.
    redis: ConnectionManager,
    /// This node's id, random per start (a restarted process is a new node).
    node: String,
    /// This node's public URL.
    url: String,
    /// The lease of a node's entry and of its rooms.
    ttl: Duration,
    /// Rooms that closed here, for the heartbeat task to release.
    releases: mpsc::UnboundedSender<RoomId>,
    /// The receiving end, until the heartbeat task takes it.
    released: Mutex<Option<mpsc::UnboundedReceiver<RoomId>>>,
    /// This node has seen the registry's marker: finding it gone means Redis restarted.
    seen_registry: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet").field("node", &self.node).field("url", &self.url).field("ttl", &self.ttl).finish()
    }
}

/// The key holding a room's owner.
fn room_key(room: &str) -> String {
    format!("{PREFIX}room:{room}")
}

/// The key of a node's hash.
fn node_key(node: &str) -> String {
    format!("{PREFIX}node:{node}")
}

/// The key of a node's leases (`scripts/leases.lua`), from which its room count is written.
fn leases_key(node: &str) -> String {
    format!("{PREFIX}leases:{node}")
}

/// A Lua script of `scripts/`, after the lease helpers they share.
macro_rules! script {
    ($file:literal) => {
        std::sync::LazyLock::new(|| {
            redis::Script::new(concat!(include_str!("scripts/leases.lua"), include_str!(concat!("scripts/", $file))))
        })
    };
}
use script;

fn random_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 6];
    ring::rand::SystemRandom::new().fill(&mut bytes).expect("the system has randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Fleet {
    /// Joins the fleet of `settings` (`None` without a Redis URL). The connection is made
    /// lazily: a node whose Redis is down starts anyway and serves the rooms it may.
    pub fn new(settings: &FleetSettings, listen: std::net::SocketAddr, tls: bool) -> anyhow::Result<Option<Arc<Self>>> {
        let Some(redis_url) = &settings.redis_url else { return Ok(None) };
        let url = match &settings.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None if listen.ip().is_unspecified() => {
                anyhow::bail!("in a fleet, a node listening on {listen} needs --public-url (where clients reach it)")
            }
            None => format!("{}://{listen}", if tls { "https" } else { "http" }),
        };
        anyhow::ensure!(
            url.starts_with("http://") || url.starts_with("https://"),
            "--public-url must be an http:// or https:// URL, not {url:?}"
        );
        let client = redis::Client::open(redis_url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_LIMIT))
            .set_response_timeout(Some(CALL_LIMIT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let redis = ConnectionManager::new_lazy_with_config(client, config)?;
        let (releases, released) = mpsc::unbounded_channel();
        let ttl = Duration::from_millis(settings.ttl_ms);
        let node = random_id();
        tracing::info!(%node, %url, ?ttl, "member of a fleet");
        let released = Mutex::new(Some(released));
        let seen_registry = Default::default();
        Ok(Some(Arc::new(Self { redis, node, url, ttl, releases, released, seen_registry })))
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// This node's public URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn lease_ms(&self) -> u64 {
        self.ttl.as_millis() as u64
    }

    /// A Redis call, bounded by [`CALL_LIMIT`].
    async fn call<T>(
        &self,
        f: impl AsyncFnOnce(ConnectionManager) -> redis::RedisResult<T>,
    ) -> Result<T, FleetUnavailable> {
        match tokio::time::timeout(CALL_LIMIT, f(self.redis.clone())).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(FleetUnavailable(format!("no answer within {CALL_LIMIT:?}"))),
        }
    }

    /// The owner of `room` as `(node, url)`; with a `candidate` (id, URL), a room without a
    /// live owner is claimed for it. One atomic script.
    async fn claim(
        &self,
        room: &RoomId,
        candidate: Option<(&str, &str)>,
    ) -> Result<Option<(String, String)>, FleetUnavailable> {
        static CLAIM: std::sync::LazyLock<redis::Script> = script!("claim.lua");
        let (id, url) = candidate.unwrap_or(("", ""));
        let (key, lease, me) = (room_key(room.as_str()), self.lease_ms(), self.node.clone());
        let answer: Option<(String, String)> = self
            .call(async move |mut redis| {
                let mut call = CLAIM.key(key);
                call.arg(node_key(""))
                    .arg(id)
                    .arg(lease)
                    .arg(url)
                    .arg(me)
                    .arg(REGISTRY)
                    .arg(SETTLING)
                    .arg(leases_key(""));
                call.invoke_async(&mut redis).await
            })
            .await?;
        match answer {
            Some((owner, _)) if owner.is_empty() => {
                Err(FleetUnavailable("the registry restarted and its nodes are registering their rooms again".into()))
            }
            other => Ok(other),
        }
    }

    /// Where `room` is served, claiming it for the least-loaded live node if nobody has it.
    /// The one check every join endpoint makes (through `Registry::join`).
    pub async fn route(&self, room: &RoomId) -> Result<Route, FleetUnavailable> {
        let owner = match self.claim(room, None).await? {
            Some(owner) => owner,
            None => {
                let nodes = self.nodes().await?;
                let chosen = placement::least_loaded(&nodes, &self.node);
                let scores: Vec<String> = nodes
                    .iter()
                    .map(|n| format!("{}={:.2}({} rooms, {:.2} cores)", n.id, n.score(), n.rooms, n.cpu))
                    .collect();
                tracing::info!(%room, chosen = chosen.map(|n| n.id.as_str()), ?scores, "placing a new room");
                let (id, url) = chosen.map_or((self.node.as_str(), self.url.as_str()), |n| (&n.id, &n.url));
                match self.claim(room, Some((id, url))).await? {
                    Some(owner) => owner,
                    // The chosen node expired in between: this one takes the room.
                    None => self
                        .claim(room, Some((&self.node, &self.url)))
                        .await?
                        .ok_or_else(|| FleetUnavailable("the room could not be claimed".into()))?,
                }
            }
        };
        tracing::debug!(%room, owner = %owner.0, "routed");
        Ok(if owner.0 == self.node { Route::Here } else { Route::Elsewhere(owner.1) })
    }

    /// Where `room` is served if someone serves it (no claim): for calls that need a live room.
    pub async fn lookup(&self, room: &RoomId) -> Result<Option<Route>, FleetUnavailable> {
        let owner = self.claim(room, None).await?;
        Ok(owner.map(|(node, url)| if node == self.node { Route::Here } else { Route::Elsewhere(url) }))
    }

    /// Every live node with its load (members whose entry expired are dropped from the set).
    pub async fn nodes(&self) -> Result<Vec<NodeLoad>, FleetUnavailable> {
        self.call(async move |mut redis| {
            let ids: Vec<String> = redis.smembers(NODES).await?;
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.hgetall(node_key(id));
            }
            let hashes: Vec<std::collections::HashMap<String, String>> = pipe.query_async(&mut redis).await?;
            let mut live = Vec::new();
            for (id, fields) in ids.iter().zip(hashes) {
                match NodeLoad::from_hash(id, &fields) {
                    Some(node) => live.push(node),
                    None => redis.srem::<_, _, ()>(NODES, id).await?,
                }
            }
            Ok(live)
        })
        .await
    }

    /// The rooms of the other nodes, from their last heartbeats.
    pub async fn remote_rooms(&self) -> Result<Vec<FleetRoom>, FleetUnavailable> {
        let nodes = self.nodes().await?;
        Ok(nodes
            .into_iter()
            .filter(|n| n.id != self.node)
            .flat_map(|n| {
                n.list.into_iter().map(move |r| FleetRoom {
                    id: r.id,
                    participants: r.participants,
                    node: n.id.clone(),
                    url: n.url.clone(),
                })
            })
            .collect())
    }

    /// A room closed here: its lease is released (by the heartbeat task, in order).
    pub fn release(&self, room: RoomId) {
        let _ = self.releases.send(room);
    }

    /// Releases `room` now if this node holds it.
    async fn release_now(&self, room: &RoomId) -> Result<(), FleetUnavailable> {
        static RELEASE: std::sync::LazyLock<redis::Script> = script!("release.lua");
        let (key, me) = (room_key(room.as_str()), self.node.clone());
        self.call(async move |mut redis| {
            let mut call = RELEASE.key(key);
            call.arg(&me).arg(node_key(&me)).arg(leases_key(&me));
            call.invoke_async::<i64>(&mut redis).await
        })
        .await?;
        Ok(())
    }

    /// Leaves the fleet (graceful shutdown): releases `rooms` and removes this node's entry,
    /// so clients moving elsewhere find the rooms free at once instead of after the lease.
    pub async fn leave(&self, rooms: &[RoomId]) {
        // Bounded: a Redis out of reach must not hold up the shutdown (the leases expire anyway).
        if tokio::time::timeout(CALL_LIMIT, self.leave_now(rooms)).await.is_err() {
            tracing::warn!("could not leave the fleet within {CALL_LIMIT:?}; its leases will expire");
        }
    }

    async fn leave_now(&self, rooms: &[RoomId]) {
        for room in rooms {
            if let Err(e) = self.release_now(room).await {
                tracing::warn!(%room, "cannot release the room: {e}");
                return;
            }
        }
        let node = self.node.clone();
        let left = self
            .call(async move |mut redis| {
                let keys = [node_key(&node), leases_key(&node)];
                redis::pipe().del(&keys).srem(NODES, &node).query_async::<()>(&mut redis).await
            })
            .await;
        if let Err(e) = left {
            tracing::warn!("cannot leave the fleet: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(redis: Option<&str>, public: Option<&str>) -> FleetSettings {
        FleetSettings {
            redis_url: redis.map(str::to_owned),
            public_url: public.map(str::to_owned),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn alone_without_a_redis_url() {
        let listen = "127.0.0.1:8080".parse().unwrap();
        assert!(Fleet::new(&settings(None, None), listen, false).unwrap().is_none());
    }

    #[tokio::test]
    async fn the_public_url_defaults_to_the_listener_and_is_required_on_a_wildcard() {
        let redis = Some("redis://127.0.0.1:1");
        let fleet = Fleet::new(&settings(redis, None), "127.0.0.1:8080".parse().unwrap(), true).unwrap().unwrap();
        assert_eq!(fleet.url(), "https://127.0.0.1:8080");
        let wildcard = "0.0.0.0:8080".parse().unwrap();
        assert!(Fleet::new(&settings(redis, None), wildcard, false).is_err());
        let named =
            Fleet::new(&settings(redis, Some("https://node-1.example.com/")), wildcard, false).unwrap().unwrap();
        assert_eq!(named.url(), "https://node-1.example.com");
        assert!(Fleet::new(&settings(redis, Some("node-1:8080")), wildcard, false).is_err(), "not a URL");
    }

    #[tokio::test]
    async fn an_unreachable_registry_is_a_clear_error_soon() {
        // Nothing listens on port 1: the call fails (refused) well within its limit.
        let listen = "127.0.0.1:8080".parse().unwrap();
        let fleet = Fleet::new(&settings(Some("redis://127.0.0.1:1"), None), listen, false).unwrap().unwrap();
        let started = std::time::Instant::now();
        let room = RoomId::parse("r").unwrap();
        assert!(fleet.route(&room).await.is_err());
        assert!(started.elapsed() < CALL_LIMIT * 2, "{:?}", started.elapsed());
    }

    #[test]
    fn the_redis_url_is_never_printed() {
        let mut config = crate::config::Config::default();
        config.fleet.redis_url = Some("redis://:s3cret@10.0.0.5:6379/0".into());
        assert!(!config.to_toml().contains("s3cret"), "{}", config.to_toml());
    }
}
