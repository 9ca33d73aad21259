//! A participant joins during a recording: the recorded layout changes from one tile to two,
//! and the file's timestamps have no gap over 100 ms.

use std::time::Duration;

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer, close_to};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_changes_without_gaps() -> anyhow::Result<()> {
    let dir = record_dir("join");
    let server = start_server_with(test_config_with(|c| c.recording.dir = dir.clone())).await;
    let addr = server.addr;
    let red = TestPeer::join(addr, PeerOptions::publisher("grow", "red", RED, 440.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    let (status, started) = http(addr, "POST", "/api/rooms/grow/recordings", None).await;
    assert_eq!(status, 201);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let blue = TestPeer::join(addr, PeerOptions::publisher("grow", "blue", BLUE, 1000.0)).await?;
    red.wait_for(secs(10), |p| shows_tiles(p, &[RED, BLUE])).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let id = started["id"].as_str().unwrap();
    assert_eq!(http(addr, "DELETE", &format!("/api/rooms/grow/recordings/{id}"), None).await.0, 200);

    let path = std::path::PathBuf::from(started["path"].as_str().unwrap());
    let (mut one, mut two, mut last, mut max_gap, mut frames) = (0, 0, None, Duration::ZERO, 0);
    let audio = recording::decode(&path, |t, f| {
        frames += 1;
        if let Some(prev) = last {
            max_gap = max_gap.max(t - prev);
        }
        last = Some(t);
        let full = colour_in(f, tile(0, 1));
        let pair = [colour_in(f, tile(0, 2)), colour_in(f, tile(1, 2))];
        if close_to(full, RED, TOLERANCE) && !close_to(pair[1], BLUE, TOLERANCE) {
            one += 1;
        } else if close_to(pair[0], RED, TOLERANCE) && close_to(pair[1], BLUE, TOLERANCE) {
            two += 1;
        }
    })?;
    let audio_gap = audio.chunks.windows(2).map(|w| w[1].0 - w[0].0).max().unwrap_or_default();
    println!(
        "{frames} frames: {one} with one tile, then {two} with two; largest video gap {max_gap:?}, audio gap {audio_gap:?}"
    );
    assert!(one > 60 && two > 60, "the layout changed during the recording");
    assert!(max_gap <= Duration::from_millis(100) && audio_gap <= Duration::from_millis(100));
    drop((red, blue));
    server.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
