//! Stop a recording through the REST API mid-session, then start a second one in the same room
//! (with a chosen file name): both files are complete and valid, and the participant's media
//! never stalls while recordings start and stop. The first is started the way `curl -X POST`
//! does it (no body, no `Content-Length`), the second with a chunked body. Stopping a stopped
//! recording is a conflict; both listings show every field, and `durationSecs` is the file's
//! duration.

use std::time::{Duration, Instant};

use crate::common::recording::{assert_listed, chunked, raw_http};
use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_recordings_in_a_row() -> anyhow::Result<()> {
    let dir = record_dir("restart");
    let server = start_server_with(test_config_with(|c| c.recording.dir = dir.clone())).await;
    let addr = server.addr;
    let red = TestPeer::join(addr, PeerOptions::publisher("again", "red", RED, 440.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    let mut done = Vec::new();
    let from = Instant::now();
    let samples_before = red.received().audio_samples();
    let name_body = r#"{"name":"standup-part-2"}"#;
    let chunked_body = chunked(name_body);
    let starts = [
        ("POST /api/rooms/again/recordings HTTP/1.1", String::new()),
        (
            "POST /api/rooms/again/recordings HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked",
            chunked_body,
        ),
    ];
    for (head, body) in &starts {
        let (status, started) = raw_http(addr, head, body).await?;
        println!("{head:?} -> {status} {started}");
        assert_eq!(status, 201, "{started}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let id = started["id"].as_str().unwrap();
        let (status, stopped) = http(addr, "DELETE", &format!("/api/rooms/again/recordings/{id}"), None).await;
        assert_eq!((status, stopped["state"].as_str()), (200, Some("done")), "{stopped}");
        let (status, again) = http(addr, "DELETE", &format!("/api/rooms/again/recordings/{id}"), None).await;
        println!("stopping {id} twice -> {status} {again}");
        assert_eq!((status, again["error"]["code"].as_str()), (409, Some("recording_not_running")));
        done.push(stopped);
    }
    // Starting and stopping never froze the participant's media.
    let to = Instant::now();
    let (gap, worst) = smoothness(&red.received().frame_arrivals(), from, to);
    let audio_secs = (red.received().audio_samples() - samples_before) as f64 / 48_000.0;
    println!(
        "over two starts and stops ({:.1} s): largest frame gap {gap:?}, worst 1 s window {worst} frames, \
         {audio_secs:.1} s of audio received",
        (to - from).as_secs_f64()
    );
    assert!(gap < Duration::from_millis(200) && worst >= 25, "video stalled: gap {gap:?}, {worst} fps");
    assert!(audio_secs > (to - from).as_secs_f64() - 0.5, "audio stalled");
    assert!(done[1]["path"].as_str().unwrap().ends_with("standup-part-2.webm"));
    for rec in &done {
        let path = std::path::Path::new(rec["path"].as_str().unwrap());
        let found = recording::discover(path)?;
        let secs = found.duration.expect("finalized").as_secs_f64();
        let listed = rec["durationSecs"].as_f64().unwrap();
        println!(
            "{}: {secs:.3} s in the file, {listed:.3} s listed, {:?} + {:?}",
            path.display(),
            found.video,
            found.audio
        );
        assert!((secs - 3.0).abs() < 0.5 && found.video.len() == 1 && found.audio.len() == 1);
        assert!((listed - secs).abs() < 0.1, "durationSecs is the media written, not wall-clock time");
    }
    for list_path in ["/api/rooms/again/recordings", "/api/recordings"] {
        let (status, list) = http(addr, "GET", list_path, None).await;
        println!("GET {list_path} -> {status} {list}");
        let recs = list["recordings"].as_array().expect("a list");
        assert_eq!((status, recs.len()), (200, 2));
        for (rec, stopped) in recs.iter().zip(&done) {
            assert_listed(rec, stopped["id"].as_str().unwrap(), "again", "done");
            assert_eq!(rec, stopped, "the listing shows what the stop returned");
        }
    }
    // The same name again is refused: recordings never overwrite.
    let (status, dup) = http_body(addr, "POST", "/api/rooms/again/recordings", None, name_body).await;
    assert_eq!((status, dup["error"]["code"].as_str()), (409, Some("file_exists")));
    drop(red);
    server.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
