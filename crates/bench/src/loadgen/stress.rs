//! `tessera-bench stress`: abrupt departures, repeated, against one server, which must neither crash
//! nor keep a room, pipeline or `webrtcbin` of anyone who left.
//!
//! Each cycle is one [`Departure`], in a fresh room (so the room ends while its peers' ICE may
//! still be gathering) or beside a steady room that must keep its frame rate throughout. Peers
//! are this process's own test peers, so their teardown is stressed as well.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use tessera_client::{PeerOptions, Signaling, TestPeer, VideoSource};
use tessera_protocol::{ClientMessage, Role, ServerMessage};

/// How to stress.
#[derive(Debug, Clone, clap::Args)]
pub struct StressOptions {
    /// Server to stress; by default a `tessera serve` of this binary is started for the run.
    #[arg(long)]
    pub server: Option<SocketAddr>,
    /// Departures to make, cycling through every kind.
    #[arg(long, default_value_t = 500)]
    pub cycles: usize,
    /// Departures in flight at once.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// Admin key for kicks and room closes, if the server needs one.
    #[arg(long, env = "TESSERA_ADMIN_KEY")]
    pub admin_key: Option<String>,
}

/// A way to leave a room without saying goodbye.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Departure {
    /// A connected publisher's WebSocket closes without `leave` while its media goes on.
    SocketDropped,
    /// A publisher vanishes (socket and media) after answering, before ICE connects.
    DuringIce,
    /// A publisher vanishes after ICE connected, before DTLS completes.
    DuringDtls,
    /// A publisher vanishes at a random moment of its first second of media.
    MidStream,
    /// A connected publisher is kicked through the REST API.
    Kicked,
    /// A room is closed through the REST API while three peers are joining it.
    RoomClosed,
    /// A raw WebSocket joins and vanishes within 0.6 s, before answering.
    Vanished,
    /// A publisher trickles an mDNS candidate (`<uuid>.local`, as browsers do) and vanishes
    /// during ICE.
    MdnsDuringIce,
}

impl Departure {
    /// Every kind, in the order cycles go through them.
    pub const ALL: [Departure; 8] = [
        Departure::SocketDropped,
        Departure::DuringIce,
        Departure::DuringDtls,
        Departure::MidStream,
        Departure::Kicked,
        Departure::RoomClosed,
        Departure::Vanished,
        Departure::MdnsDuringIce,
    ];
}

/// How far a peer had got when it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Joined, no answer yet.
    Joined,
    /// Answer sent, ICE not connected.
    Ice,
    /// ICE connected, DTLS not done.
    Dtls,
    /// Connected, no media yet.
    Connected,
    /// Media was flowing.
    Media,
}

/// How many departures of one kind left in one phase.
#[derive(Debug, Clone, Serialize)]
pub struct Count {
    /// The kind of departure.
    pub kind: Departure,
    /// How far the peer had got.
    pub phase: Phase,
    /// How many.
    pub count: usize,
}

/// What a run did and found.
#[derive(Debug, Clone, Serialize)]
pub struct StressReport {
    /// Departures made.
    pub cycles: usize,
    /// Departures by kind and the phase the peer was in when it left.
    pub departures: Vec<Count>,
    /// Whether the server answered `/healthz` after every batch and at the end.
    pub server_alive: bool,
    /// Rooms still live after everyone left (must be 0).
    pub stuck_rooms: usize,
    /// Room pipelines, `webrtcbin`s and ICE objects still in the server after everyone left.
    pub leftovers: serde_json::Value,
    /// Lowest 1-second frame rate of the steady room's viewer over the run.
    pub steady_fps_min: f64,
    /// Wall time, seconds.
    pub secs: f64,
}

/// Runs `opts.cycles` departures against the server at `addr`.
pub async fn run_against(addr: SocketAddr, opts: &StressOptions) -> anyhow::Result<StressReport> {
    let start = Instant::now();
    let key = opts.admin_key.clone();
    let steady = Steady::start(addr).await.context("starting the steady room")?;
    let mut departures = std::collections::BTreeMap::new();
    let mut server_alive = true;
    let kinds = Departure::ALL.iter().cycle().take(opts.cycles).copied().enumerate().collect::<Vec<_>>();
    for batch in kinds.chunks(opts.parallel.max(1)) {
        let runs = batch.iter().map(|&(i, kind)| depart(addr, kind, i, key.clone()));
        for (&(i, kind), result) in batch.iter().zip(futures_util::future::join_all(runs).await) {
            let phase = result.with_context(|| format!("cycle {i}: {kind:?}"))?;
            *departures.entry((kind, phase)).or_insert(0) += 1;
        }
        if !healthy(addr).await {
            server_alive = false;
            break;
        }
        steady.check()?;
    }
    let steady_fps_min = steady.leave().await?;
    let (stuck_rooms, leftovers) = settle(addr).await?;
    Ok(StressReport {
        cycles: departures.values().sum(),
        departures: departures.into_iter().map(|((kind, phase), count)| Count { kind, phase, count }).collect(),
        server_alive: server_alive && healthy(addr).await,
        stuck_rooms,
        leftovers,
        steady_fps_min,
        secs: start.elapsed().as_secs_f64(),
    })
}

