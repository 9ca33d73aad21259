//! Every REST answer in one place: JSON bodies, and the typed [`ApiError`] each failure is,
//! rendered as `{"error": {"code", "message"}}` with its status. Codes shared with the WebSocket
//! side are spelled by [`ErrorCode`]; `docs/api.md` lists them all.

use std::convert::Infallible;

use serde::Serialize;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Reply};

use warp::path::FullPath;

use super::auth::AdminPolicy;
use super::origin::Origins;
use crate::protocol::ErrorCode;
use crate::recording::RecordingError;
use crate::room::CallError;

/// Why a REST call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A mutating call without the right admin key or an admin token.
    #[error("missing or wrong admin key or token (Authorization: Bearer <key or token>)")]
    Unauthorized,
    /// A browser page of another origin (`--allowed-origins`).
    #[error("requests from this page's origin are not allowed")]
    ForeignOrigin,
    /// A body that is not `application/json`.
    #[error("request bodies must be application/json")]
    UnsupportedMediaType,
    /// A WebSocket upgrade from an address with its maximum of connections open.
    #[error("at most {0} connections from one address")]
    TooManyConnections(usize),
    /// The request cannot be read (e.g. an `Authorization` header that is not text).
    #[error("{0}")]
    BadRequest(String),
    /// No such endpoint.
    #[error("no such endpoint")]
    NotFound,
    /// A known path with the wrong method.
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    /// A body over the endpoint's limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// No live room by that name.
    #[error("no room named {0:?}")]
    RoomNotFound(String),
    /// No such participant in the room.
    #[error("no participant {who:?} in room {room:?}")]
    ParticipantNotFound {
        /// The room.
        room: String,
        /// The participant as given.
        who: String,
    },
    /// The room's task did not answer in time.
    #[error("room {room:?}: {error}")]
    RoomUnresponsive {
        /// The room.
        room: String,
        /// How long it was given.
        error: CallError,
    },
    /// A layout that does not parse or is not usable.
    #[error("{0}")]
    InvalidLayout(String),
    /// A recording call failed.
    #[error(transparent)]
    Recording(#[from] RecordingError),
}

impl ApiError {
    /// The failure of a call into a room: gone (404) or stuck (503).
    pub fn call_failed(room: &str, e: CallError) -> Self {
        match e {
            CallError::Closed => Self::RoomNotFound(room.to_owned()),
            CallError::Unresponsive(_) => {
                tracing::error!(%room, "room task unresponsive: {e}");
                Self::RoomUnresponsive { room: room.to_owned(), error: e }
            }
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::ForeignOrigin => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyConnections(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::BadRequest(_) | Self::InvalidLayout(_) => StatusCode::BAD_REQUEST,
            Self::NotFound | Self::RoomNotFound(_) | Self::ParticipantNotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RoomUnresponsive { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Recording(e) => match e {
                RecordingError::NotFound { .. } => StatusCode::NOT_FOUND,
                RecordingError::NotRunning { .. }
                | RecordingError::Exists(_)
                | RecordingError::AudioOnly
                | RecordingError::Refused(_) => StatusCode::CONFLICT,
                RecordingError::InvalidName(_) => StatusCode::BAD_REQUEST,
                RecordingError::Unwritable { .. } | RecordingError::Media(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// The stable code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::ForeignOrigin => "forbidden_origin",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooManyConnections(_) => "too_many_connections",
            Self::BadRequest(_) => "bad_request",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RoomNotFound(_) => "room_not_found",
            Self::ParticipantNotFound { .. } => "participant_not_found",
            Self::RoomUnresponsive { .. } => "room_unresponsive",
            Self::InvalidLayout(_) => ErrorCode::InvalidLayout.as_str(),
            Self::Recording(e) => match e {
                RecordingError::NotFound { .. } => "recording_not_found",
                RecordingError::NotRunning { .. } => "recording_not_running",
                RecordingError::InvalidName(_) => "invalid_file_name",
                RecordingError::Exists(_) => "file_exists",
                RecordingError::Unwritable { .. } => "record_dir_unwritable",
                RecordingError::AudioOnly => "audio_only_room",
                RecordingError::Media(_) => "recording_failed",
                RecordingError::Refused(_) => "recording_refused",
            },
        }
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code(), "message": self.to_string() } });
        let mut response = json(self.status(), &body);
        if matches!(self, Self::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"tessera\""));
        }
        response
    }
}

/// A JSON body with `status`.
pub fn json(status: StatusCode, body: &impl Serialize) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// What a handler returns: its answer, or the error to render.
pub type ApiResult = Result<Response, ApiError>;

/// Renders a handler's result: the answer, or its error as JSON.
pub fn render(result: ApiResult) -> Result<Response, Infallible> {
    Ok(result.unwrap_or_else(Reply::into_response))
}

/// The rejection the admin filter raises; [`recover`] turns it into `401`.
#[derive(Debug)]
struct NotAdmin;

impl warp::reject::Reject for NotAdmin {}

/// A browser page of an origin not allowed; `403`.
#[derive(Debug)]
struct ForeignOrigin;

impl warp::reject::Reject for ForeignOrigin {}

/// A body that is not JSON; `415`.
#[derive(Debug)]
struct NotJson;

impl warp::reject::Reject for NotJson {}

