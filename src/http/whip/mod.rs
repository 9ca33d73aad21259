//! WHIP (RFC 9725) ingest and WHEP playback: one HTTP request publishes into a room or watches
//! it. `POST /whip/{room}` (or `/whep/{room}`) with an SDP offer joins the room as a publisher
//! (or viewer) and answers `201 Created` with our SDP answer, every candidate in it, and the
//! session's `Location`; `DELETE` on that location leaves; `PATCH` trickles the client's
//! candidates (`application/trickle-ice-sdpfrag`); an ICE restart is refused with `422`, as the
//! RFC allows. The same rules as `/ws` apply: the address's join budget, the access token
//! (`Authorization: Bearer`), the room's limits. A WHIP publisher is a participant like any
//! other: a tile, a voice in the mix, kickable, recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;
use warp::http::{HeaderValue, StatusCode, header};
use warp::{Filter, Reply};

use super::AppState;
use super::serve::ClientAddr;
use crate::ids::{ParticipantId, RoomId};
use crate::media::Session;
use crate::protocol::{ErrorCode, IceServer, Role, ServerMessage};
use crate::room::RoomHandle;
use crate::signaling::PeerCommand;
use sdp::{Trickle, parse_offer, trickled};

mod sdp;

/// The largest offer or candidate fragment taken (a browser's offer is about 5 KiB).
const SDP_LIMIT: u64 = 64 * 1024;

/// One WHIP or WHEP session: the participant behind a `Location`.
#[derive(Debug, Clone)]
struct Entry {
    room: RoomHandle,
    participant: ParticipantId,
    /// The offer's m-line ids in order, to place trickled candidates.
    mids: Vec<String>,
    /// Who created it (a trickle or delete from elsewhere must bring the same token).
    token: Option<String>,
}

/// Live WHIP and WHEP sessions by their unguessable id.
#[derive(Debug, Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    fn get(&self, id: &str) -> Option<Entry> {
        self.live.lock().unwrap().get(id).cloned()
    }

    fn remove(&self, id: &str) -> Option<Entry> {
        self.live.lock().unwrap().remove(id)
    }
}

fn session_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut bytes).expect("the system has randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An error for the client alone: a status and the same JSON body as the REST API's.
fn refuse(status: StatusCode, code: &str, message: impl std::fmt::Display) -> warp::reply::Response {
    let body = serde_json::json!({ "error": code, "message": message.to_string() });
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn bearer(authorization: Option<&str>) -> Option<String> {
    super::auth::bearer_token(authorization?).map(str::to_owned)
}

/// What a WHIP or WHEP request carries.
struct Request {
    role: Role,
    room: String,
    name: Option<String>,
    client: Option<ClientAddr>,
    content_type: Option<String>,
    authorization: Option<String>,
    body: Bytes,
}

/// `POST /whip/{room}` or `/whep/{room}`.
async fn create(state: AppState, sessions: Arc<Sessions>, req: Request) -> warp::reply::Response {
    let (kind, session) = match req.role {
        Role::Publisher => ("whip", Session::Whip),
        Role::Viewer | Role::Agent => ("whep", Session::Whep), // the routes name only these two
    };
    if !req.content_type.as_deref().is_some_and(|c| c.trim().eq_ignore_ascii_case("application/sdp")) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the offer must be application/sdp",
        );
    }
    let Ok(room) = RoomId::parse(&req.room) else {
        return refuse(StatusCode::BAD_REQUEST, ErrorCode::InvalidRoom.as_str(), "invalid room name");
    };
    let Some(ClientAddr(addr)) = req.client else {
        return refuse(StatusCode::BAD_REQUEST, "bad_request", "no client address");
    };
    let guards = &state.guards;
    if !guards.addresses.join_attempt(addr.ip(), Instant::now()) {
        let max = guards.limits.joins_per_minute;
        return refuse(StatusCode::TOO_MANY_REQUESTS, "rate_limited", format!("at most {max} joins per minute"));
    }
    let token = bearer(req.authorization.as_deref());
    let admission = match crate::access::admit(&guards.keys, guards.dev, token.as_deref(), room.as_str(), req.role) {
        Ok(a) => a,
        Err(e) => {
            let status =
                if e.code() == ErrorCode::Unauthorized { StatusCode::UNAUTHORIZED } else { StatusCode::FORBIDDEN };
            return refuse(status, e.code().as_str(), e);
        }
    };
    // In a fleet the room may be placed on another node: the offer goes there with its query.
    let mut elsewhere = format!("/{kind}/{}", room.as_str());
    if let Some(name) = &req.name {
        elsewhere +=
            &format!("?{}", form_urlencoded::Serializer::new(String::new()).append_pair("name", name).finish());
    }
    let name = admission.name.or(req.name).unwrap_or_else(|| kind.to_ascii_uppercase());
    let Ok(name) = crate::ids::validate_name(&name) else {
        return refuse(StatusCode::BAD_REQUEST, ErrorCode::InvalidName.as_str(), "invalid display name");
    };
    let offer = match parse_offer(&req.body) {
        Ok(offer) => offer,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, ErrorCode::InvalidSdp.as_str(), why),
    };
    let mids: Vec<String> = offer.medias().map(|m| m.attribute_val("mid").unwrap_or_default().to_owned()).collect();

    let (tx, mut rx) = mpsc::unbounded_channel();
    let joining = state.registry.join(&room, name, req.role, false, tx, session);
    let (handle, participant) = match tokio::time::timeout(super::ws::JOIN_LIMIT, joining).await {
        Ok(Ok((handle, joined))) => (handle, joined.id),
        // The fleet placed the room on another node: the client POSTs its offer there.
        Ok(Err(crate::room::JoinError::Elsewhere(url))) => {
            return crate::fleet::redirect::temporary_redirect(&format!("{url}{elsewhere}"));
        }
        Ok(Err(e)) => return refuse(StatusCode::SERVICE_UNAVAILABLE, e.code().as_str(), e),
        Err(_) => return refuse(StatusCode::SERVICE_UNAVAILABLE, "room_unresponsive", "the room did not answer"),
    };
    // `joined` comes first: it carries the TURN credentials minted for this participant.
    let ice_servers = match rx.recv().await {
        Some(ServerMessage::Joined { ice_servers, .. }) => ice_servers,
        _ => Vec::new(),
    };
    let answer = match handle.offer(participant, offer).await {
        Ok(answer) => answer,
        Err(why) => {
            handle.gone(participant).await;
            return refuse(StatusCode::BAD_REQUEST, ErrorCode::InvalidSdp.as_str(), why);
        }
    };
    let id = session_id();
    let entry = Entry { room: handle, participant, mids, token };
    sessions.live.lock().unwrap().insert(id.clone(), entry);
    // The session lasts as long as the room keeps the participant (a kick or the room's end
    // drops the channel); the messages a WebSocket client would get have no reader here.
    let (ended, forget) = (sessions.clone(), id.clone());
    tokio::spawn(async move {
        while rx.recv().await.is_some() {}
        ended.remove(&forget);
    });
    tracing::info!(room = %room, %participant, "{kind} session started");
    let location = format!("/{kind}/{}/{id}", room.as_str());
    let mut response = warp::reply::with_status(answer, StatusCode::CREATED).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/sdp"));
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    for link in ice_server_links(&state, &ice_servers) {
        if let Ok(v) = HeaderValue::from_str(&link) {
            headers.append(header::LINK, v);
        }
    }
    response
}

