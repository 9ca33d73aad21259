//! `GET /metrics`: the Prometheus exposition (OpenMetrics text) of [`crate::metrics`], with the
//! server-wide counts read at scrape time. Open on a server with neither an admin key nor token
//! secrets; otherwise it takes the admin key (or an admin token), like the admin reads.

use warp::Filter;
use warp::http::header;
use warp::reply::{Reply, Response};

use super::AppState;
use super::reply;
use crate::metrics::{StateLabel, get};
use crate::recording::RecordingState;

/// What Prometheus is told the body is.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `/metrics` route; its refusals (`401`, `405`) are JSON errors like the API's.
pub fn route(state: AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let guard = reply::scraper(state.admin.clone(), state.origins.clone());
    let scrape = warp::get().and(guard).map(move || scrape(&state)).recover(reply::recover).unify();
    // The path is matched outside `recover`, so other paths still fall through to other routes.
    warp::path("metrics").and(warp::path::end()).and(scrape)
}

fn scrape(state: &AppState) -> Response {
    let m = get();
    m.rooms.set(state.registry.rooms().len() as i64);
    let recordings = state.registry.recordings().list(|_| true);
    for s in [
        RecordingState::Starting,
        RecordingState::Running,
        RecordingState::Stopping,
        RecordingState::Done,
        RecordingState::Failed,
    ] {
        let n = recordings.iter().filter(|r| r.state == s).count();
        m.recordings.get_or_create(&StateLabel { state: state_name(s) }).set(n as i64);
    }
    m.recording_bytes.set(recordings.iter().map(|r| r.bytes as i64).sum());
    warp::reply::with_header(m.encode(), header::CONTENT_TYPE, CONTENT_TYPE).into_response()
}

fn state_name(s: RecordingState) -> &'static str {
    match s {
        RecordingState::Starting => "starting",
        RecordingState::Running => "running",
        RecordingState::Stopping => "stopping",
        RecordingState::Done => "done",
        RecordingState::Failed => "failed",
    }
}
