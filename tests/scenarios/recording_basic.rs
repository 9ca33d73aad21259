//! Recording the composite: two peers (red + 440 Hz, blue + 1000 Hz) are recorded for 10 s
//! through the REST API. The WebM file has one VP8 and one Opus stream and lasts 10 s ± 0.5 s;
//! decoded, its tiles are red and blue and both tones are in its audio. Participants are told
//! when recording starts and stops.

use std::path::PathBuf;
use std::time::Duration;

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer, close_to, tone_dbfs};
use tessera_protocol::ServerMessage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_seconds_of_two_peers() -> anyhow::Result<()> {
    let dir = record_dir("basic");
    let server = start_server_with(test_config_with(|c| c.recording.dir = dir.clone())).await;
    let addr = server.addr;
    let mut red = TestPeer::join(addr, PeerOptions::publisher("rec", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(addr, PeerOptions::publisher("rec", "blue", BLUE, 1000.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;

    let (status, started) = http(addr, "POST", "/api/rooms/rec/recordings", None).await;
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    let path = PathBuf::from(started["path"].as_str().unwrap());
    println!("recording {id} into {}", path.display());
    assert!(path.starts_with(&dir) && path.file_name().unwrap().to_string_lossy().starts_with("rec-"));
    red.wait_message(
        secs(2),
        |m| matches!(m, ServerMessage::RecordingStarted { recording_id } if recording_id.to_string() == id),
    )
    .await?;

    tokio::time::sleep(Duration::from_secs(10)).await;
    let (status, live) = http(addr, "GET", "/api/recordings", None).await;
    assert_eq!(status, 200);
    assert_eq!(live["recordings"][0]["state"], "running", "{live}");
    let (status, stopped) = http(addr, "DELETE", &format!("/api/rooms/rec/recordings/{id}"), None).await;
    println!("stopped: {stopped}");
    assert_eq!((status, stopped["state"].as_str()), (200, Some("done")));
    assert!(stopped["bytes"].as_u64() > Some(20_000), "two solid tiles compress well, but not that well");
    red.wait_message(secs(2), |m| matches!(m, ServerMessage::RecordingStopped { .. })).await?;

    let found = recording::discover(&path)?;
    println!("discovered: {found:?}");
    assert_eq!(found.video, ["video/x-vp8"]);
    assert_eq!(found.audio, ["audio/x-opus"]);
    let duration = found.duration.expect("a finalized file has a duration").as_secs_f64();
    assert!((duration - 10.0).abs() <= 0.5, "duration {duration:.2} s");

    let (mut frames, mut red_blue) = (0, 0);
    let audio = recording::decode(&path, |_, f| {
        frames += 1;
        let tiles = [colour_in(f, tile(0, 2)), colour_in(f, tile(1, 2))];
        if close_to(tiles[0], RED, TOLERANCE) && close_to(tiles[1], BLUE, TOLERANCE) {
            red_blue += 1;
        }
    })?
    .samples();
    let (a, b) = (tone_dbfs(&audio, 48_000.0, 440.0), tone_dbfs(&audio, 48_000.0, 1000.0));
    println!(
        "decoded {frames} frames ({red_blue} red|blue), {:.1} s of audio: 440 Hz {a:.1} dBFS, 1000 Hz {b:.1} dBFS",
        audio.len() as f64 / 48_000.0
    );
    assert!(frames >= 290, "about 30 fps for 10 s");
    assert_eq!(red_blue, frames, "every frame shows red and blue tiles");
    // Each peer's tone is sent at 0.3 of full scale (−10.5 dBFS); the mix sums them.
    assert!((a + 10.5).abs() < 3.0 && (b + 10.5).abs() < 3.0, "both tones are in the recording at their level");
    drop(blue);
    server.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
