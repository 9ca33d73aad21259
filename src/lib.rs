//! Tessera: a WebRTC MCU. Participants' video is decoded and composited, their audio mixed,
//! and the result encoded **once** per room and sent back to everyone (each publisher hears
//! everyone but themselves).
//!
//! # Layout
//! - `http`: warp routes (`/ws`, `/api`, `/healthz`, `/readyz`, the client in `assets/`); the
//!   socket glue hands frames to `signaling`, the pure handler that validates them; REST
//!   answers and errors are rendered in one place (`http/reply.rs`).
//! - `agent`: AI agents and bots on `/agent` (raw PCM over a WebSocket), the pure rules of their
//!   socket; its glue is `http/agent.rs` and its media `media/agent.rs` (docs/agents.md).
//! - `registry`, `room`: rooms by id; each room is one thread, its actor owning the pipeline,
//!   the sockets and the recordings, its rules a pure core (`room/core`) unit-tested on a fake
//!   clock; everyone else holds a `RoomHandle`.
//! - [`media`]: the GStreamer graph of a room (peers, ingress, mixers, the stage the core
//!   plans, the recorder), driven by the room's actor; [`pipelines`]: the fixed chains.
//! - [`layout`]: the protocol's layout geometry, where decorations go, the `StagePlan`;
//!   `speaker`: active-speaker detection; [`draw`]: the images drawn on tiles (fonts in
//!   `assets/fonts`); [`config`]: settings from flags, environment and a sectioned TOML file.
//! - `fleet`: several servers sharing one set of rooms through Redis (node heartbeats, room
//!   placement, redirects to a room's node); absent without `--redis-url`.
//! - [`metrics`]: the Prometheus metrics of `GET /metrics`; `webhooks`: signed events POSTed
//!   to `--webhook-url`s from a queue rooms never wait on.
//! - Beside the server: `tessera-protocol` (messages, ids, layout spec), `tessera-webrtc`
//!   (`webrtcbin` built and torn down safely), `tessera-client` (a real WebRTC peer) and
//!   `tessera-bench` (load, benchmark, stress, soak). See `docs/architecture.md`.

#![deny(missing_docs)]

mod access;
mod agent;
pub mod config;
pub mod draw;
mod fleet;
mod http;
pub mod layout;
pub mod media;
pub mod metrics;
pub mod pipelines;
mod recording;
mod registry;
mod room;
mod signaling;
mod speaker;
mod token_cli;
pub mod webhooks;

// The wire protocol lives in its own crate (what clients and bots need); inside the server it
// keeps its short paths.
use tessera_protocol as protocol;
use tessera_protocol::ids;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

pub use token_cli::TokenArgs;

use crate::config::Config;
use crate::registry::Registry;

