//! A/V sync in recordings: a publisher flashes white and beeps at the same instants (once a
//! second); in the recording every flash and its beep are within 40 ms of each other.

mod common;

use std::time::Duration;

use common::*;
use tessera::client::{AudioSource, PeerOptions, TestPeer, VideoSource, VideoSpec};
use tessera::config::MediaConfig;

/// Start times of the bright spells of `series` (time, is_bright), each after at least 300 ms dark.
fn onsets(series: &[(Duration, bool)]) -> Vec<Duration> {
    let mut out = Vec::new();
    let mut dark_since = None;
    for &(t, bright) in series {
        match (bright, dark_since) {
            (true, Some(since)) if t - since >= Duration::from_millis(300) => {
                out.push(t);
                dark_since = None;
            }
            (true, _) => dark_since = None,
            (false, None) => dark_since = Some(t),
            (false, Some(_)) => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flashes_and_beeps_stay_together() -> anyhow::Result<()> {
    let dir = record_dir("avsync");
    // 60 fps output: the compositor's frame grid adds at most 17 ms of quantization.
    let config = MediaConfig { record_dir: dir.clone(), fps: 60, ..test_media_config() };
    let server = start_server_with(config).await;
    let addr = server.addr;
    let mut opts = PeerOptions::publisher("sync", "flash", [0, 0, 0], 0.0);
    opts.video = Some(VideoSource::Flash(VideoSpec { rgb: [0, 0, 0], width: 320, height: 180, fps: 30 }));
    opts.audio = Some(AudioSource::Beep(1000.0));
    let flasher = TestPeer::join(addr, opts).await?;
    flasher.wait_for(secs(15), |p| p.received().frames() > 30).await?;
    // A new publisher's audio timestamps settle over its first seconds (RTCP lip sync);
    // this test measures sync within a recording of established streams.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let (status, started) = http(addr, "POST", "/api/rooms/sync/recordings", None).await;
    assert_eq!(status, 201, "{started}");
    let path = std::path::PathBuf::from(started["path"].as_str().unwrap());
    tokio::time::sleep(Duration::from_secs(8)).await;
    let id = started["id"].as_str().unwrap();
    assert_eq!(http(addr, "DELETE", &format!("/api/rooms/sync/recordings/{id}"), None).await.0, 200);

    let (cx, cy) = tile(0, 1).centre();
    let mut video = Vec::new();
    let audio = recording::decode(&path, |t, f| {
        let [r, g, b] = f.rgb_at(cx, cy, 16);
        video.push((t, (u32::from(r) + u32::from(g) + u32::from(b)) / 3 > 128));
    })?;
    // Audio is "bright" where a sample exceeds 0.1 of full scale.
    let audio_series: Vec<(Duration, bool)> = audio.timed().map(|(t, s)| (t, s.unsigned_abs() > 3277)).collect();
    let (flashes, beeps) = (onsets(&video), onsets(&audio_series));
    println!("flashes at {flashes:?}");
    println!("beeps at   {beeps:?}");
    assert!(flashes.len() >= 6, "expected a flash a second");
    let mut worst = 0i64;
    let mut offsets = Vec::new();
    for f in &flashes {
        let beep = beeps.iter().min_by_key(|b| (b.as_millis() as i64 - f.as_millis() as i64).abs()).expect("beeps");
        let offset = f.as_millis() as i64 - beep.as_millis() as i64;
        offsets.push(offset);
        worst = worst.max(offset.abs());
    }
    let mean = offsets.iter().sum::<i64>() as f64 / offsets.len() as f64;
    println!("video - audio offsets (ms): {offsets:?}; mean {mean:.1}, worst {worst}");
    assert!(worst <= 40, "a flash and its beep were {worst} ms apart");
    server.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