impl StressReport {
    /// Fails unless the server survived and let go of everything.
    pub fn verdict(&self) -> anyhow::Result<()> {
        let zero = |k: &str| self.leftovers[k].as_u64() == Some(0);
        if !self.server_alive {
            bail!("the server died or stopped answering");
        }
        if self.stuck_rooms > 0 || !["roomPipelines", "webrtcbins", "iceAgents"].into_iter().all(zero) {
            bail!("{} rooms stuck; left in the server: {}", self.stuck_rooms, self.leftovers);
        }
        Ok(())
    }
}

/// A publisher and a decoding viewer in a room of their own that lives through the whole run.
struct Steady {
    publisher: TestPeer,
    viewer: TestPeer,
}

const STEADY_ROOM: &str = "stress-steady";

impl Steady {
    async fn start(addr: SocketAddr) -> anyhow::Result<Self> {
        let publisher = TestPeer::join(addr, PeerOptions::publisher(STEADY_ROOM, "steady", [0, 200, 0], 440.0)).await?;
        let viewer = TestPeer::join(addr, PeerOptions::viewer(STEADY_ROOM, "watcher")).await?;
        viewer.wait_for(Duration::from_secs(15), |v| v.received().frames() > 30).await?;
        Ok(Self { publisher, viewer })
    }

    /// Fails when the steady room stopped delivering frames.
    fn check(&self) -> anyhow::Result<()> {
        let last = self.viewer.received().frame_arrivals().last().copied();
        match last {
            Some(t) if t.elapsed() < Duration::from_secs(2) => Ok(()),
            _ => bail!("the steady room's viewer got no frame for 2 s"),
        }
    }

    /// Leaves; returns the viewer's worst 1-second frame rate after its first second.
    async fn leave(self) -> anyhow::Result<f64> {
        let arrivals = self.viewer.received().frame_arrivals();
        let fps_min = worst_second(&arrivals);
        self.viewer.leave().await?;
        self.publisher.leave().await?;
        Ok(fps_min)
    }
}

/// The fewest frames in any whole second between the first arrival + 1 s and the last.
fn worst_second(arrivals: &[Instant]) -> f64 {
    let (Some(first), Some(last)) = (arrivals.first(), arrivals.last()) else { return 0.0 };
    let mut from = *first + Duration::from_secs(1);
    let mut worst = f64::INFINITY;
    while from + Duration::from_secs(1) <= *last {
        let to = from + Duration::from_secs(1);
        worst = worst.min(arrivals.iter().filter(|t| **t >= from && **t < to).count() as f64);
        from = to;
    }
    if worst.is_finite() { worst } else { 0.0 }
}

fn publisher(room: &str, i: usize) -> PeerOptions {
    let mut options = PeerOptions::publisher(room, &format!("p{i}"), [200, 0, 0], 600.0);
    options.decode = false;
    if let Some(VideoSource::Solid(spec)) = &mut options.video {
        spec.width = 160;
        spec.height = 90;
    }
    options
}

/// How far `peer` got.
fn phase(peer: &TestPeer) -> Phase {
    let r = peer.received();
    if r.rtp().video_packets > 0 || r.rtp().audio_packets > 0 {
        Phase::Media
    } else if r.connected_at().is_some() {
        Phase::Connected
    } else if r.ice_connected_at().is_some() {
        Phase::Dtls
    } else if r.answered_at().is_some() {
        Phase::Ice
    } else {
        Phase::Joined
    }
}

/// Polls `cond` every millisecond for up to `limit`.
async fn until(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
}

