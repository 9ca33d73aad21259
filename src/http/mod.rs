//! HTTP: the warp routes — `/ws` signaling, `/agent` (AI agents and bots), `/api` REST,
//! `/healthz`, `/readyz`, `/metrics`, and the browser client at `/`.

mod agent;
mod api;
pub mod auth;
mod metrics_route;
mod origin;
mod recording_routes;
mod reply;
pub mod serve;
mod whip;
mod ws;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use warp::Filter;
use warp::http::StatusCode;

use crate::access::{AddressLimits, Keys};
use crate::config::LimitsSettings;
use crate::protocol::MAX_MESSAGE_BYTES;
use crate::registry::Registry;

pub use origin::Origins;

/// Frames up to this size are read and answered with `message_too_large` when over
/// [`MAX_MESSAGE_BYTES`]; larger ones close the connection.
const TRANSPORT_LIMIT: usize = 16 * MAX_MESSAGE_BYTES;

/// Everything the routes share.
#[derive(Clone)]
pub struct AppState {
    /// The rooms.
    pub registry: Arc<Registry>,
    /// Flips to true when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Who may call the mutating REST endpoints.
    pub admin: Arc<auth::AdminPolicy>,
    /// Which browser pages may open `/ws` and call the REST API.
    pub origins: Origins,
    /// Who may join, and how much each client may do.
    pub guards: Arc<JoinGuards>,
    /// The STUN server clients are told about (WHIP/WHEP `Link` headers).
    pub stun: Option<String>,
    /// Live WHIP and WHEP sessions.
    pub sessions: Arc<whip::Sessions>,
}

/// What the signaling side checks before anything is built for a client.
#[derive(Debug)]
pub struct JoinGuards {
    /// Token secrets (none: anyone may join).
    pub keys: Keys,
    /// Development mode: any publisher may change the layout.
    pub dev: bool,
    /// The configured limits.
    pub limits: LimitsSettings,
    /// Connections and joins by client address.
    pub addresses: Arc<AddressLimits>,
}

impl AppState {
    /// The live room called `room`, or `room_not_found`.
    fn room(&self, room: &str) -> Result<crate::room::RoomHandle, reply::ApiError> {
        let id = crate::ids::RoomId::parse(room).ok();
        id.and_then(|id| self.registry.get(&id)).ok_or_else(|| reply::ApiError::RoomNotFound(room.to_owned()))
    }
}

/// A successful readiness check is reused for this long: a check builds a `webrtcbin` and both
/// mixers, too much to do for every probe of an unauthenticated endpoint.
const READY_CACHE: std::time::Duration = std::time::Duration::from_secs(5);

/// `GET /readyz`: `503` once shutdown started; otherwise whether a room's pipeline can be built.
async fn readiness(shutting_down: bool) -> (StatusCode, serde_json::Value) {
    static LAST_OK: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    if shutting_down {
        return (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({ "status": "shutting down" }));
    }
    if LAST_OK.lock().unwrap().is_some_and(|t| t.elapsed() < READY_CACHE) {
        return (StatusCode::OK, serde_json::json!({ "status": "ready" }));
    }
    let error = match tokio::task::spawn_blocking(crate::media::readiness_check).await {
        Ok(Ok(())) => {
            *LAST_OK.lock().unwrap() = Some(std::time::Instant::now());
            return (StatusCode::OK, serde_json::json!({ "status": "ready" }));
        }
        Ok(Err(e)) => format!("{e:#}"),
        Err(e) => e.to_string(),
    };
    (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({ "status": "not ready", "error": error }))
}

/// Which WebSocket a client opens.
enum Socket {
    /// `/ws`: signaling.
    Signaling,
    /// `/agent`: an agent, with its query.
    Agent(crate::agent::AgentQuery),
}

/// A WebSocket upgrade: refused (`403`) for a page of another origin, and (`429`) when the
/// client's address has its maximum of connections open; otherwise served by [`ws::serve`]
/// or [`agent::serve`].
fn upgrade(
    socket: Socket,
    client: Option<serve::ClientAddr>,
    origin: Option<String>,
    host: Option<String>,
    upgrade: warp::ws::Ws,
    state: AppState,
) -> warp::reply::Response {
    use warp::Reply;
    if !state.origins.allows(origin.as_deref(), host.as_deref()) {
        tracing::warn!(?origin, ?host, "websocket from a page of another origin refused");
        return reply::ApiError::ForeignOrigin.into_response();
    }
    // Every connection comes through `serve`, which tags it; one that is not is refused rather
    // than left uncounted.
    let Some(serve::ClientAddr(addr)) = client else {
        return reply::ApiError::BadRequest("no client address".into()).into_response();
    };
    let Some(guard) = state.guards.addresses.connect(addr.ip()) else {
        let max = state.guards.limits.connections_per_address;
        tracing::warn!(ip = %addr.ip(), "connection refused: {max} already open from this address");
        return reply::ApiError::TooManyConnections(max).into_response();
    };
    match socket {
        Socket::Signaling => upgrade
            .max_message_size(TRANSPORT_LIMIT)
            .max_frame_size(TRANSPORT_LIMIT)
            .on_upgrade(move |socket| ws::serve(socket, state, guard))
            .into_response(),
        Socket::Agent(query) => upgrade
            .max_message_size(agent::TRANSPORT_LIMIT)
            .max_frame_size(agent::TRANSPORT_LIMIT)
            .on_upgrade(move |socket| agent::serve(socket, state, guard, query))
            .into_response(),
    }
}

/// All routes of the server.
pub fn routes(
    state: AppState,
    assets: PathBuf,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let healthz =
        warp::path!("healthz").and(warp::get()).map(|| warp::reply::json(&serde_json::json!({ "status": "ok" })));
    let ready_state = state.clone();
    let readyz = warp::path!("readyz").and(warp::get()).then(move || {
        let shutting_down = *ready_state.shutdown.borrow();
        async move {
            let (status, body) = readiness(shutting_down).await;
            warp::reply::with_status(warp::reply::json(&body), status)
        }
    });
    let api = api::routes(state.clone());
    let metrics = metrics_route::route(state.clone());
    let whip = whip::routes(state.clone(), state.sessions.clone());
    // In a fleet, calls for a room another node runs are answered first, with a 307 there.
    let fleet = crate::fleet::redirect::filter(state.registry.clone());
    let socket_parts = warp::ext::optional::<serve::ClientAddr>()
        .and(warp::header::optional::<String>("origin"))
        .and(warp::header::optional::<String>("host"))
        .and(warp::ws())
        .and(warp::any().map(move || state.clone()));
    let signaling = warp::path!("ws").map(|| Socket::Signaling).and(socket_parts.clone()).map(upgrade);
    // A query that does not parse reaches the agent as the defaults, and is refused there with
    // its error code on the socket.
    let agent_query = warp::query::<crate::agent::AgentQuery>().or(warp::any().map(Default::default)).unify();
    let agent = warp::path!("agent").and(agent_query).map(Socket::Agent).and(socket_parts).map(upgrade);
    // Browsers ask every page's origin for /favicon.ico (also for /healthz and JSON answers); a
    // 404 there is an error in every visitor's console.
    let favicon = warp::path!("favicon.ico").and(warp::get()).and(warp::fs::file(assets.join("favicon.svg")));
    let client = warp::get().and(warp::fs::dir(assets));
    fleet.or(healthz).or(readyz).or(metrics).or(api).or(whip).or(signaling).or(agent).or(favicon).or(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn not_ready_while_shutting_down() {
        let (status, body) = readiness(true).await;
        assert_eq!((status, body["status"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("shutting down")));
    }
}
