//! REST endpoints for recordings (documented in `docs/api.md` and `docs/recording.md`).

use bytes::{Buf, Bytes, BytesMut};
use futures_util::StreamExt;
use warp::Filter;
use warp::http::StatusCode;

use super::AppState;
use super::reply::{ApiError, ApiResult, json};

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
pub(super) async fn start(room: String, body: Result<Bytes, BodyError>, state: AppState) -> ApiResult {
    let body = match body {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return Err(ApiError::PayloadTooLarge),
        Err(BodyError::Unreadable(why)) => return Err(ApiError::BadRequest(why)),
    };
    let name = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) if v.is_object() && v.get("name").is_none_or(|n| n.is_string()) => {
                v.get("name").and_then(|n| n.as_str()).map(str::to_owned)
            }
            _ => return Err(ApiError::BadRequest(r#"body must be {"name": "<file name>"} or empty"#.into())),
        }
    };
    let info = state.room(&room)?.start_recording(name).await?;
    Ok(json(StatusCode::CREATED, &info))
}

/// `DELETE /api/rooms/{room}/recordings/{id}`: answers once the file is finalized.
pub(super) async fn stop(room: String, id: String, state: AppState) -> ApiResult {
    let info = state.room(&room)?.stop_recording(id).await?;
    Ok(json(StatusCode::OK, &info))
}

/// `GET /api/rooms/{room}/recordings`: the room's recordings, live or finished.
pub(super) async fn of_room(room: String, state: AppState) -> ApiResult {
    let list = state.registry.recordings().list(|r| r.room.as_str() == room);
    if list.is_empty() {
        state.room(&room)?;
    }
    Ok(json(StatusCode::OK, &serde_json::json!({ "recordings": list })))
}

/// `GET /api/recordings`: every recording this server made.
pub(super) async fn all(state: AppState) -> ApiResult {
    Ok(json(StatusCode::OK, &serde_json::json!({ "recordings": state.registry.recordings().list(|_| true) })))
}
