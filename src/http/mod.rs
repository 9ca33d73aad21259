//! HTTP: the warp routes — `/ws` signaling, `/api` REST, `/healthz`, `/readyz`, and the
//! browser client at `/`.

mod api;
pub mod auth;
mod recordings;
mod ws;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use warp::Filter;
use warp::http::StatusCode;

use crate::protocol::MAX_MESSAGE_BYTES;
use crate::registry::Registry;

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
    pub admin: auth::AdminPolicy,
}

/// All routes of the server.
pub fn routes(
    state: AppState,
    assets: PathBuf,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let healthz =
        warp::path!("healthz").and(warp::get()).map(|| warp::reply::json(&serde_json::json!({ "status": "ok" })));
    let readyz = warp::path!("readyz").and(warp::get()).then(|| async {
        let (status, body) = match tokio::task::spawn_blocking(crate::media::readiness_check).await {
            Ok(Ok(())) => (StatusCode::OK, serde_json::json!({ "status": "ready" })),
            Ok(Err(e)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "not ready", "error": format!("{e:#}") }),
            ),
            Err(e) => {
                (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({ "status": "not ready", "error": e.to_string() }))
            }
        };
        warp::reply::with_status(warp::reply::json(&body), status)
    });
    let api = api::routes(state.clone());
    let signaling = warp::path!("ws").and(warp::ws()).and(warp::any().map(move || state.clone())).map(
        |upgrade: warp::ws::Ws, state: AppState| {
            upgrade
                .max_message_size(TRANSPORT_LIMIT)
                .max_frame_size(TRANSPORT_LIMIT)
                .on_upgrade(move |socket| ws::serve(socket, state))
        },
    );
    let client = warp::get().and(warp::fs::dir(assets));
    healthz.or(readyz).or(api).or(signaling).or(client)
}
