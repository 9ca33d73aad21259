//! Recording errors are clear HTTP errors and never crash or stop the room: no or a wrong
//! admin key, unknown room, unknown recording, bad file names, bad or oversized bodies, an
//! unwritable record directory (EPERM, and ENOTDIR for auto-recording), and a disk that fills
//! up mid-recording (the recording fails with an error state; the room goes on).

use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::{EncodedClip, PeerOptions, TestPeer, VideoSource};
use tessera_protocol::ServerMessage;

/// A record directory even root cannot create: sysfs refuses new entries with EPERM (tests run
/// as root, which ignores permission bits, so a `chmod 0555` directory would not do).
const UNWRITABLE: &str = "/sys/tessera-recordings";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors() -> anyhow::Result<()> {
    let config = test_config_with(|c| c.recording.dir = UNWRITABLE.into());
    let server = start_server_on("127.0.0.1:0", Some("k3y"), config).await;
    let addr = server.addr;
    let peer = TestPeer::join(addr, PeerOptions::publisher("errs", "red", RED, 440.0)).await?;
    peer.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    let from = Instant::now();
    let (key, wrong) = (Some("k3y"), Some("nope"));
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(5000));
    for (method, path, body, auth, want, code) in [
        ("POST", "/api/rooms/errs/recordings", "", None, 401, "unauthorized"),
        ("POST", "/api/rooms/errs/recordings", r#"{"name":"x"}"#, wrong, 401, "unauthorized"),
        ("DELETE", "/api/rooms/errs/recordings/rec1", "", None, 401, "unauthorized"),
        ("DELETE", "/api/rooms/errs/recordings/rec1", "", wrong, 401, "unauthorized"),
        ("POST", "/api/rooms/nope/recordings", "", key, 404, "room_not_found"),
        ("DELETE", "/api/rooms/errs/recordings/rec999999", "", key, 404, "recording_not_found"),
        ("DELETE", "/api/rooms/errs/recordings/bogus", "", key, 404, "recording_not_found"),
        ("DELETE", "/api/rooms/nope/recordings/rec1", "", key, 404, "room_not_found"),
        ("GET", "/api/rooms/nope/recordings", "", None, 404, "room_not_found"),
        ("POST", "/api/rooms/errs/recordings", r#"{"name":"../escape"}"#, key, 400, "invalid_file_name"),
        ("POST", "/api/rooms/errs/recordings", r#"{"name":"-rf"}"#, key, 400, "invalid_file_name"),
        ("POST", "/api/rooms/errs/recordings", r#"{"name":"talk.mp4"}"#, key, 400, "invalid_file_name"),
        ("POST", "/api/rooms/errs/recordings", r#"{"name":7}"#, key, 400, "bad_request"),
        ("POST", "/api/rooms/errs/recordings", "not json", key, 400, "bad_request"),
        ("POST", "/api/rooms/errs/recordings", &big, key, 413, "payload_too_large"),
        ("POST", "/api/rooms/errs/recordings", "", key, 500, "record_dir_unwritable"),
    ] {
        let (status, reply) = http_body(addr, method, path, auth, body).await;
        let shown: String = body.chars().take(40).collect();
        println!("{method} {path} {shown:?} key={auth:?} -> {status} {reply}");
        assert_eq!((status, reply["error"]["code"].as_str()), (want, Some(code)), "{method} {path}");
        assert!(reply["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "a message says why");
    }
    // What `curl -X POST` sends (no body, no Content-Length), and a chunked body: without the
    // key both are refused for the key, not for their framing.
    let chunked_body = recording::chunked(r#"{"name":"x"}"#);
    for (head, body) in [
        ("POST /api/rooms/errs/recordings HTTP/1.1", ""),
        ("POST /api/rooms/errs/recordings HTTP/1.1\r\nTransfer-Encoding: chunked", &*chunked_body),
    ] {
        let (status, reply) = recording::raw_http(addr, head, body).await?;
        println!("{head:?} -> {status} {reply}");
        assert_eq!((status, reply["error"]["code"].as_str()), (401, Some("unauthorized")));
    }
    // The participant's media never stopped while all that happened, and keeps coming.
    let frames = peer.received().frames();
    peer.wait_for(secs(5), |p| p.received().frames() >= frames + 30).await?;
    let (gap, worst) = smoothness(&peer.received().frame_arrivals(), from, Instant::now());
    println!("during the bad requests: largest frame gap {gap:?}, worst 1 s window {worst} frames");
    assert!(gap < Duration::from_millis(200) && worst >= 25, "media stalled: gap {gap:?}, {worst} fps");
    let (status, list) = http(addr, "GET", "/api/rooms/errs/recordings", None).await;
    println!("the room's recordings: {list}");
    let recs = list["recordings"].as_array().expect("a list");
    assert_eq!((status, recs.len()), (200, 1), "only the unwritable attempt is listed");
    assert_eq!(recs[0]["state"], "failed");
    let why = recs[0]["error"].as_str().unwrap_or_default();
    // EPERM where sysfs is mounted read-write (as here), EROFS where a container mounts it read-only.
    let os_error = why.contains("not permitted") || why.contains("Read-only file system");
    assert!(why.contains(UNWRITABLE) && os_error, "the error names the path and the OS error: {why}");
    assert_eq!(http(addr, "GET", "/api/rooms/errs", None).await.0, 200, "the room is alive");
    drop(peer);
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_recording_not_the_room() -> anyhow::Result<()> {
    let dir = record_dir("full");
    // The server may write files of at most 300 KB: the disk is "full" a few seconds in.
    let server = ServerProcess::start_with_prefix(
        &["prlimit", "--fsize=300000", "--"],
        &["--record-dir", &dir.to_string_lossy()],
    )
    .await?;
    let addr = server.addr;
    let mut opts = PeerOptions::publisher("full", "busy", RED, 440.0);
    opts.video = Some(VideoSource::Clip(EncodedClip::vp8(640, 360, 30, 4, 1500)?));
    let mut peer = TestPeer::join(addr, opts).await?;
    peer.wait_for(secs(15), |p| p.received().frames() > 10).await?;
    let posted = Instant::now();
    let (status, started) = http(addr, "POST", "/api/rooms/full/recordings", None).await;
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    peer.wait_message(secs(30), |m| matches!(m, ServerMessage::RecordingStopped { .. })).await?;
    let (_, info) = http(addr, "GET", "/api/recordings", None).await;
    let rec = &info["recordings"][0];
    println!("after the disk filled: {rec}");
    assert_eq!((rec["id"].as_str(), rec["state"].as_str()), (Some(&*id), Some("failed")));
    assert!(rec["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(server.log.lock().unwrap().iter().any(|l| l.contains("recording failed")), "a log line says so");
    // The room goes on, and never stalled: not while the disk filled, not after.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (gap, worst) = smoothness(&peer.received().frame_arrivals(), posted, Instant::now());
    println!("from POST to 1 s after the failure: largest frame gap {gap:?}, worst 1 s window {worst} frames");
    assert!(gap < Duration::from_millis(300), "the participant's video stalled for {gap:?}");
    assert!(worst >= 25, "the room kept its frame rate: {worst} frames in the worst second");
    let log = server.log.lock().unwrap().clone();
    assert!(!log.iter().any(|l| l.contains("room pipeline error")), "the room saw the recorder's error: {log:?}");
    assert_eq!(http(addr, "GET", "/api/rooms/full", None).await.0, 200);
    drop(peer);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_record_covers_the_room_from_first_join_to_its_end() -> anyhow::Result<()> {
    let dir = record_dir("auto");
    let server = start_server_with(test_config_with(|c| {
        c.recording.dir = dir.clone();
        c.recording.auto = true;
    }))
    .await;
    let addr = server.addr;
    let mut first = TestPeer::join(addr, PeerOptions::publisher("daily", "red", RED, 440.0)).await?;
    let joined = Instant::now();
    first.wait_message(secs(3), |m| matches!(m, ServerMessage::RecordingStarted { .. })).await?;
    let mut second = TestPeer::join(addr, PeerOptions::viewer("daily", "late")).await?;
    second.wait_message(secs(3), |m| matches!(m, ServerMessage::RecordingStarted { .. })).await?;
    first.wait_for(secs(15), |p| p.received().frames() > 60).await?;
    drop(second);
    first.leave().await?;
    let lifetime = joined.elapsed();
    // The room ended with its last participant: its recording is finalized.
    let deadline = std::time::Instant::now() + secs(5);
    let rec = loop {
        let (_, list) = http(addr, "GET", "/api/recordings", None).await;
        let rec = list["recordings"][0].clone();
        if rec["state"] == "done" || std::time::Instant::now() > deadline {
            break rec;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("auto recording: {rec}");
    assert_eq!(rec["state"], "done");
    let path = std::path::PathBuf::from(rec["path"].as_str().unwrap());
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with("daily-20") && name.ends_with(".webm"), "file name carries room and start time: {name}");
    // It covers the room from its first join (less the time to connect and the first keyframe)
    // to its end.
    let duration = recording::discover(&path)?.duration.expect("finalized");
    println!("room lived {lifetime:?}; the recording lasts {duration:?}");
    assert!(
        duration <= lifetime + Duration::from_millis(200) && duration + Duration::from_secs(2) >= lifetime,
        "{duration:?} of {lifetime:?}"
    );
    server.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_record_into_an_unwritable_dir_is_listed_as_failed() -> anyhow::Result<()> {
    let blocker = std::env::temp_dir().join(format!("tessera-auto-blocked-{}", std::process::id()));
    std::fs::write(&blocker, b"")?;
    let config = test_config_with(|c| {
        c.recording.dir = blocker.join("recordings");
        c.recording.auto = true;
    });
    let server = start_server_with(config).await;
    let addr = server.addr;
    let peer = TestPeer::join(addr, PeerOptions::publisher("blocked", "red", RED, 440.0)).await?;
    peer.wait_for(secs(15), |p| p.received().frames() > 30).await?;
    let (_, list) = http(addr, "GET", "/api/recordings", None).await;
    println!("auto-record into a file path: {list}");
    let recs = list["recordings"].as_array().expect("a list");
    assert_eq!(recs.len(), 1, "tried once: {list}");
    assert_eq!((recs[0]["room"].as_str(), recs[0]["state"].as_str()), (Some("blocked"), Some("failed")));
    assert!(recs[0]["error"].as_str().is_some_and(|e| e.contains("recordings")), "the error names the path");
    server.stop().await;
    std::fs::remove_file(&blocker)?;
    Ok(())
}
