//! Stop a recording through the REST API mid-session, then start a second one in the same room
//! (with a chosen file name): both files are complete and valid, and the participant's media
//! never stalls while recordings start and stop. Listings show both.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tessera::client::{PeerOptions, TestPeer};
use tessera::config::MediaConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_recordings_in_a_row() -> anyhow::Result<()> {
    let dir = record_dir("restart");
    let server = start_server_with(MediaConfig { record_dir: dir.clone(), ..test_media_config() }).await;
    let addr = server.addr;
    let red = TestPeer::join(addr, PeerOptions::publisher("again", "red", RED, 440.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    let mut files = Vec::new();
    let from = Instant::now();
    let samples_before = red.received().audio_samples();
    for (name, body) in [("first", ""), ("second", r#"{"name":"standup-part-2"}"#)] {
        let (status, started) = http_body(addr, "POST", "/api/rooms/again/recordings", None, body).await;
        assert_eq!(status, 201, "{name}: {started}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let id = started["id"].as_str().unwrap();
        let (status, done) = http(addr, "DELETE", &format!("/api/rooms/again/recordings/{id}"), None).await;
        assert_eq!((status, done["state"].as_str()), (200, Some("done")), "{name}: {done}");
        let (status, again) = http(addr, "DELETE", &format!("/api/rooms/again/recordings/{id}"), None).await;
        assert_eq!((status, again["error"]["code"].as_str()), (404, Some("recording_not_found")), "stopping twice");
        files.push(std::path::PathBuf::from(done["path"].as_str().unwrap()));
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
    assert!(gap < Duration::from_millis(300) && worst >= 25, "video stalled: gap {gap:?}, {worst} fps");
    assert!(audio_secs > (to - from).as_secs_f64() - 0.5, "audio stalled");
    assert!(files[1].ends_with("standup-part-2.webm"));
    for path in &files {
        let found = recording::discover(path)?;
        let secs = found.duration.expect("finalized").as_secs_f64();
        println!("{}: {secs:.2} s, {:?} + {:?}", path.display(), found.video, found.audio);
        assert!((secs - 3.0).abs() < 0.5 && found.video.len() == 1 && found.audio.len() == 1);
    }
    let (status, list) = http(addr, "GET", "/api/rooms/again/recordings", None).await;
    assert_eq!((status, list["recordings"].as_array().map(Vec::len)), (200, Some(2)));
    // The same name again is refused: recordings never overwrite.
    let (status, dup) =
        http_body(addr, "POST", "/api/rooms/again/recordings", None, r#"{"name":"standup-part-2"}"#).await;
    assert_eq!((status, dup["error"]["code"].as_str()), (409, Some("file_exists")));
    drop(red);
    server.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