/// `Link` headers for the ICE servers a client should use (RFC 9725 section 4.6): the STUN
/// server and the TURN servers with this session's credentials.
fn ice_server_links(state: &AppState, turn: &[IceServer]) -> Vec<String> {
    let quote = |s: &str| s.replace('"', "");
    let stun = state.stun.as_deref().map(|url| url.replace("stun://", "stun:"));
    let mut links: Vec<String> = stun.iter().map(|url| format!("<{url}>; rel=\"ice-server\"")).collect();
    for server in turn {
        for url in &server.urls {
            let (user, pass) = (server.username.as_deref().unwrap_or(""), server.credential.as_deref().unwrap_or(""));
            links.push(format!(
                "<{url}>; rel=\"ice-server\"; username=\"{}\"; credential=\"{}\"; credential-type=\"password\"",
                quote(user),
                quote(pass)
            ));
        }
    }
    links
}

/// Why a request may not act on a session.
enum Denied {
    /// No such session in this room.
    NotFound,
    /// The session was created with a token and the request does not bring it.
    Unauthorized,
}

impl Denied {
    fn into_response(self) -> warp::reply::Response {
        match self {
            Self::NotFound => refuse(StatusCode::NOT_FOUND, "session_not_found", "no such session"),
            Self::Unauthorized => refuse(StatusCode::UNAUTHORIZED, "unauthorized", "the session's token is required"),
        }
    }
}

/// The session `id` of `room`, if the request may act on it (the creator's token, when there
/// was one).
fn owned(sessions: &Sessions, room: &str, id: &str, authorization: Option<&str>) -> Result<Entry, Denied> {
    let entry = sessions.get(id).filter(|e| e.room.id().as_str() == room).ok_or(Denied::NotFound)?;
    if entry.token.is_some() && bearer(authorization) != entry.token {
        return Err(Denied::Unauthorized);
    }
    Ok(entry)
}

/// `DELETE /whip/{room}/{session}`: the participant leaves.
async fn delete(sessions: Arc<Sessions>, room: String, id: String, auth: Option<String>) -> warp::reply::Response {
    let entry = match owned(&sessions, &room, &id, auth.as_deref()) {
        Ok(entry) => entry,
        Err(denied) => return denied.into_response(),
    };
    sessions.remove(&id);
    entry.room.peer(entry.participant, PeerCommand::Leave).await;
    StatusCode::OK.into_response()
}

