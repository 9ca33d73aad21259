//! The REST API under `/api` (documented in `docs/api.md`): rooms, participants, kicks.
//! Every failure is a JSON body `{"error": {"code", "message"}}` with a matching status.

use std::convert::Infallible;

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::{AppState, recordings};
use crate::ids::{ParticipantId, RoomId};
use crate::room::RoomHandle;

/// A room in the list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RoomSummary {
    id: RoomId,
    participants: usize,
    created_at: String,
    uptime_secs: f64,
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
    let all_recordings = warp::path!("recordings").and(warp::get()).and(with_state.clone()).and_then(recordings::all);
    let layout = warp::path!("rooms" / String / "layout")
        .and(warp::put())
        .and(auth)
        .and(warp::body::content_length_limit(16 * 1024))
        .and(warp::body::bytes())
        .and(with_state.clone())
        .and_then(set_layout);
    let rooms = list.or(detail).unify().or(kick).unify().or(close).unify().or(layout).unify().boxed();
    let recordings = record.or(stop_recording).unify().or(room_recordings).unify().or(all_recordings).unify().boxed();
    let api = rooms.or(recordings).unify();
    warp::path("api").and(api.recover(rejection).unify())
}

async fn list_rooms(state: AppState) -> Result<Response, Infallible> {
    let infos =
        futures_util::future::join_all(state.registry.rooms().iter().map(|r| async move { r.info().await })).await;
    let mut rooms: Vec<RoomSummary> = infos
        .into_iter()
        .flatten()
        .map(|i| RoomSummary {
            participants: i.participants.len(),
            id: i.id,
            created_at: i.created_at,
            uptime_secs: i.uptime_secs,
        })
        .collect();
    rooms.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(json(StatusCode::OK, &serde_json::json!({ "rooms": rooms })))
}

async fn room_detail(room: String, state: AppState) -> Result<Response, Infallible> {
    let info = match find_room(&state, &room) {
        Some(handle) => handle.info().await,
        None => None,
    };
    Ok(info.map_or_else(|| no_room(&room), |i| json(StatusCode::OK, &i)))
}

pub(super) fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong admin key (Authorization: Bearer <key>)")
}

async fn kick(room: String, who: String, auth: Option<String>, state: AppState) -> Result<Response, Infallible> {
    if !state.admin.allows(auth.as_deref()) {
        return Ok(unauthorized());
    }
    let Some(handle) = find_room(&state, &room) else { return Ok(no_room(&room)) };
    let removed = match who.parse::<ParticipantId>() {
        Ok(id) => handle.kick(id).await,
        Err(_) => false,
    };
    Ok(if removed {
        tracing::info!(%room, participant = %who, "kicked through the API");
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "participant_not_found", format!("no participant {who:?} in room {room:?}"))
    })
}

async fn close_room(room: String, auth: Option<String>, state: AppState) -> Result<Response, Infallible> {
    if !state.admin.allows(auth.as_deref()) {
        return Ok(unauthorized());
    }
    let Some(handle) = find_room(&state, &room) else { return Ok(no_room(&room)) };
    handle.close().await;
    tracing::info!(%room, "closed through the API");
    Ok(StatusCode::NO_CONTENT.into_response())
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
        Some(layout) => json(StatusCode::OK, &serde_json::json!({ "layout": layout })),
        None => no_room(&room),
    })
}

async fn rejection(r: warp::Rejection) -> Result<Response, Infallible> {
    Ok(if r.is_not_found() {
        error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "request body over 4 KiB")
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this endpoint")
    } else {
        error(StatusCode::BAD_REQUEST, "bad_request", format!("{r:?}"))
    })
}