/// A pseudo-random number below `n` from the cycle number (runs are reproducible).
fn spread(i: usize, n: u64) -> u64 {
    (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % n.max(1)
}

/// Makes one departure of `kind`; returns the phase the departing peer was in.
async fn depart(addr: SocketAddr, kind: Departure, i: usize, key: Option<String>) -> anyhow::Result<Phase> {
    // Even cycles in a fresh room (it ends with the departure), odd ones beside the steady room.
    let room = if i.is_multiple_of(2) { format!("stress-{i}") } else { STEADY_ROOM.to_owned() };
    let limit = Duration::from_secs(10);
    match kind {
        Departure::SocketDropped => {
            let peer = TestPeer::join(addr, publisher(&room, i)).await?;
            until(limit, || peer.received().connected_at().is_some()).await;
            let phase = phase(&peer);
            peer.drop_socket();
            // The media goes on until the server has removed the participant.
            tokio::time::sleep(Duration::from_millis(300 + spread(i, 700))).await;
            Ok(phase)
        }
        Departure::DuringIce => {
            let peer = TestPeer::join(addr, publisher(&room, i)).await?;
            until(limit, || peer.received().answered_at().is_some()).await;
            tokio::time::sleep(Duration::from_micros(spread(i, 5_000))).await;
            Ok(phase(&peer))
        }
        Departure::DuringDtls => {
            let peer = TestPeer::join(addr, publisher(&room, i)).await?;
            until(limit, || peer.received().ice_connected_at().is_some()).await;
            Ok(phase(&peer))
        }
        Departure::MidStream => {
            let peer = TestPeer::join(addr, publisher(&room, i)).await?;
            until(limit, || peer.received().rtp().video_packets > 0).await;
            tokio::time::sleep(Duration::from_millis(spread(i, 1000))).await;
            Ok(phase(&peer))
        }
        Departure::Kicked => {
            let mut peer = TestPeer::join(addr, publisher(&room, i)).await?;
            until(limit, || peer.received().connected_at().is_some()).await;
            let phase = phase(&peer);
            let path = format!("/api/rooms/{room}/participants/{}", peer.id());
            let (status, body) = tessera_client::rest::request(addr, "DELETE", &path, key.as_deref(), "").await?;
            anyhow::ensure!(status == 200 || status == 204, "kick: {status} {body}");
            let kicked = |m: &ServerMessage| matches!(m, ServerMessage::Error { .. });
            peer.wait_message(Duration::from_secs(5), kicked).await.context("no error after the kick")?;
            Ok(phase)
        }
        Departure::RoomClosed => {
            let room = format!("stress-closed-{i}");
            let joining = (0..3).map(|k| TestPeer::join(addr, publisher(&room, k)));
            let closer = async {
                tokio::time::sleep(Duration::from_millis(spread(i, 300))).await;
                tessera_client::rest::request(addr, "DELETE", &format!("/api/rooms/{room}"), key.as_deref(), "").await
            };
            let (peers, closed) = tokio::join!(futures_util::future::join_all(joining), closer);
            let (status, body) = closed?;
            anyhow::ensure!(matches!(status, 200 | 204 | 404), "closing the room: {status} {body}");
            // A join may be refused or may land in a new room of the same name after the close.
            let peers: Vec<TestPeer> = peers.into_iter().filter_map(Result::ok).collect();
            Ok(peers.iter().map(phase).min().unwrap_or(Phase::Joined))
        }
        Departure::MdnsDuringIce => {
            let peer = TestPeer::join(addr, publisher(&room, i)).await?;
            until(limit, || peer.received().answered_at().is_some()).await;
            let candidate = format!(
                "candidate:9 1 udp 2122260223 {:08x}-58c1-4b0e-9d8e-0c1f2a3b4c5d.local 5{:04} typ host",
                i,
                i % 10_000
            );
            peer.send(ClientMessage::Ice { candidate, sdp_mid: None, sdp_m_line_index: Some(0) })?;
            tokio::time::sleep(Duration::from_micros(spread(i, 5_000))).await;
            Ok(phase(&peer))
        }
        Departure::Vanished => {
            let mut sig = Signaling::connect(addr).await?;
            let join = ClientMessage::Join { room, name: format!("ghost-{i}"), role: Role::Viewer, token: None };
            sig.send(&join).await?;
            tokio::time::sleep(Duration::from_millis(spread(i, 600))).await;
            Ok(Phase::Joined)
        }
    }
}

async fn healthy(addr: SocketAddr) -> bool {
    let call = tessera_client::rest::request(addr, "GET", "/healthz", None, "");
    matches!(tokio::time::timeout(Duration::from_secs(5), call).await, Ok(Ok((200, _))))
}

/// Waits up to 15 s for every room to end and everything to be freed; returns the rooms still
/// live and the server's leftovers.
async fn settle(addr: SocketAddr) -> anyhow::Result<(usize, serde_json::Value)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, stats) = tessera_client::rest::request(addr, "GET", "/api/stats", None, "").await?;
        let empty = ["rooms", "roomPipelines", "webrtcbins", "iceAgents"].iter().all(|k| stats[k].as_u64() == Some(0));
        if empty || Instant::now() > deadline {
            let rooms = stats["rooms"].as_u64().unwrap_or(u64::MAX) as usize;
            return Ok((rooms, stats));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs the stress: against `opts.server`, or against a server of this binary started for it
/// (whose own exit status is then checked too).
pub async fn run(opts: &StressOptions) -> anyhow::Result<StressReport> {
    match opts.server {
        Some(addr) => run_against(addr, opts).await,
        None => {
            let mut server = crate::bench::server::Server::start(&[]).await?;
            let own = StressOptions { admin_key: Some(crate::bench::server::ADMIN_KEY.into()), ..opts.clone() };
            let report = run_against(server.addr, &own).await;
            if let Some(status) = server.exited()? {
                bail!("the server exited during the run: {status}; its log: {}", server.log_path().display());
            }
            report
        }
    }
}
