//! The REST API under `/api` (documented in `docs/api.md`): rooms, participants, kicks.
//! Every failure is a JSON body `{"error": {"code", "message"}}` with a matching status.

use std::convert::Infallible;

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::{AppState, recordings};
use crate::ids::{ParticipantId, RoomId};
use crate::room::{CallError, RoomHandle};

/// A room in the list; a room whose task did not answer in time has only its id and
/// `unresponsive: true`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RoomSummary {
    id: RoomId,
    #[serde(skip_serializing_if = "Option::is_none")]
    participants: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uptime_secs: Option<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    unresponsive: bool,
}

pub(super) fn json(status: StatusCode, body: &impl Serialize) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

pub(super) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    json(status, &serde_json::json!({ "error": { "code": code, "message": message.into() } }))
}

pub(super) fn no_room(room: &str) -> Response {
    error(StatusCode::NOT_FOUND, "room_not_found", format!("no room named {room:?}"))
}

/// The answer to a call into a room that failed: gone (404) or stuck (503).
pub(super) fn call_failed(room: &str, e: CallError) -> Response {
    match e {
        CallError::Closed => no_room(room),
        CallError::Unresponsive(_) => {
            tracing::error!(%room, "room task unresponsive: {e}");
            error(StatusCode::SERVICE_UNAVAILABLE, "room_unresponsive", format!("room {room:?}: {e}"))
        }
    }
}

pub(super) fn find_room(state: &AppState, room: &str) -> Option<RoomHandle> {
    state.registry.get(&RoomId::parse(room).ok()?)
}

/// The `/api` routes; every rejection under `/api` becomes a JSON error.
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let auth = warp::header::optional::<String>("authorization");
    let list = warp::path!("rooms").and(warp::get()).and(with_state.clone()).and_then(list_rooms);
    let detail = warp::path!("rooms" / String).and(warp::get()).and(with_state.clone()).and_then(room_detail);
    let kick = warp::path!("rooms" / String / "participants" / String)
        .and(warp::delete())
        .and(auth)
        .and(with_state.clone())
        .and_then(kick);
    let close =
        warp::path!("rooms" / String).and(warp::delete()).and(auth).and(with_state.clone()).and_then(close_room);
    let record = warp::path!("rooms" / String / "recordings")
        .and(warp::post())
        .and(auth)
        .and(recordings::capped_body(recordings::MAX_BODY))
        .and(with_state.clone())
        .and_then(recordings::start);
    let stop_recording = warp::path!("rooms" / String / "recordings" / String)
        .and(warp::delete())
        .and(auth)
        .and(with_state.clone())
        .and_then(recordings::stop);
    let room_recordings = warp::path!("rooms" / String / "recordings")
        .and(warp::get())
        .and(with_state.clone())
        .and_then(recordings::of_room);
    let stats = warp::path!("stats").and(warp::get()).and(with_state.clone()).and_then(stats);
    let all_recordings = warp::path!("recordings").and(warp::get()).and(with_state.clone()).and_then(recordings::all);
    let layout = warp::path!("rooms" / String / "layout")
        .and(warp::put())
        .and(auth)
        .and(warp::body::content_length_limit(16 * 1024))
        .and(warp::body::bytes())
        .and(with_state.clone())
        .and_then(set_layout);
    let rooms = stats.or(list).unify().or(detail).unify().or(kick).unify().or(close).unify().or(layout).unify().boxed();
    let recordings = record.or(stop_recording).unify().or(room_recordings).unify().or(all_recordings).unify().boxed();
    let api = rooms.or(recordings).unify();
    warp::path("api").and(api.recover(rejection).unify())
}

async fn list_rooms(state: AppState) -> Result<Response, Infallible> {
    let handles = state.registry.rooms();
    let infos = futures_util::future::join_all(handles.iter().map(|r| r.info())).await;
    let mut rooms: Vec<RoomSummary> = handles
        .iter()
        .zip(infos)
        .filter_map(|(handle, info)| match info {
            Ok(i) => Some(RoomSummary {
                participants: Some(i.participants.len()),
                id: i.id,
                created_at: Some(i.created_at),
                uptime_secs: Some(i.uptime_secs),
                unresponsive: false,
            }),
            Err(CallError::Closed) => None,
            Err(CallError::Unresponsive(_)) => Some(RoomSummary {
                id: handle.id().clone(),
                participants: None,
                created_at: None,
                uptime_secs: None,
                unresponsive: true,
            }),
        })
        .collect();
    rooms.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(json(StatusCode::OK, &serde_json::json!({ "rooms": rooms })))
}