/// Serves Tessera on `listener` until `shutdown` completes, then tells every client, tears
/// down every room and returns (within about 5 s).
pub async fn run(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    media::memory::tune_allocator();
    let srtp = tessera_webrtc::srtp::preload(); // before GStreamer can load its srtp plugin
    gst::init()?;
    route_glib_logs();
    log_srtp(srtp);
    let server_settings = config.server.clone();
    let keys = access::Keys::new(&server_settings.token_secret)?;
    // A Config built in code skips `resolve`'s checks: refuse bad TURN settings here too.
    if let Some(turn) = config.ice.turn_issuer()? {
        tracing::info!(?turn, "clients are handed TURN credentials");
    }
    let tls = match (&server_settings.tls_cert, &server_settings.tls_key) {
        (Some(cert), Some(key)) => Some(http::serve::tls_acceptor(cert, key)?),
        _ => None,
    };
    let local = listener.local_addr()?;
    anyhow::ensure!(
        !server_settings.dev || local.ip().is_loopback(),
        "--dev makes every caller an administrator, so it only runs on a loopback listener, not {local}"
    );
    if server_settings.dev {
        tracing::warn!("development mode: every REST call from this machine is an administrator's");
    } else if !keys.enabled() {
        tracing::info!("no token secret: anyone who reaches the server may join (limits apply)");
    }
    let limits = config.limits.clone();
    // TCP connections per address: page loads, REST calls and upgrades beside the WebSockets.
    let tcp = access::AddressLimits::new(2 * limits.connections_per_address + 8, limits.joins_per_minute);
    let guards = Arc::new(http::JoinGuards {
        keys: keys.clone(),
        dev: server_settings.dev,
        addresses: access::AddressLimits::new(limits.connections_per_address, limits.joins_per_minute),
        limits,
    });
    let stun = config.ice.stun.clone();
    let fleet = fleet::Fleet::new(&config.fleet, local, tls.is_some())?;
    webhooks::install(&config.webhooks);
    let registry = Registry::new(Arc::new(config), fleet.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(fleet) = &fleet {
        fleet::heartbeat::start(fleet.clone(), Arc::downgrade(&registry), stop_rx.clone()).await;
    }
    let admin =
        Arc::new(http::auth::AdminPolicy { key: server_settings.admin_key.clone(), keys, dev: server_settings.dev });
    let origins = http::Origins::new(&server_settings.allowed_origins);
    let sessions = Default::default();
    let state = http::AppState {
        registry: registry.clone(),
        shutdown: stop_rx.clone(),
        admin,
        origins,
        guards,
        stun,
        sessions,
    };
    let routes = warp::Filter::boxed(warp::Filter::map(
        http::routes(state, server_settings.assets_dir.clone()),
        warp::Reply::into_response,
    ));
    let mut server_stop = stop_rx;
    let server = tokio::spawn(http::serve::serve(listener, tls, tcp, routes, async move {
        let _ = server_stop.wait_for(|stop| *stop).await;
    }));
    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    if let Some(fleet) = &fleet {
        // Rooms released before their clients hear `server_shutdown`: they rejoin elsewhere at once.
        let rooms: Vec<_> = registry.rooms().iter().map(|r| r.id().clone()).collect();
        fleet.leave(&rooms).await;
    }
    // Rooms finalize their recordings (bounded by FINALIZE_LIMIT) before they close; the whole
    // shutdown stays within 5 s.
    let limit = room::FINALIZE_LIMIT + Duration::from_secs(1);
    if tokio::time::timeout(limit, registry.shutdown()).await.is_err() {
        tracing::warn!("rooms did not stop within {limit:?}");
    }
    let _ = tokio::time::timeout(Duration::from_millis(500), server).await;
    // The rooms' last events (`participant_left`, `room_finished`), within the 5 s.
    webhooks::flush(Duration::from_secs(1)).await;
    Ok(())
}

/// Says which libsrtp2 encrypts media: the OpenSSL build is the fast one (see
/// [`tessera_webrtc::srtp`]).
fn log_srtp(srtp: &tessera_webrtc::srtp::Preloaded) {
    use tessera_webrtc::srtp::Preloaded;
    match srtp {
        Preloaded::Library(path) => tracing::info!("SRTP: libsrtp2 on OpenSSL ({})", path.display()),
        Preloaded::System(None) => tracing::info!("SRTP: the system's libsrtp2, as asked"),
        Preloaded::System(Some(path)) => tracing::warn!(
            "SRTP: the system's libsrtp2 (NSS), which costs each receiver more: no {} (scripts/install-deps.sh builds it)",
            path.display()
        ),
        Preloaded::TooLate(path) => tracing::warn!("SRTP: {} was loaded before Tessera could choose", path.display()),
        Preloaded::Failed(why) => {
            tracing::warn!("SRTP: the system's libsrtp2; loading the OpenSSL build failed: {why}")
        }
    }
}

/// Sends GLib/GStreamer warnings printed with `g_warning` to `tracing` instead of raw stderr.
/// "loop detected in the graph" is expected and harmless in 1.22: a publisher's webrtcbin sits
/// both before and after the mixers, so it is logged at debug level only.
fn route_glib_logs() {
    use gst::glib::{LogLevels, log_set_handler};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let levels = LogLevels::LEVEL_WARNING | LogLevels::LEVEL_CRITICAL;
        log_set_handler(Some("GStreamer"), levels, false, false, |domain, level, message| {
            if message.contains("loop detected in the graph") {
                tracing::debug!(domain, "{message}");
            } else if level == gst::glib::LogLevel::Critical {
                tracing::error!(domain, "{message}");
            } else {
                tracing::warn!(domain, "{message}");
            }
        });
    });
}
