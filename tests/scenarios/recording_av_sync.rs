//! A/V sync in recordings, from a publisher's first second: a publisher flashes white and
//! beeps at the same instants (once a second, from its second second on). The room is recorded
//! from its first join (`--auto-record`), so the file holds the publisher's whole start,
//! including the moment the server first lines its audio up with its video (RTCP sender
//! reports). In the file, every flash has its beep within 40 ms, and every beep its flash,
//! from 2 s after the publisher's connection; before that (its audio timing still being
//! learnt) within 100 ms.
//!
//! The check runs at the shipped 30 fps canvas: the compositor shows a flash on its next
//! 33 ms frame, so that quantization is part of what a viewer of the file sees, and part of
//! the measured offset. A second run at 60 fps halves the quantization, so its offsets show
//! the audio/video alignment itself more finely.

use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::{AudioSource, PeerOptions, TestPeer, VideoSource, VideoSpec};
use tessera_protocol::ServerMessage;

/// Marks every recording must hold at least (the source makes one a second).
const MARKS: usize = 10;
/// The threshold between a flash and its beep.
const LIMIT_MS: i64 = 40;
/// How long after its connection a publisher's timing is still being learnt: the jitter buffer
/// maps each stream's RTP time from the packets' arrival, moving audio and video separately by
/// 10–30 ms while its first 2 s window fills, until rtpbin lines them up again at the next
/// sender report (see `follow_timestamp_steps` in src/media/ingress.rs).
const SETTLING: Duration = Duration::from_secs(2);
/// The bound for marks in those first seconds. Measured, with the test peer sending nothing
/// before its connection (as browsers) and the mixers following audio within 4 ms: up to 16 ms
/// in 16 runs, and 44 ms beside a busy loop (14 runs). With send-time sender reports it was
/// 230–1000 ms in 3 of 20 runs (`tessera_webrtc::rtcp`), and 417 ms with the mixers not
/// following audio at all.
const SETTLING_LIMIT_MS: i64 = 100;

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

/// For each time in `from`, the signed distance (ms) to the nearest time in `to`.
fn nearest(from: &[Duration], to: &[Duration]) -> Vec<(Duration, i64)> {
    let ms = |d: &Duration| d.as_micros() as i64 / 1000;
    from.iter().map(|f| (*f, to.iter().map(|t| ms(f) - ms(t)).min_by_key(|d| d.abs()).unwrap_or(i64::MAX))).collect()
}

/// Records a flashing, beeping publisher from its join on a `fps` canvas; returns the flash
/// and beep onsets in the file. Left out: marks in the file's last 300 ms (the stop may cut
/// one of the pair), and marks up to 250 ms (more than their transit) after the publisher's
/// connection came up: the test peer sends nothing before (`tessera_client::sources`), so a
/// mark may be cut off at its start.
async fn record_marks(fps: u32) -> anyhow::Result<(Vec<Duration>, Vec<Duration>, Duration)> {
    let dir = record_dir(&format!("avsync-{fps}"));
    let config = test_config_with(|c| {
        c.recording.dir = dir.clone();
        c.composite.fps = fps;
        c.recording.auto = true;
    });
    let server = start_server_with(config).await;
    let addr = server.addr;
    let mut opts = PeerOptions::publisher("sync", "flash", [0, 0, 0], 0.0);
    opts.video = Some(VideoSource::Flash(VideoSpec { rgb: [0, 0, 0], width: 320, height: 180, fps: 30 }));
    opts.audio = Some(AudioSource::Beep(1000.0));
    let mut flasher = TestPeer::join(addr, opts).await?;
    let (cx, cy) = tile(0, 1).centre();
    flasher.received().watch_flashes(tile(0, 1));
    let started = flasher.wait_message(secs(3), |m| matches!(m, ServerMessage::RecordingStarted { .. })).await?;
    let recording_started = Instant::now();
    let ServerMessage::RecordingStarted { recording_id } = started else { unreachable!() };
    // Until the composite has shown two flashes more than needed.
    flasher.wait_for(secs(30), |p| p.received().bright_onsets().len() > MARKS + 1).await?;
    let (status, stopped) = http(addr, "DELETE", &format!("/api/rooms/sync/recordings/{recording_id}"), None).await;
    assert_eq!((status, stopped["state"].as_str()), (200, Some("done")), "{stopped}");
    let path = std::path::PathBuf::from(stopped["path"].as_str().unwrap());
    let connected = flasher.received().connected_at().expect("connected") - recording_started;
    println!("the publisher's connection was up {connected:?} into the recording");

    let mut video = Vec::new();
    let audio = recording::decode(&path, |t, f| {
        let [r, g, b] = f.rgb_at(cx, cy, 16);
        video.push((t, (u32::from(r) + u32::from(g) + u32::from(b)) / 3 > 128));
    })?;
    // Audio is "bright" where a sample exceeds 0.1 of full scale.
    let audio_series: Vec<(Duration, bool)> = audio.timed().map(|(t, s)| (t, s.unsigned_abs() > 3277)).collect();
    let (video_end, audio_end) = (video.last().map(|v| v.0), audio_series.last().map(|a| a.0));
    println!("the file's video ends at {video_end:?}, its audio at {audio_end:?}");
    let end = video_end.unwrap_or_default().min(audio_end.unwrap_or_default());
    let whole = |v: Vec<Duration>| -> Vec<Duration> {
        let (kept, left): (Vec<Duration>, Vec<Duration>) = v
            .into_iter()
            .partition(|t| *t > connected + Duration::from_millis(250) && *t + Duration::from_millis(300) < end);
        if !left.is_empty() {
            println!("  left out (before the connection or at the cut): {left:?}");
        }
        kept
    };
    let marks = (whole(onsets(&video)), whole(onsets(&audio_series)));
    server.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok((marks.0, marks.1, connected + SETTLING))
}