/// `GET /api/stats`: live rooms, room pipelines, `webrtcbin`s and ICE objects still in memory,
/// and the last teardown.
async fn stats(state: AppState) -> Result<Response, Infallible> {
    use crate::media::teardown;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "rooms": state.registry.rooms().len(),
            "roomPipelines": teardown::live_room_pipelines(),
            "webrtcbins": tessera_webrtc::live_webrtcbins(),
            "iceAgents": tessera_webrtc::live_ice_agents(),
            "lastTeardown": teardown::last_teardown(),
        }),
    ))
}

async fn room_detail(room: String, state: AppState) -> Result<Response, Infallible> {
    let Some(handle) = find_room(&state, &room) else { return Ok(no_room(&room)) };
    Ok(match handle.info().await {
        Ok(info) => json(StatusCode::OK, &info),
        Err(e) => call_failed(&room, e),
    })
}

/// `401` with a JSON body and the scheme the client should use.
pub(super) fn unauthorized() -> Response {
    let mut response =
        error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong admin key (Authorization: Bearer <key>)");
    response
        .headers_mut()
        .insert(warp::http::header::WWW_AUTHENTICATE, warp::http::HeaderValue::from_static("Bearer realm=\"tessera\""));
    response
}

async fn kick(room: String, who: String, auth: Option<String>, state: AppState) -> Result<Response, Infallible> {
    if !state.admin.allows(auth.as_deref()) {
        return Ok(unauthorized());
    }
    let Some(handle) = find_room(&state, &room) else { return Ok(no_room(&room)) };
    let removed = match who.parse::<ParticipantId>() {
        Ok(id) => handle.kick(id).await,
        Err(_) => Ok(false),
    };
    Ok(match removed {
        Ok(true) => {
            tracing::info!(%room, participant = %who, "kicked through the API");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => {
            error(StatusCode::NOT_FOUND, "participant_not_found", format!("no participant {who:?} in room {room:?}"))
        }
        Err(e) => call_failed(&room, e),
    })
}

async fn close_room(room: String, auth: Option<String>, state: AppState) -> Result<Response, Infallible> {
    if !state.admin.allows(auth.as_deref()) {
        return Ok(unauthorized());
    }
    let Some(handle) = find_room(&state, &room) else { return Ok(no_room(&room)) };
    Ok(match handle.close().await {
        Ok(()) => {
            tracing::info!(%room, "closed through the API");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => call_failed(&room, e),
    })
}

async fn set_layout(
    room: String,
    auth: Option<String>,
    body: bytes::Bytes,
    state: AppState,
) -> Result<Response, Infallible> {
    if !state.admin.allows(auth.as_deref()) {
        return Ok(unauthorized());
    }
    let spec = match serde_json::from_slice::<crate::layout::LayoutSpec>(&body) {
        Ok(spec) => spec,
        Err(e) => return Ok(error(StatusCode::BAD_REQUEST, "invalid_layout", e.to_string())),
    };
    if let Err(e) = spec.validate() {
        return Ok(error(StatusCode::BAD_REQUEST, "invalid_layout", e.to_string()));
    }
    let Some(handle) = find_room(&state, &room) else { return Ok(no_room(&room)) };
    Ok(match handle.set_layout(spec).await {
        Ok(layout) => json(StatusCode::OK, &serde_json::json!({ "layout": layout })),
        Err(e) => call_failed(&room, e),
    })
}

async fn rejection(r: warp::Rejection) -> Result<Response, Infallible> {
    Ok(if r.is_not_found() {
        error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "request body too large")
    } else if r.find::<warp::reject::InvalidHeader>().is_some() {
        // Checked before the method: another route's "wrong method" must not hide it.
        error(StatusCode::BAD_REQUEST, "bad_request", "a request header could not be read")
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this endpoint")
    } else {
        error(StatusCode::BAD_REQUEST, "bad_request", format!("{r:?}"))
    })
}
