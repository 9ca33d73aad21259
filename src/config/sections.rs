//! The server's settings, by section, each with its one default (the `Default` impls here).
//! The config file, `tessera config`'s output and the README's table all come from these.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::layout::Size;

/// `[server]`: where the server listens and who may change things.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// HTTP/WebSocket listen address.
    pub listen: SocketAddr,
    /// Bearer key required by the mutating REST calls (and by the reading ones when token
    /// secrets are set); without it only `--dev` or an admin token is an administrator. Never
    /// printed.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "masked")]
    pub admin_key: Option<String>,
    /// Directory served at `/` (the browser client).
    pub assets_dir: PathBuf,
    /// HS256 secrets that access tokens are signed with, `SECRET` or `KID:SECRET` (several for
    /// rotation; a token's `kid` header picks one). When set, every join needs a token. Never
    /// printed.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "masked_all")]
    pub token_secret: Vec<String>,
    /// Development mode: without an admin key, every REST call naming a loopback host is an
    /// administrator's, and any publisher may change the layout. Refused on a listener that is
    /// not loopback.
    pub dev: bool,
    /// Origins whose pages may open `/ws` and call the REST API (e.g.
    /// `https://meet.example.com`); empty means the server's own host only. Clients that send
    /// no `Origin` (not browsers) are not affected.
    pub allowed_origins: Vec<String>,
    /// PEM certificate chain: serve HTTPS and WSS on the listener (needs `tls_key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_key: None,
            assets_dir: default_assets_dir(),
            token_secret: Vec::new(),
            dev: false,
            allowed_origins: Vec::new(),
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// `[limits]`: what one client, or all of them, can make the server do (`docs/security.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSettings {
    /// Live rooms on this server; a join that would create one more gets `server_full`.
    pub max_rooms: usize,
    /// Participants in one room; one more gets `room_full`.
    pub max_participants: usize,
    /// Open WebSocket connections from one client address; one more gets HTTP 429.
    pub connections_per_address: usize,
    /// Joins one client address may attempt per minute; more get `rate_limited`.
    pub joins_per_minute: u32,
    /// Seconds a WebSocket may stay open without joining a room.
    pub join_timeout: u64,
    /// ICE candidates one peer connection may send.
    pub max_candidates: u32,
    /// Largest inbound video, `WIDTHxHEIGHT` (either orientation); a publisher sending more is
    /// removed with `media_error`.
    pub max_video_size: Canvas,
    /// Size changes of a publisher's video allowed within one second; more remove it.
    pub video_size_changes: u32,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        Self {
            max_rooms: 100,
            max_participants: 50,
            connections_per_address: 20,
            joins_per_minute: 60,
            join_timeout: 10,
            max_candidates: 64,
            max_video_size: Canvas(Size::new(1920, 1080)),
            video_size_changes: 3,
        }
    }
}

impl LimitsSettings {
    /// [`LimitsSettings::join_timeout`] as a duration.
    pub fn join_timeout(&self) -> Duration {
        Duration::from_secs(self.join_timeout)
    }
}

/// `[ice]`: how peers reach the server's media.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IceSettings {
    /// Local addresses ICE gathers candidates on.
    pub addresses: Vec<IpAddr>,
    /// Public IP written into host candidates instead of the local one (1:1 NAT, containers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announce_ip: Option<IpAddr>,
    /// UDP port range for media, `MIN-MAX`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_ports: Option<PortRange>,
    /// STUN server, `stun://host:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stun: Option<String>,
    /// TURN servers the server's own ICE agent relays through, `turn(s)://user:password@host:port`
    /// (rarely needed: the server is the reachable side; clients get `turn_urls`).
    pub turn: Vec<String>,
    /// TURN servers handed to every client in `joined`, RFC 7065 URLs (`turn:host:3478`,
    /// `turns:host:443?transport=tcp`), with credentials minted per join from `turn_secret`.
    pub turn_urls: Vec<String>,
    /// The TURN server's shared secret (coturn `static-auth-secret` with `use-auth-secret`),
    /// which signs the clients' credentials. Never printed.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "masked")]
    pub turn_secret: Option<String>,
    /// How long a client's TURN credentials open new allocations, seconds (a running call keeps
    /// its relay past it; a reconnect is handed new ones).
    pub turn_ttl: u64,
}

impl Default for IceSettings {
    fn default() -> Self {
        Self {
            addresses: default_ice_addresses(),
            announce_ip: None,
            udp_ports: None,
            stun: None,
            turn: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_ttl: 3600,
        }
    }
}

impl IceSettings {
    /// The issuer of the clients' TURN credentials, `None` when TURN is not configured.
    pub fn turn_issuer(&self) -> Result<Option<crate::access::TurnIssuer>, crate::access::TurnConfigError> {
        let ttl = Duration::from_secs(self.turn_ttl);
        crate::access::TurnIssuer::new(self.turn_secret.as_deref(), &self.turn_urls, ttl)
    }
}

/// `[composite]`: what every room sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompositeSettings {
    /// Composite canvas size, `WIDTHxHEIGHT`.
    pub canvas: Canvas,
    /// Composite frame rate.
    pub fps: u32,
    /// Composite video bitrate, kbit/s.
    pub video_bitrate: u32,
    /// Audio bitrate per encoded mix, kbit/s.
    pub audio_bitrate: u32,
    /// Opus encoder complexity, 0-10. 4 (Janus AudioBridge's default) encodes a 20 ms frame
    /// in half the time of 10 and, in CELT-only mode, switches between a listener's own and
    /// the shared encode without a seam (docs/architecture.md, "Opus complexity").
    pub audio_complexity: u32,
    /// Draw names, muted badges and the speaker border (placeholders are always drawn).
    pub decorations: bool,
    /// Mix and send video; false makes every room audio-only (no compositor or video encoder,
    /// offers without a video m-line).
    pub video: bool,
}

