//! REST endpoints for recordings (documented in `docs/api.md` and `docs/recording.md`).

use std::convert::Infallible;

use warp::http::StatusCode;
use warp::reply::Response;

use super::AppState;
use super::api::{error, find_room, json, no_room, unauthorized};
use crate::recording::RecordingError;

fn recording_error(e: &RecordingError) -> Response {
    let (status, code) = match e {
        RecordingError::NotFound(_) => (StatusCode::NOT_FOUND, "recording_not_found"),
        RecordingError::NotRunning(_) => (StatusCode::CONFLICT, "recording_not_running"),
        RecordingError::InvalidName => (StatusCode::BAD_REQUEST, "invalid_file_name"),
        RecordingError::Exists(_) => (StatusCode::CONFLICT, "file_exists"),
        RecordingError::Unwritable { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "record_dir_unwritable"),
        RecordingError::AudioOnly => (StatusCode::CONFLICT, "audio_only_room"),
        RecordingError::Media(_) => (StatusCode::INTERNAL_SERVER_ERROR, "recording_failed"),
    };
    error(status, code, e.to_string())
}

/// `POST /api/rooms/{room}/recordings` with an optional body `{"name": "file"}`.
pub async fn start(
    room: String,
    auth: Option<String>,
    body: bytes::Bytes,
    state: AppState,
) -> Result<Response, Infallible> {
    if !state.admin.allows(auth.as_deref()) {
        return Ok(unauthorized());
    }
    let name = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) if v.is_object() && v.get("name").is_none_or(|n| n.is_string()) => {
                v.get("name").and_then(|n| n.as_str()).map(str::to_owned)
            }
            _ => {
                return Ok(error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    r#"body must be {"name": "<file name>"} or empty"#,
                ));
            }
        }
    };
    let Some(handle) = find_room(&state, &room) else { return Ok(no_room(&room)) };
    Ok(match handle.start_recording(name).await {
        Ok(info) => json(StatusCode::CREATED, &info),
        Err(e) => recording_error(&e),
    })
}

/// `DELETE /api/rooms/{room}/recordings/{id}`: answers once the file is finalized.
pub async fn stop(room: String, id: String, auth: Option<String>, state: AppState) -> Result<Response, Infallible> {
    if !state.admin.allows(auth.as_deref()) {
        return Ok(unauthorized());
    }
    let Some(handle) = find_room(&state, &room) else { return Ok(no_room(&room)) };
    Ok(match handle.stop_recording(id).await {
        Ok(info) => json(StatusCode::OK, &info),
        Err(e) => recording_error(&e),
    })
}

/// `GET /api/rooms/{room}/recordings`: the room's recordings, live or finished.
pub async fn of_room(room: String, state: AppState) -> Result<Response, Infallible> {
    let list = state.registry.recordings().list(|r| r.room.as_str() == room);
    if list.is_empty() && find_room(&state, &room).is_none() {
        return Ok(no_room(&room));
    }
    Ok(json(StatusCode::OK, &serde_json::json!({ "recordings": list })))
}

/// `GET /api/recordings`: every recording this server made.
pub async fn all(state: AppState) -> Result<Response, Infallible> {
    Ok(json(StatusCode::OK, &serde_json::json!({ "recordings": state.registry.recordings().list(|_| true) })))
}
