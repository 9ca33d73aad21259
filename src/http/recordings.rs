//! REST endpoints for recordings (documented in `docs/api.md` and `docs/recording.md`).

use std::convert::Infallible;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::StreamExt;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::AppState;
use super::api::{error, find_room, json, no_room, unauthorized};
use crate::recording::RecordingError;

fn recording_error(e: &RecordingError) -> Response {
    let (status, code) = match e {
        RecordingError::NotFound { .. } => (StatusCode::NOT_FOUND, "recording_not_found"),
        RecordingError::NotRunning { .. } => (StatusCode::CONFLICT, "recording_not_running"),
        RecordingError::InvalidName(_) => (StatusCode::BAD_REQUEST, "invalid_file_name"),
        RecordingError::Exists(_) => (StatusCode::CONFLICT, "file_exists"),
        RecordingError::Unwritable { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "record_dir_unwritable"),
        RecordingError::AudioOnly => (StatusCode::CONFLICT, "audio_only_room"),
        RecordingError::Media(_) => (StatusCode::INTERNAL_SERVER_ERROR, "recording_failed"),
    };
    error(status, code, e.to_string())
}

/// The largest request body the recording endpoints read.
pub(super) const MAX_BODY: usize = 4096;

/// Why a request body was not read.
#[derive(Debug)]
pub(super) enum BodyError {
    /// Over [`MAX_BODY`] bytes.
    TooLarge,
    /// The connection failed while the body was read.
    Unreadable(String),
}

/// The request body, read up to `limit` bytes whatever its framing: a `Content-Length`, chunked,
/// or none at all (`curl -X POST` sends no body and no length). Never rejects, so the handler
/// checks the admin key before it looks at the body.
pub(super) fn capped_body(
    limit: usize,
) -> impl Filter<Extract = (Result<Bytes, BodyError>,), Error = warp::Rejection> + Clone {
    warp::body::stream().then(move |stream| read_capped(stream, limit))
}

async fn read_capped(
    stream: impl futures_util::Stream<Item = Result<impl Buf, warp::Error>>,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let mut stream = std::pin::pin!(stream);
    let mut body = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|e| BodyError::Unreadable(e.to_string()))?;
        if body.len() + chunk.remaining() > limit {
            return Err(BodyError::TooLarge);
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            body.extend_from_slice(part);
            chunk.advance(n);
        }
    }
    Ok(body.freeze())
}

/// `POST /api/rooms/{room}/recordings` with an optional body `{"name": "file"}`.
pub async fn start(
    room: String,
    auth: Option<String>,
    body: Result<Bytes, BodyError>,
    state: AppState,
) -> Result<Response, Infallible> {
    if !state.admin.allows(auth.as_deref()) {
        return Ok(unauthorized());
    }
    let body = match body {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let why = format!("request body over {MAX_BODY} bytes");
            return Ok(error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", why));
        }
        Err(BodyError::Unreadable(why)) => return Ok(error(StatusCode::BAD_REQUEST, "bad_request", why)),
    };
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
