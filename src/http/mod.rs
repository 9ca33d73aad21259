//! HTTP: the warp routes — `/ws` signaling, `/healthz`, and the browser client at `/`.

mod ws;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use warp::Filter;

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
}

/// All routes of the server.
pub fn routes(
    state: AppState,
    assets: PathBuf,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let healthz =
        warp::path!("healthz").and(warp::get()).map(|| warp::reply::json(&serde_json::json!({ "status": "ok" })));
    let signaling = warp::path!("ws").and(warp::ws()).and(warp::any().map(move || state.clone())).map(
        |upgrade: warp::ws::Ws, state: AppState| {
            upgrade
                .max_message_size(TRANSPORT_LIMIT)
                .max_frame_size(TRANSPORT_LIMIT)
                .on_upgrade(move |socket| ws::serve(socket, state))
        },
    );
    let client = warp::get().and(warp::fs::dir(assets));
    healthz.or(signaling).or(client)
}