impl Default for CompositeSettings {
    fn default() -> Self {
        Self {
            canvas: Canvas(Size::new(1280, 720)),
            fps: 30,
            video_bitrate: 1500,
            audio_bitrate: 32,
            audio_complexity: 4,
            decorations: true,
            video: true,
        }
    }
}

/// `[media]`: how inbound media is received and when a silent participant is removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// Receive jitter-buffer latency, ms.
    pub jitter_ms: u32,
    /// How long the mixers wait for a late input frame, ms (docs/architecture.md, "Where
    /// each millisecond goes").
    pub mix_wait_ms: u32,
    /// Seconds without inbound RTP after which a publisher is removed (also the time anyone has
    /// to connect).
    pub media_timeout: u64,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self { jitter_ms: 50, mix_wait_ms: 20, media_timeout: 10 }
    }
}

impl MediaSettings {
    /// [`MediaSettings::media_timeout`] as a duration.
    pub fn media_timeout(&self) -> Duration {
        Duration::from_secs(self.media_timeout)
    }
}

/// `[recording]`: where recordings go and whether every room is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingSettings {
    /// Directory recordings are written to.
    pub dir: PathBuf,
    /// Record every room from its first join to its end.
    pub auto: bool,
    /// Recordings running at once on this server; one more is refused (`recording_refused`).
    pub max_active: usize,
    /// Longest recording, seconds; a recording is stopped when it reaches it.
    pub max_duration: u64,
    /// Free space, MiB, the recordings' disk must keep: a recording is refused below it and
    /// stopped when the disk falls below it.
    pub min_free_disk_mb: u64,
}

impl Default for RecordingSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("recordings"),
            auto: false,
            max_active: 4,
            max_duration: 4 * 3600,
            min_free_disk_mb: 1024,
        }
    }
}

impl RecordingSettings {
    /// [`RecordingSettings::max_duration`] as a duration.
    pub fn max_duration(&self) -> Duration {
        Duration::from_secs(self.max_duration)
    }
}

/// `[fleet]`: several servers sharing one set of rooms through Redis (`docs/deployment.md`).
/// Without `redis_url` the server is alone and nothing here is used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetSettings {
    /// The fleet's Redis, `redis://host:port/db`. Never printed (it may hold a password).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "masked")]
    pub redis_url: Option<String>,
    /// This server's URL as clients reach it, e.g. `https://node-1.example.com` (the target of
    /// redirects); default: `http(s)://` and the listen address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Milliseconds a node (and its rooms) stays registered without a heartbeat; heartbeats go
    /// every third of it. A dead node's rooms move after at most this long.
    pub ttl_ms: u64,
}

impl Default for FleetSettings {
    fn default() -> Self {
        Self { redis_url: None, public_url: None, ttl_ms: 10_000 }
    }
}

fn masked_all<S: serde::Serializer>(secrets: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(secrets.iter().map(|_| "(set)"))
}

pub(super) fn masked<S: serde::Serializer>(key: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if key.is_some() { "(set)" } else { "" })
}

/// An inclusive UDP port range, written `MIN-MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortRange {
    /// Lowest port.
    pub min: u16,
    /// Highest port.
    pub max: u16,
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s.split_once('-').ok_or("expected MIN-MAX")?;
        let min: u16 = a.trim().parse().map_err(|_| "bad MIN port")?;
        let max: u16 = b.trim().parse().map_err(|_| "bad MAX port")?;
        if min == 0 || min > max {
            return Err("need 0 < MIN <= MAX".into());
        }
        Ok(Self { min, max })
    }
}

impl TryFrom<String> for PortRange {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<PortRange> for String {
    fn from(p: PortRange) -> String {
        format!("{}-{}", p.min, p.max)
    }
}

/// A canvas size written `WIDTHxHEIGHT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Canvas(pub Size);

impl FromStr for Canvas {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (w, h) = s.split_once('x').ok_or("expected WIDTHxHEIGHT")?;
        let w: u32 = w.trim().parse().map_err(|_| "bad width")?;
        let h: u32 = h.trim().parse().map_err(|_| "bad height")?;
        if !(16..=3840).contains(&w) || !(16..=2160).contains(&h) || w % 2 == 1 || h % 2 == 1 {
            return Err("canvas must be even, 16x16 to 3840x2160".into());
        }
        Ok(Self(Size::new(w, h)))
    }
}

impl TryFrom<String> for Canvas {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Canvas> for String {
    fn from(c: Canvas) -> String {
        format!("{}x{}", c.0.width, c.0.height)
    }
}

/// Loopback plus the address of the default route, if the machine has one. Found by
/// "connecting" a UDP socket, which sends nothing.
pub fn default_ice_addresses() -> Vec<IpAddr> {
    let mut out = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    let routed =
        UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect("192.0.2.1:9").map(|_| s)).and_then(|s| s.local_addr());
    if let Ok(addr) = routed {
        let ip = addr.ip();
        if !ip.is_loopback() && !ip.is_unspecified() {
            out.push(ip);
        }
    }
    out
}

/// `./assets` when it exists (run from a checkout or the container's work dir), else the
/// source tree's `assets/`.
fn default_assets_dir() -> PathBuf {
    let local = PathBuf::from("assets");
    if local.join("index.html").exists() { local } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("assets") }
}
