//! The REST API: every endpoint, the admin-key rule, and each error status, against a live room.

mod common;

use common::*;
use tessera::client::{PeerOptions, TestPeer};
use tessera::protocol::{ErrorCode, ServerMessage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_api_lists_inspects_kicks_and_closes() -> anyhow::Result<()> {
    let server = start_server_on("127.0.0.1:0", Some("k3y"), test_media_config()).await;
    let addr = server.addr;
    assert_eq!(http(addr, "GET", "/healthz", None).await.0, 200);
    let (status, ready) = http(addr, "GET", "/readyz", None).await;
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")), "{ready}");
    let (status, rooms) = http(addr, "GET", "/api/rooms", None).await;
    assert_eq!((status, rooms["rooms"].as_array().map(Vec::len)), (200, Some(0)));

    let mut publisher = TestPeer::join(addr, PeerOptions::publisher("api-room", "Ada", RED, 440.0)).await?;
    let mut viewer = TestPeer::join(addr, PeerOptions::viewer("api-room", "Bo")).await?;
    viewer.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    // Inbound rates are averaged once a second; wait until a full second of video is counted.
    let deadline = std::time::Instant::now() + secs(5);
    while http(addr, "GET", "/api/rooms/api-room", None).await.1["participants"][0]["inbound"]["fps"].as_f64()
        < Some(20.0)
    {
        assert!(std::time::Instant::now() < deadline, "inbound fps never reported");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

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
    assert!(ada["joinedAt"].as_str().is_some());
    let (fps, kbps) = (ada["inbound"]["fps"].as_f64().unwrap(), ada["inbound"]["bitrateKbps"].as_f64().unwrap());
    assert!((20.0..=40.0).contains(&fps), "publisher inbound fps {fps}");
    assert!(kbps > 20.0, "publisher inbound bitrate {kbps}");
    assert_eq!(people[1]["role"].as_str(), Some("viewer"));
    assert!(detail["pipelineElements"].as_u64() > Some(20));

    // Errors, each as JSON.
    for (method, path, key, want, code) in [
        ("GET", "/api/rooms/nope", None, 404, "room_not_found"),
        ("GET", "/api/rooms/bad%20name", None, 404, "room_not_found"),
        ("GET", "/api/nothing", None, 404, "not_found"),
        ("POST", "/api/rooms", None, 405, "method_not_allowed"),
        ("DELETE", "/api/rooms/api-room", None, 401, "unauthorized"),
        ("DELETE", "/api/rooms/api-room", Some("wrong"), 401, "unauthorized"),
        ("DELETE", "/api/rooms/api-room/participants/p1", None, 401, "unauthorized"),
        ("DELETE", "/api/rooms/nope", Some("k3y"), 404, "room_not_found"),
        ("DELETE", "/api/rooms/nope/participants/p1", Some("k3y"), 404, "room_not_found"),
        ("DELETE", "/api/rooms/api-room/participants/p999999", Some("k3y"), 404, "participant_not_found"),
        ("DELETE", "/api/rooms/api-room/participants/zzz", Some("k3y"), 404, "participant_not_found"),
    ] {
        let (status, body) = http(addr, method, path, key).await;
        println!("{method} {path} (key {key:?}) -> {status} {body}");
        assert_eq!((status, body["error"]["code"].as_str()), (want, Some(code)), "{method} {path}");
    }

    // Layout: admin only, validated, applied and shown in the room's detail.
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

    // Kick: the participant is told, the others see them leave.
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

    // Close: the viewer is told and the room is gone.
    assert_eq!(http(addr, "DELETE", "/api/rooms/api-room", Some("k3y")).await.0, 204);
    let closed = viewer.wait_message(secs(3), |m| matches!(m, ServerMessage::Error { .. })).await?;
    assert!(matches!(closed, ServerMessage::Error { code: ErrorCode::RoomClosed, .. }), "{closed:?}");
    assert_eq!(http(addr, "GET", "/api/rooms", None).await.1["rooms"].as_array().map(Vec::len), Some(0));
    assert_eq!(http(addr, "GET", "/api/rooms/api-room", None).await.0, 404);
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_only_loopback_may_mutate() -> anyhow::Result<()> {
    let local = start_server_on("127.0.0.1:0", None, test_media_config()).await;
    let _p = TestPeer::join(local.addr, PeerOptions::viewer("open", "v")).await?;
    assert_eq!(http(local.addr, "DELETE", "/api/rooms/open", None).await.0, 204, "loopback without a key is open");
    local.stop().await;

    let public = start_server_on("0.0.0.0:0", None, test_media_config()).await;
    let _p = TestPeer::join(public.addr, PeerOptions::viewer("shut", "v")).await?;
    let (status, body) = http(public.addr, "DELETE", "/api/rooms/shut", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "a public address needs a key");
    public.stop().await;
    Ok(())
}
