//! `tessera serve`'s flags and `TESSERA_*` variables: one optional value per setting, grouped
//! like the file's sections, so the flags given are laid over the file with the same keys.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::Serialize;

use super::{Canvas, PortRange};

/// Settings of `tessera serve`; each may come from a flag, the environment or the config file.
#[derive(Debug, Default, Clone, clap::Args, Serialize)]
pub struct ServeArgs {
    /// TOML file with any of these settings, in sections (`tessera config` prints one).
    #[arg(long, env = "TESSERA_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// `[server]`.
    #[command(flatten)]
    pub server: ServerArgs,
    /// `[ice]`.
    #[command(flatten)]
    pub ice: IceArgs,
    /// `[composite]`.
    #[command(flatten)]
    pub composite: CompositeArgs,
    /// `[media]`.
    #[command(flatten)]
    pub media: MediaArgs,
    /// `[recording]`.
    #[command(flatten)]
    pub recording: RecordingArgs,
    /// `[limits]`.
    #[command(flatten)]
    pub limits: LimitsArgs,
    /// `[fleet]`.
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// `[metrics]`.
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// `[webhooks]`.
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

/// `[server]` flags.
#[derive(Debug, Default, Clone, clap::Args, Serialize)]
#[command(next_help_heading = "[server]")]
pub struct ServerArgs {
    /// HTTP/WebSocket listen address.
    #[arg(long, env = "TESSERA_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Bearer key required by the mutating REST calls; without it only `--dev` or an admin
    /// token is an administrator.
    #[arg(long, env = "TESSERA_ADMIN_KEY", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_key: Option<String>,
    /// Directory of the browser client.
    #[arg(long, env = "TESSERA_ASSETS_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assets_dir: Option<PathBuf>,
    /// Access-token secrets, `SECRET` or `KID:SECRET`, comma-separated; when set, every join
    /// needs a token.
    #[arg(long, env = "TESSERA_TOKEN_SECRET", hide_env_values = true, value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<Vec<String>>,
    /// Development mode (loopback only): local REST calls are an administrator's (unless an
    /// admin key is set), any publisher sets layouts.
    #[arg(long, env = "TESSERA_DEV", num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<bool>,
    /// Origins whose pages may open `/ws` and call the REST API, comma-separated (default: the
    /// server's own host).
    #[arg(long, env = "TESSERA_ALLOWED_ORIGINS", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// PEM certificate chain: serve HTTPS and WSS (with `--tls-key`).
    #[arg(long, env = "TESSERA_TLS_CERT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `--tls-cert`.
    #[arg(long, env = "TESSERA_TLS_KEY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

/// `[ice]` flags.
#[derive(Debug, Default, Clone, clap::Args, Serialize)]
#[command(next_help_heading = "[ice]")]
pub struct IceArgs {
    /// Local IP addresses ICE gathers candidates on, comma-separated.
    #[arg(long = "ice-addresses", env = "TESSERA_ICE_ADDRESSES", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<IpAddr>>,
    /// Public IP announced in host candidates instead of the local one (1:1 NAT, containers).
    #[arg(long, env = "TESSERA_ANNOUNCE_IP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announce_ip: Option<IpAddr>,
    /// UDP port range for media, `MIN-MAX`.
    #[arg(long, env = "TESSERA_UDP_PORTS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_ports: Option<PortRange>,
    /// STUN server, `stun://host:port`.
    #[arg(long, env = "TESSERA_STUN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stun: Option<String>,
    /// TURN servers of the server's own ICE agent, `turn(s)://user:password@host:port`,
    /// comma-separated.
    #[arg(long, env = "TESSERA_TURN", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn: Option<Vec<String>>,
    /// TURN URLs handed to clients (`turn:host:3478`, `turns:host:443?transport=tcp`),
    /// comma-separated; needs `--turn-secret`.
    #[arg(long, env = "TESSERA_TURN_URLS", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_urls: Option<Vec<String>>,
    /// The TURN server's `static-auth-secret`: clients' credentials are minted from it.
    #[arg(long, env = "TESSERA_TURN_SECRET", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_secret: Option<String>,
    /// Seconds a client's TURN credentials open new allocations.
    #[arg(long, env = "TESSERA_TURN_TTL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_ttl: Option<u64>,
}

/// `[composite]` flags.
#[derive(Debug, Default, Clone, clap::Args, Serialize)]
#[command(next_help_heading = "[composite]")]
pub struct CompositeArgs {
    /// Composite canvas size, `WIDTHxHEIGHT`.
    #[arg(long, env = "TESSERA_CANVAS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canvas: Option<Canvas>,
    /// Composite frame rate.
    #[arg(long, env = "TESSERA_FPS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fps: Option<u32>,
    /// Composite video bitrate in kbit/s.
    #[arg(long, env = "TESSERA_VIDEO_BITRATE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_bitrate: Option<u32>,
    /// Audio bitrate per encoded mix in kbit/s.
    #[arg(long, env = "TESSERA_AUDIO_BITRATE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_bitrate: Option<u32>,
    /// Opus encoder complexity, 0–10: 10 spends twice the CPU per encode for less codec noise.
    #[arg(long, env = "TESSERA_AUDIO_COMPLEXITY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_complexity: Option<u32>,
    /// Draw names, muted badges and the speaker border on the composite.
    #[arg(long, env = "TESSERA_DECORATIONS", num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decorations: Option<bool>,
    /// Mix and send video; false makes every room audio-only (no compositor, no video encoder,
    /// offers without a video m-line).
    #[arg(long, env = "TESSERA_VIDEO", num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<bool>,
}

/// `[media]` flags.
#[derive(Debug, Default, Clone, clap::Args, Serialize)]
#[command(next_help_heading = "[media]")]
pub struct MediaArgs {
    /// Receive jitter-buffer latency in milliseconds.
    #[arg(long, env = "TESSERA_JITTER_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<u32>,
    /// How long the compositor and the audio mix wait for a late input frame, in
    /// milliseconds, before they go on without it.
    #[arg(long, env = "TESSERA_MIX_WAIT_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mix_wait_ms: Option<u32>,
    /// Seconds without inbound RTP after which a publisher is removed.
    #[arg(long, env = "TESSERA_MEDIA_TIMEOUT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_timeout: Option<u64>,
}

/// `[recording]` flags.
#[derive(Debug, Default, Clone, clap::Args, Serialize)]
#[command(next_help_heading = "[recording]")]
pub struct RecordingArgs {
    /// Directory recordings are written to.
    #[arg(long = "record-dir", env = "TESSERA_RECORD_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Record every room from its first join to its end.
    #[arg(long = "auto-record", env = "TESSERA_AUTO_RECORD", num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto: Option<bool>,
    /// Recordings running at once on this server.
    #[arg(long = "max-recordings", env = "TESSERA_MAX_RECORDINGS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_active: Option<usize>,
    /// Longest recording in seconds.
    #[arg(long = "max-recording-duration", env = "TESSERA_MAX_RECORDING_DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<u64>,
    /// Free MiB the recordings' disk must keep.
    #[arg(long = "min-free-disk-mb", env = "TESSERA_MIN_FREE_DISK_MB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_free_disk_mb: Option<u64>,
}

/// `[limits]` flags.
#[derive(Debug, Default, Clone, clap::Args, Serialize)]
#[command(next_help_heading = "[limits]")]
pub struct LimitsArgs {
    /// Live rooms on this server (`server_full` beyond).
    #[arg(long, env = "TESSERA_MAX_ROOMS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rooms: Option<usize>,
    /// Participants in one room (`room_full` beyond).
    #[arg(long, env = "TESSERA_MAX_PARTICIPANTS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_participants: Option<usize>,
    /// Open WebSocket connections per client address (HTTP 429 beyond).
    #[arg(long, env = "TESSERA_CONNECTIONS_PER_ADDRESS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections_per_address: Option<usize>,
    /// Joins per client address per minute (`rate_limited` beyond).
    #[arg(long, env = "TESSERA_JOINS_PER_MINUTE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joins_per_minute: Option<u32>,
    /// Seconds a WebSocket may stay open without joining.
    #[arg(long, env = "TESSERA_JOIN_TIMEOUT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_timeout: Option<u64>,
    /// ICE candidates one peer connection may send.
    #[arg(long, env = "TESSERA_MAX_CANDIDATES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_candidates: Option<u32>,
    /// Largest inbound video, `WIDTHxHEIGHT`, either orientation.
    #[arg(long, env = "TESSERA_MAX_VIDEO_SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_video_size: Option<Canvas>,
    /// Size changes of a publisher's video allowed within one second.
    #[arg(long, env = "TESSERA_VIDEO_SIZE_CHANGES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_size_changes: Option<u32>,
}

/// `[fleet]` flags.
#[derive(Debug, Default, Clone, clap::Args, Serialize)]
#[command(next_help_heading = "[fleet]")]
pub struct FleetArgs {
    /// Redis of a fleet of servers sharing rooms, `redis://host:port` (none: this server alone).
    #[arg(long, env = "TESSERA_REDIS_URL", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// This server's URL as clients reach it (the target of redirects to its rooms).
    #[arg(long, env = "TESSERA_PUBLIC_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Milliseconds a silent node and its rooms stay registered in the fleet.
    #[arg(long = "fleet-ttl-ms", env = "TESSERA_FLEET_TTL_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

/// `[metrics]` flags.
#[derive(Debug, Default, Clone, clap::Args, Serialize)]
#[command(next_help_heading = "[metrics]")]
pub struct MetricsArgs {
    /// Per-room media metrics (composite frame rate and encoder time, inbound loss, jitter,
    /// NACKs, PLIs); `false` leaves `/metrics` its counters.
    #[arg(long = "media-metrics", env = "TESSERA_MEDIA_METRICS", num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<bool>,
}

/// `[webhooks]` flags.
#[derive(Debug, Default, Clone, clap::Args, Serialize)]
#[command(next_help_heading = "[webhooks]")]
pub struct WebhookArgs {
    /// `http://` URL receiving signed JSON events; repeat or comma-separate for several.
    #[arg(long = "webhook-url", env = "TESSERA_WEBHOOK_URL", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Key of the events' HMAC-SHA256 signature (`Tessera-Signature`).
    #[arg(long = "webhook-secret", env = "TESSERA_WEBHOOK_SECRET", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Seconds an event is retried before it counts as failed.
    #[arg(long = "webhook-retry-for", env = "TESSERA_WEBHOOK_RETRY_FOR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_for: Option<u64>,
}
