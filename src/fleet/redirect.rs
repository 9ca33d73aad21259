//! Sends HTTP calls for a room another node runs to that node: a `307 Temporary Redirect` to
//! the same path (and query) on the owner, which keeps the method and body (a WHIP offer is
//! POSTed again there).
//!
//! Join endpoints get their check from `Registry::join`, which asks [`Fleet::route`] before it
//! creates a room (placing a new one, after the endpoint's own checks: a token, the address's
//! join budget) and fails with `JoinError::Elsewhere(url)`: the WebSocket answers it with a
//! `redirect` message, an HTTP endpoint with [`temporary_redirect`]. A new endpoint that joins
//! a room (`/agent`, say) calls `Registry::join` and maps `Elsewhere` the same way. [`filter`]
//! answers the paths of [`room_of`] before they run, when the room already runs elsewhere
//! (it only looks: it never places a room, so an unauthenticated request claims nothing).
//!
//! [`Fleet::route`]: super::Fleet::route

use std::sync::Arc;

use warp::http::{Method, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Reply};

use super::Route;
use crate::ids::RoomId;
use crate::registry::Registry;

/// The room a request is about, if it is one the fleet may serve elsewhere:
/// `/api/rooms/{room}[/...]` (any method), `POST /whip/{room}` and `POST /whep/{room}`.
pub fn room_of(method: &Method, path: &str) -> Option<RoomId> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let room = match segments.as_slice() {
        ["api", "rooms", room, ..] => *room,
        ["whip" | "whep", room] if method == Method::POST => *room,
        _ => return None,
    };
    RoomId::parse(room).ok()
}

/// A `307` to `location`.
pub fn temporary_redirect(location: &str) -> Response {
    let body = warp::reply::json(&serde_json::json!({ "redirect": location }));
    let mut response = warp::reply::with_status(body, StatusCode::TEMPORARY_REDIRECT).into_response();
    if let Ok(value) = header::HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Answers requests for rooms of other nodes with a `307` to the owner; rejects (lets the
/// routes behind it answer) everything else, and everything when the server is alone, the
/// room runs here or the registry is out of reach.
pub fn filter(registry: Arc<Registry>) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::method().and(warp::path::full()).and(query).and_then(
        move |method: Method, path: warp::path::FullPath, query: String| {
            let registry = registry.clone();
            async move {
                let target = room_of(&method, path.as_str()).filter(|room| registry.get(room).is_none());
                let (Some(fleet), Some(room)) = (registry.fleet(), target) else {
                    return Err(warp::reject::not_found());
                };
                match fleet.lookup(&room).await.ok().flatten() {
                    Some(Route::Elsewhere(url)) => {
                        let query = if query.is_empty() { query } else { format!("?{query}") };
                        Ok(temporary_redirect(&format!("{url}{}{query}", path.as_str())))
                    }
                    _ => Err(warp::reject::not_found()),
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(path: &str, method: Method) -> Option<String> {
        room_of(&method, path).map(|r| r.to_string())
    }

    #[test]
    fn rest_calls_on_a_room_follow_it() {
        assert_eq!(room("/api/rooms/r1", Method::GET).as_deref(), Some("r1"));
        assert_eq!(room("/api/rooms/r1/participants/3", Method::DELETE).as_deref(), Some("r1"));
        assert_eq!(room("/api/rooms/r1/recordings", Method::POST).as_deref(), Some("r1"));
    }

    #[test]
    fn whip_and_whep_offers_follow_it() {
        assert_eq!(room("/whip/r1", Method::POST).as_deref(), Some("r1"));
        assert_eq!(room("/whep/r1", Method::POST).as_deref(), Some("r1"));
    }

    #[test]
    fn other_requests_are_not_redirected() {
        for (path, method) in [
            ("/api/rooms", Method::GET),
            ("/api/stats", Method::GET),
            ("/whip/r1/abcd", Method::PATCH),
            ("/whip/r1", Method::OPTIONS),
            ("/ws", Method::GET),
            ("/api/rooms/bad%20name", Method::GET),
            ("/", Method::GET),
        ] {
            assert_eq!(room(path, method.clone()), None, "{method} {path}");
        }
    }

    #[test]
    fn a_redirect_carries_its_location() {
        let r = temporary_redirect("http://127.0.0.1:9/api/rooms/a?x=1");
        assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(r.headers()[header::LOCATION], "http://127.0.0.1:9/api/rooms/a?x=1");
    }
}