/// `PATCH /whip/{room}/{session}`: the client's trickled candidates. An ICE restart (new
/// credentials) is not supported: `422`.
async fn patch(
    sessions: Arc<Sessions>,
    room: String,
    id: String,
    auth: Option<String>,
    content_type: Option<String>,
    body: Bytes,
) -> warp::reply::Response {
    let entry = match owned(&sessions, &room, &id, auth.as_deref()) {
        Ok(entry) => entry,
        Err(denied) => return denied.into_response(),
    };
    if !content_type.as_deref().is_some_and(|c| c.trim().eq_ignore_ascii_case("application/trickle-ice-sdpfrag")) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "use application/trickle-ice-sdpfrag",
        );
    }
    let Ok(fragment) = std::str::from_utf8(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "bad_request", "the fragment is not text");
    };
    let candidates = match trickled(fragment, &entry.mids) {
        Ok(candidates) => candidates,
        Err(Trickle::Restart) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "ice_restart_unsupported",
                "ICE restarts are not supported",
            );
        }
        Err(Trickle::Bad(why)) => return refuse(StatusCode::BAD_REQUEST, "bad_request", why),
    };
    for (mline, candidate) in candidates {
        let mline = tessera_webrtc::mids::MLine::Index(mline);
        entry.room.peer(entry.participant, PeerCommand::Ice { candidate, mline }).await;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The CORS and WHIP headers of every answer on these endpoints.
fn with_cors(
    response: impl Reply,
    origin: Option<String>,
    state: &AppState,
    host: Option<String>,
) -> warp::reply::Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    if let Some(origin) = origin.filter(|o| state.origins.allows(Some(o), host.as_deref()))
        && let Ok(v) = HeaderValue::from_str(&origin)
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, PATCH, DELETE, OPTIONS"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, If-Match"),
    );
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Location, Link, ETag"));
    response
}

/// The WHIP and WHEP routes.
pub fn routes(
    state: AppState,
    sessions: Arc<Sessions>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let kind = warp::path("whip").map(|| Role::Publisher).or(warp::path("whep").map(|| Role::Viewer)).unify();
    let with_state = {
        let state = state.clone();
        warp::any().map(move || state.clone())
    };
    let with_sessions = warp::any().map(move || sessions.clone());
    let cors = warp::header::optional::<String>("origin").and(warp::header::optional::<String>("host"));
    let auth = warp::header::optional::<String>("authorization");
    let content_type = warp::header::optional::<String>("content-type");
    let body = warp::body::content_length_limit(SDP_LIMIT).and(warp::body::bytes());

    let create = kind
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(warp::post())
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::ext::optional::<ClientAddr>())
        .and(content_type)
        .and(auth)
        .and(body)
        .and(with_state.clone())
        .and(with_sessions.clone())
        .and(cors)
        .then(
            |role,
             room,
             query: HashMap<String, String>,
             client,
             content_type,
             authorization,
             body,
             state: AppState,
             sessions,
             origin,
             host| async move {
                let req =
                    Request { role, room, name: query.get("name").cloned(), client, content_type, authorization, body };
                let response = create(state.clone(), sessions, req).await;
                with_cors(response, origin, &state, host)
            },
        );
    let options = kind
        .and(warp::path::param::<String>())
        .and(warp::path::tail())
        .and(warp::options())
        .and(with_state.clone())
        .and(cors)
        .map(|_, _, _, state: AppState, origin, host| {
            let mut response = StatusCode::NO_CONTENT.into_response();
            response.headers_mut().insert("accept-post", HeaderValue::from_static("application/sdp"));
            response.headers_mut().insert("accept-patch", HeaderValue::from_static("application/trickle-ice-sdpfrag"));
            with_cors(response, origin, &state, host)
        });
    let session = kind.and(warp::path::param::<String>()).and(warp::path::param::<String>()).and(warp::path::end());
    let delete =
        session.and(warp::delete()).and(auth).and(with_sessions.clone()).and(with_state.clone()).and(cors).then(
            |_, room, id, auth, sessions, state: AppState, origin, host| async move {
                with_cors(delete(sessions, room, id, auth).await, origin, &state, host)
            },
        );
    let patch = session
        .and(warp::patch())
        .and(auth)
        .and(content_type)
        .and(body)
        .and(with_sessions)
        .and(with_state)
        .and(cors)
        .then(|_, room, id, auth, content_type, body, sessions, state: AppState, origin, host| async move {
            with_cors(patch(sessions, room, id, auth, content_type, body).await, origin, &state, host)
        });
    create.or(options).unify().or(delete).unify().or(patch).unify()
}
