//! The REST API under `/api` (documented in `docs/api.md`): rooms, participants, kicks,
//! layouts and recordings. Every failure is an [`ApiError`], rendered in `super::reply`.

use serde::Serialize;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::AppState;
use super::recording_routes as recordings;
use super::reply::{self, ApiError, ApiResult, json, render};
use crate::ids::{ParticipantId, RoomId};
use crate::room::CallError;

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
    /// In a fleet: the node that runs the room, and its public URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node_url: Option<String>,
}

/// The `/api` routes; every rejection under `/api` becomes a JSON error.
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let admin = reply::admin(state.admin.clone(), state.origins.clone());
    let reader = reply::reader(state.admin.clone(), state.origins.clone());
    let with_state = warp::any().map(move || state.clone());
    let list =
        warp::path!("rooms").and(warp::get()).and(reader.clone()).and(with_state.clone()).then(list_rooms).map(render);
    let detail = warp::path!("rooms" / String)
        .and(warp::get())
        .and(reader.clone())
        .and(with_state.clone())
        .then(room_detail)
        .map(render);
    let kick = warp::path!("rooms" / String / "participants" / String)
        .and(warp::delete())
        .and(admin.clone())
        .and(with_state.clone())
        .then(kick)
        .map(render);
    let close = warp::path!("rooms" / String)
        .and(warp::delete())
        .and(admin.clone())
        .and(with_state.clone())
        .then(close_room)
        .map(render);
    let record = warp::path!("rooms" / String / "recordings")
        .and(warp::post())
        .and(admin.clone())
        .and(reply::json_content())
        .and(recordings::capped_body(recordings::MAX_BODY))
        .and(with_state.clone())
        .then(recordings::start)
        .map(render);
    let stop_recording = warp::path!("rooms" / String / "recordings" / String)
        .and(warp::delete())
        .and(admin.clone())
        .and(with_state.clone())
        .then(recordings::stop)
        .map(render);
    let room_recordings = warp::path!("rooms" / String / "recordings")
        .and(warp::get())
        .and(reader.clone())
        .and(with_state.clone())
        .then(recordings::of_room)
        .map(render);
    let stats =
        warp::path!("stats").and(warp::get()).and(reader.clone()).and(with_state.clone()).then(stats).map(render);
    let all_recordings = warp::path!("recordings")
        .and(warp::get())
        .and(reader)
        .and(with_state.clone())
        .then(recordings::all)
        .map(render);
    let layout = warp::path!("rooms" / String / "layout")
        .and(warp::put())
        .and(admin)
        .and(reply::json_content())
        .and(warp::body::content_length_limit(16 * 1024))
        .and(warp::body::bytes())
        .and(with_state.clone())
        .then(set_layout)
        .map(render);
    let rooms = stats.or(list).unify().or(detail).unify().or(kick).unify().or(close).unify().or(layout).unify().boxed();
    let recordings = record.or(stop_recording).unify().or(room_recordings).unify().or(all_recordings).unify().boxed();
    let api = rooms.or(recordings).unify().map(|r: Result<Response, std::convert::Infallible>| match r {
        Ok(response) => response,
        Err(never) => match never {},
    });
    warp::path("api").and(api.recover(reply::recover).unify())
}

async fn list_rooms(state: AppState) -> ApiResult {
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
                node: None,
                node_url: None,
            }),
            Err(CallError::Closed) => None,
            Err(CallError::Unresponsive(_)) => Some(RoomSummary {
                id: handle.id().clone(),
                participants: None,
                created_at: None,
                uptime_secs: None,
                unresponsive: true,
                node: None,
                node_url: None,
            }),
        })
        .collect();
    let Some(fleet) = state.registry.fleet() else {
        rooms.sort_by(|a, b| a.id.cmp(&b.id));
        return Ok(json(StatusCode::OK, &serde_json::json!({ "rooms": rooms })));
    };
    // In a fleet: this node's rooms as above, the others' from their last heartbeats.
    for room in &mut rooms {
        (room.node, room.node_url) = (Some(fleet.node().to_owned()), Some(fleet.url().to_owned()));
    }
    let remote = fleet.remote_rooms().await;
    for r in remote.as_ref().map_or(&[][..], Vec::as_slice) {
        let Ok(id) = RoomId::parse(&r.id) else { continue };
        rooms.push(RoomSummary {
            id,
            participants: Some(r.participants),
            created_at: None,
            uptime_secs: None,
            unresponsive: false,
            node: Some(r.node.clone()),
            node_url: Some(r.url.clone()),
        });
    }
    rooms.sort_by(|a, b| a.id.cmp(&b.id));
    let fleet = match remote {
        Ok(_) => serde_json::json!({ "node": fleet.node(), "status": "ok" }),
        Err(e) => serde_json::json!({ "node": fleet.node(), "status": "unavailable", "error": e.to_string() }),
    };
    Ok(json(StatusCode::OK, &serde_json::json!({ "rooms": rooms, "fleet": fleet })))
}

/// `GET /api/stats`: live rooms, room pipelines, `webrtcbin`s and ICE objects still in memory,
/// and the last teardown.
async fn stats(state: AppState) -> ApiResult {
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

async fn room_detail(room: String, state: AppState) -> ApiResult {
    let info = state.room(&room)?.info().await.map_err(|e| ApiError::call_failed(&room, e))?;
    Ok(json(StatusCode::OK, &info))
}

async fn kick(room: String, who: String, state: AppState) -> ApiResult {
    let handle = state.room(&room)?;
    let removed = match who.parse::<ParticipantId>() {
        Ok(id) => handle.kick(id).await.map_err(|e| ApiError::call_failed(&room, e))?,
        Err(_) => false,
    };
    if !removed {
        return Err(ApiError::ParticipantNotFound { room, who });
    }
    tracing::info!(%room, participant = %who, "kicked through the API");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn close_room(room: String, state: AppState) -> ApiResult {
    state.room(&room)?.close().await.map_err(|e| ApiError::call_failed(&room, e))?;
    tracing::info!(%room, "closed through the API");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn set_layout(room: String, body: bytes::Bytes, state: AppState) -> ApiResult {
    let spec = serde_json::from_slice::<crate::layout::LayoutSpec>(&body)
        .map_err(|e| ApiError::InvalidLayout(e.to_string()))?;
    spec.validate().map_err(|e| ApiError::InvalidLayout(e.to_string()))?;
    let layout = state.room(&room)?.set_layout(spec).await.map_err(|e| ApiError::call_failed(&room, e))?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "layout": layout })))
}