async fn every_flash_has_its_beep(fps: u32) -> anyhow::Result<()> {
    let (flashes, beeps, settled) = record_marks(fps).await?;
    // A pair is judged by its earlier mark: a flash just before the settling ends and its beep
    // just after are one mark of the settling.
    let limit = |t: &Duration, offset: i64| {
        let earlier = t.saturating_sub(Duration::from_millis(offset.max(0) as u64));
        if earlier >= settled { LIMIT_MS } else { SETTLING_LIMIT_MS }
    };
    let (by_flash, by_beep) = (nearest(&flashes, &beeps), nearest(&beeps, &flashes));
    println!("{fps} fps canvas: {} flashes, {} beeps", flashes.len(), beeps.len());
    for (flash, offset) in &by_flash {
        println!("  flash at {:>7.3} s: video - audio = {offset:+} ms", flash.as_secs_f64());
    }
    let offsets: Vec<i64> = by_flash.iter().map(|(_, o)| *o).collect();
    let worst = offsets.iter().chain(by_beep.iter().map(|(_, o)| o)).map(|o| o.abs()).max().unwrap_or(0);
    let mean = offsets.iter().sum::<i64>() as f64 / offsets.len().max(1) as f64;
    println!("{fps} fps canvas: offsets {offsets:?} ms; mean {mean:+.1}, worst |offset| {worst} ms");
    assert!(flashes.len() >= MARKS, "a flash a second from the publisher's second second: {flashes:?}");
    assert_eq!(flashes.len(), beeps.len(), "as many beeps as flashes: {flashes:?} / {beeps:?}");
    let settled_marks = flashes.iter().filter(|t| **t >= settled).count();
    println!("{settled_marks} marks from {settled:?} (the connection + {SETTLING:?}) on: within {LIMIT_MS} ms");
    assert!(settled_marks >= MARKS - 2, "too few marks after the settling: {flashes:?}");
    for (flash, offset) in &by_flash {
        assert!(offset.abs() <= limit(flash, *offset), "the flash at {flash:?} is {offset:+} ms from its beep");
    }
    for (beep, offset) in &by_beep {
        assert!(offset.abs() <= limit(beep, *offset), "the beep at {beep:?} is {offset:+} ms from its flash");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flashes_and_beeps_stay_together_at_30_fps() -> anyhow::Result<()> {
    every_flash_has_its_beep(30).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flashes_and_beeps_stay_together_at_60_fps() -> anyhow::Result<()> {
    every_flash_has_its_beep(60).await
}
