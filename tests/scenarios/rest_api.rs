//! The REST API: every endpoint, the admin-key rule (key from `--admin-key` and from
//! `TESSERA_ADMIN_KEY`, loopback without a key), and each error status, against a live room.
//! (`503 room_unresponsive` needs a stuck room task: a unit test in `src/room/mod.rs` covers it;
//! `/readyz` during shutdown: a unit test in `src/http/mod.rs`.)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};
use tessera_protocol::{ErrorCode, ServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends raw request bytes; returns the status, the header block and the JSON body.
async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String, serde_json::Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let json = body.find('{').and_then(|i| serde_json::from_str(&body[i..=body.rfind('}')?]).ok());
    (status, head.to_ascii_lowercase(), json.unwrap_or_default())
}

/// `DELETE path` with a raw `Authorization` header value.
async fn delete_with(addr: SocketAddr, path: &str, authorization: &[u8]) -> (u16, String, serde_json::Value) {
    let mut req = format!("DELETE {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: ").into_bytes();
    req.extend_from_slice(authorization);
    req.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
    raw(addr, &req).await
}

/// Waits until the room reports a full second of the publisher's video.
async fn inbound_counted(addr: SocketAddr) {
    let deadline = Instant::now() + secs(5);
    while http(addr, "GET", "/api/rooms/api-room", None).await.1["participants"][0]["inbound"]["fps"].as_f64()
        < Some(20.0)
    {
        assert!(Instant::now() < deadline, "inbound fps never reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn check_reads(addr: SocketAddr, publisher: &TestPeer) {
    let (status, rooms) = http(addr, "GET", "/api/rooms", None).await;
    println!("GET /api/rooms -> {status} {rooms}");
    let room = &rooms["rooms"][0];
    assert_eq!((status, room["id"].as_str(), room["participants"].as_u64()), (200, Some("api-room"), Some(2)));
    assert!(room["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')) && room["uptimeSecs"].as_f64() > Some(1.0));

    let (status, detail) = http(addr, "GET", "/api/rooms/api-room", None).await;
    println!("GET /api/rooms/api-room -> {status} {detail}");
    assert_eq!(status, 200);
    let people = detail["participants"].as_array().unwrap();
    assert_eq!(people.len(), 2);
    let ada = &people[0];
    assert_eq!(
        (ada["id"].as_str(), ada["name"].as_str(), ada["role"].as_str()),
        (Some(&*publisher.id().to_string()), Some("Ada"), Some("publisher"))
    );
    assert!(ada["joinedAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    let (fps, kbps) = (ada["inbound"]["fps"].as_f64().unwrap(), ada["inbound"]["bitrateKbps"].as_f64().unwrap());
    assert!((20.0..=40.0).contains(&fps), "publisher inbound fps {fps}");
    assert!(kbps > 20.0, "publisher inbound bitrate {kbps}");
    assert_eq!((people[1]["name"].as_str(), people[1]["role"].as_str()), (Some("Bo"), Some("viewer")));
    assert!(detail["pipelineElements"].as_u64() > Some(20));

    let (status, stats) = http(addr, "GET", "/api/stats", None).await;
    println!("GET /api/stats -> {status} {stats}");
    assert_eq!((status, stats["rooms"].as_u64(), stats["roomPipelines"].as_u64()), (200, Some(1), Some(1)));
}

async fn check_errors(addr: SocketAddr) {
    for (method, path, key, want, code) in [
        ("GET", "/api/rooms/nope", None, 404, "room_not_found"),
        ("GET", "/api/rooms/bad%20name", None, 404, "room_not_found"),
        ("GET", "/api/nothing", None, 404, "not_found"),
        ("POST", "/api/rooms", None, 405, "method_not_allowed"),
        ("DELETE", "/api/rooms/api-room", None, 401, "unauthorized"),
        ("DELETE", "/api/rooms/api-room", Some("wrong"), 401, "unauthorized"),
        ("DELETE", "/api/rooms/api-room/participants/p1", None, 401, "unauthorized"),
        ("DELETE", "/api/rooms/api-room/participants/p1", Some("wrong"), 401, "unauthorized"),
        ("POST", "/api/rooms/api-room/recordings", None, 401, "unauthorized"),
        ("DELETE", "/api/rooms/api-room/recordings/rec1", Some("wrong"), 401, "unauthorized"),
        ("DELETE", "/api/rooms/nope", Some("k3y"), 404, "room_not_found"),
        ("DELETE", "/api/rooms/nope/participants/p1", Some("k3y"), 404, "room_not_found"),
        ("DELETE", "/api/rooms/api-room/participants/p999999", Some("k3y"), 404, "participant_not_found"),
        ("DELETE", "/api/rooms/api-room/participants/zzz", Some("k3y"), 404, "participant_not_found"),
    ] {
        let (status, body) = http(addr, method, path, key).await;
        println!("{method} {path} (key {key:?}) -> {status} {body}");
        assert_eq!((status, body["error"]["code"].as_str()), (want, Some(code)), "{method} {path}");
    }
    // 401 names the scheme; the scheme is case-insensitive; a header that is not text is a 400.
    let (status, head, body) = delete_with(addr, "/api/rooms/api-room", b"Bearer wrong").await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")));
    assert!(head.contains("www-authenticate: bearer"), "{head}");
    let (status, _, body) = delete_with(addr, "/api/rooms/nope", b"bEaReR k3y").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("room_not_found")), "scheme case: {body}");
    let (status, _, body) = delete_with(addr, "/api/rooms/nope", b"Bearer k3y\xff").await;
    println!("Authorization with a non-text byte -> {status} {body}");
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")));
    // A body over the limit is refused from its Content-Length (so none is sent here).
    let head = "PUT /api/rooms/api-room/layout HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                Authorization: Bearer k3y\r\nContent-Type: application/json\r\nContent-Length: 20480\r\n\r\n";
    let (status, _, body) = raw(addr, head.as_bytes()).await;
    println!("PUT layout with a 20 KiB body -> {status} {body}");
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")), "{body}");
}

async fn check_layout(addr: SocketAddr) {
    for (body, key, want, code) in [
        (r#"{"mode":"speaker"}"#, None, 401, Some("unauthorized")),
        ("not json", Some("k3y"), 400, Some("invalid_layout")),
        (r#"{"mode":"mosaic"}"#, Some("k3y"), 400, Some("invalid_layout")),
        (r#"{"mode":"custom","regions":[]}"#, Some("k3y"), 400, Some("invalid_layout")),
        (r#"{"mode":"custom","regions":[{"x":0.5,"y":0,"w":0.8,"h":1}]}"#, Some("k3y"), 400, Some("invalid_layout")),
    ] {
        let (status, reply) = http_body(addr, "PUT", "/api/rooms/api-room/layout", key, body).await;
        println!("PUT layout {body} -> {status} {reply}");
        assert_eq!((status, reply["error"]["code"].as_str()), (want, code));
    }
    assert_eq!(http_body(addr, "PUT", "/api/rooms/nope/layout", Some("k3y"), r#"{"mode":"grid"}"#).await.0, 404);
    let (status, applied) =
        http_body(addr, "PUT", "/api/rooms/api-room/layout", Some("k3y"), r#"{"mode":"spotlight","locked":true}"#)
            .await;
    assert_eq!(
        (status, applied["layout"]["mode"].as_str(), applied["layout"]["locked"].as_bool()),
        (200, Some("spotlight"), Some(true))
    );
    assert_eq!(http(addr, "GET", "/api/rooms/api-room", None).await.1["layout"]["mode"], "spotlight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_api_lists_inspects_kicks_and_closes() -> anyhow::Result<()> {
    let server = start_server_on("127.0.0.1:0", Some("k3y"), test_media_config()).await;
    let addr = server.addr;
    assert_eq!(http(addr, "GET", "/healthz", None).await, (200, serde_json::json!({ "status": "ok" })));
    assert_eq!(http(addr, "GET", "/readyz", None).await, (200, serde_json::json!({ "status": "ready" })));
    let (status, rooms) = http(addr, "GET", "/api/rooms", None).await;
    assert_eq!((status, rooms["rooms"].as_array().map(Vec::len)), (200, Some(0)));

    let mut publisher = TestPeer::join(addr, PeerOptions::publisher("api-room", "Ada", RED, 440.0)).await?;
    let mut viewer = TestPeer::join(addr, PeerOptions::viewer("api-room", "Bo")).await?;
    viewer.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    inbound_counted(addr).await;
    check_reads(addr, &publisher).await;
    check_errors(addr).await;
    check_layout(addr).await;

    // Kick: the participant is told, the others see them leave, the room no longer lists them.
    let path = format!("/api/rooms/api-room/participants/{}", publisher.id());
    assert_eq!(http(addr, "DELETE", &path, Some("k3y")).await.0, 204);
    let kicked = publisher.wait_message(secs(3), |m| matches!(m, ServerMessage::Error { .. })).await?;
    assert!(matches!(kicked, ServerMessage::Error { code: ErrorCode::Kicked, .. }), "{kicked:?}");
    let pid = publisher.id();
    viewer
        .wait_message(
            secs(3),
            |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == pid),
        )
        .await?;
    let people = http(addr, "GET", "/api/rooms/api-room", None).await.1["participants"].clone();
    assert_eq!(people.as_array().map(|p| p.iter().map(|p| p["name"].clone()).collect()), Some(vec!["Bo".into()]));
    assert_eq!(http(addr, "DELETE", &path, Some("k3y")).await.1["error"]["code"], "participant_not_found");

    // Close: the viewer is told and the room is gone, its pipeline too.
    assert_eq!(http(addr, "DELETE", "/api/rooms/api-room", Some("k3y")).await.0, 204);
    let closed = viewer.wait_message(secs(3), |m| matches!(m, ServerMessage::Error { .. })).await?;
    assert!(matches!(closed, ServerMessage::Error { code: ErrorCode::RoomClosed, .. }), "{closed:?}");
    assert_eq!(http(addr, "GET", "/api/rooms", None).await.1["rooms"].as_array().map(Vec::len), Some(0));
    assert_eq!(http(addr, "GET", "/api/rooms/api-room", None).await.0, 404);
    let (_, stats) = http(addr, "GET", "/api/stats", None).await;
    println!("after closing: {stats}");
    assert_eq!((stats["rooms"].as_u64(), stats["lastTeardown"]["room"].as_str()), (Some(0), Some("api-room")));
    server.stop().await;
    Ok(())
}

/// Without a key, only development mode (loopback only) may mutate; a loopback listener alone
/// grants nothing (`security_access` has the rest: forwarded headers, rebound names).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_only_dev_mode_may_mutate() -> anyhow::Result<()> {
    let dev = start_server_on("127.0.0.1:0", None, test_media_config()).await;
    let _p = TestPeer::join(dev.addr, PeerOptions::viewer("open", "v")).await?;
    assert_eq!(http(dev.addr, "DELETE", "/api/rooms/open", None).await.0, 204, "--dev on loopback is open");
    dev.stop().await;

    let mut config = test_media_config();
    config.server.dev = false;
    let public = start_server_on("0.0.0.0:0", None, config).await;
    let _p = TestPeer::join(public.addr, PeerOptions::viewer("shut", "v")).await?;
    let (status, body) = http(public.addr, "DELETE", "/api/rooms/shut", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "no key, no --dev: {body}");
    public.stop().await;
    Ok(())
}

/// The real binary takes its key from `--admin-key` and from `TESSERA_ADMIN_KEY`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_key_from_flag_and_environment() -> anyhow::Result<()> {
    let from_flag = ServerProcess::start(&["--admin-key", "flag-key"]).await?;
    let from_env = ServerProcess::start_with_prefix(&["env", "TESSERA_ADMIN_KEY=env-key"], &[]).await?;
    for (server, key) in [(&from_flag, "flag-key"), (&from_env, "env-key")] {
        let (status, body) = http(server.addr, "DELETE", "/api/rooms/nope", None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{key}: no key");
        assert_eq!(http(server.addr, "DELETE", "/api/rooms/nope", Some("other")).await.0, 401, "{key}: wrong key");
        let (status, body) = http(server.addr, "DELETE", "/api/rooms/nope", Some(key)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("room_not_found")), "{key}: right key");
        println!("admin key {key}: 401 without or with a wrong key, accepted with it");
    }
    Ok(())
}