/// The room a `/api/rooms/<room>/...` path names.
fn room_in_path(path: &str) -> Option<&str> {
    let mut segments = path.trim_start_matches('/').split('/');
    (segments.next() == Some("api") && segments.next() == Some("rooms")).then(|| segments.next()).flatten()
}

/// The one authorization check: passes administrators (per `policy`) calling from an allowed
/// origin, rejects anyone else. Put it after a mutating route's path and method, before it
/// reads the body, so a wrong key is `401` whatever the body.
pub fn admin(
    policy: std::sync::Arc<AdminPolicy>,
    origins: Origins,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    guard(policy, origins, true)
}

/// The check of the reading calls: open without token secrets (a local try lists its rooms);
/// with them, the same as [`admin`]: room and participant names are not for strangers.
pub fn reader(
    policy: std::sync::Arc<AdminPolicy>,
    origins: Origins,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    let needed = policy.keys.enabled();
    guard(policy, origins, needed)
}

/// The check of `/metrics`: open on a server with neither an admin key nor token secrets (a
/// local try); otherwise the same as [`admin`], so a scraper sends the admin key.
pub fn scraper(
    policy: std::sync::Arc<AdminPolicy>,
    origins: Origins,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    let needed = policy.key.is_some() || policy.keys.enabled();
    guard(policy, origins, needed)
}

/// [`admin`] when `needed`, else nothing.
fn guard(
    policy: std::sync::Arc<AdminPolicy>,
    origins: Origins,
    needed: bool,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::header::optional::<String>("origin"))
        .and(warp::header::optional::<String>("host"))
        .and(warp::path::full())
        .and_then(move |auth: Option<String>, origin: Option<String>, host: Option<String>, path: FullPath| {
            let verdict = if !needed {
                Ok(())
            } else if !origins.allows(origin.as_deref(), host.as_deref()) {
                Err(warp::reject::custom(ForeignOrigin))
            } else if policy.allows(auth.as_deref(), host.as_deref(), room_in_path(path.as_str())) {
                Ok(())
            } else {
                Err(warp::reject::custom(NotAdmin))
            };
            async move { verdict }
        })
        .untuple_one()
}

/// Passes requests whose body is JSON, or that have no body and no `Content-Type`: a form or
/// `text/plain` POST (what a page can send to another site without asking) is refused.
pub fn json_content() -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::header::optional::<String>("transfer-encoding"))
        .and_then(|kind: Option<String>, length: Option<u64>, chunked: Option<String>| {
            let has_body = length.is_some_and(|n| n > 0) || chunked.is_some();
            let json = kind
                .as_deref()
                .is_some_and(|k| k.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
            let verdict =
                if json || (kind.is_none() && !has_body) { Ok(()) } else { Err(warp::reject::custom(NotJson)) };
            async move { verdict }
        })
        .untuple_one()
}

/// Every rejection under `/api` as an [`ApiError`].
pub async fn recover(r: warp::Rejection) -> Result<Response, Infallible> {
    // A route that matched path and method but not the key is the answer, whatever the other
    // routes said (warp would otherwise prefer another route's "wrong method").
    let error = if r.find::<ForeignOrigin>().is_some() {
        ApiError::ForeignOrigin
    } else if r.find::<NotAdmin>().is_some() {
        ApiError::Unauthorized
    } else if r.find::<NotJson>().is_some() {
        ApiError::UnsupportedMediaType
    } else if r.is_not_found() {
        ApiError::NotFound
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge
    } else if r.find::<warp::reject::InvalidHeader>().is_some() {
        // Checked before the method: another route's "wrong method" must not hide it.
        ApiError::BadRequest("a request header could not be read".into())
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed
    } else {
        ApiError::BadRequest(format!("{r:?}"))
    };
    Ok(error.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_documented() {
        let errors = [
            ApiError::Unauthorized,
            ApiError::ForeignOrigin,
            ApiError::UnsupportedMediaType,
            ApiError::TooManyConnections(0),
            ApiError::BadRequest(String::new()),
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::PayloadTooLarge,
            ApiError::RoomNotFound(String::new()),
            ApiError::ParticipantNotFound { room: String::new(), who: String::new() },
            ApiError::RoomUnresponsive { room: String::new(), error: CallError::Closed },
            ApiError::InvalidLayout(String::new()),
            ApiError::Recording(RecordingError::NotFound {
                room: crate::ids::RoomId::parse("r").unwrap(),
                id: String::new(),
            }),
            ApiError::Recording(RecordingError::NotRunning {
                room: crate::ids::RoomId::parse("r").unwrap(),
                id: crate::ids::RecordingId::next(),
                state: crate::recording::RecordingState::Done,
            }),
            ApiError::Recording(RecordingError::InvalidName(String::new())),
            ApiError::Recording(RecordingError::Exists(Default::default())),
            ApiError::Recording(RecordingError::Unwritable { path: Default::default(), reason: String::new() }),
            ApiError::Recording(RecordingError::AudioOnly),
            ApiError::Recording(RecordingError::Media(String::new())),
            ApiError::Recording(RecordingError::Refused(String::new())),
        ];
        let docs = include_str!("../../docs/api.md");
        let mut seen = std::collections::HashSet::new();
        for e in &errors {
            assert!(seen.insert(e.code()), "{} twice", e.code());
            assert!(docs.contains(&format!("`{}`", e.code())), "docs/api.md does not list `{}`", e.code());
        }
    }
}
