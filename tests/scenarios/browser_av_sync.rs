//! Lip sync where people watch: a publisher flashes white and beeps at the same instants (once
//! a second); a browser viewer's page times each flash as its `<video>` presents it
//! (`requestVideoFrameCallback`'s expected display time) and each beep as its audio reaches
//! Web Audio (the block's playback time, in the same clock). Every beep comes from 45 ms before
//! its flash to 125 ms after it (ITU-R BT.1359's thresholds of detectability).
//!
//! The server sends audio as soon as it is encoded, ahead of the composite
//! (`src/media/audio_send.rs`); the browser holds it back by the sender reports' times. This
//! test is what shows that it does. Chromium only: headless Firefox ESR here keeps every
//! `AudioContext` suspended (no audio output), so its page cannot time what it hears.

use crate::common::browser::{Browser, Kind};
use crate::common::*;
use tessera_client::{AudioSource, PeerOptions, TestPeer, VideoSource, VideoSpec};

/// ITU-R BT.1359's thresholds of detectability: audio ahead of video, and behind it.
const AHEAD_MS: f64 = 45.0;
const BEHIND_MS: f64 = 125.0;
/// Marks measured (one a second).
const MARKS: usize = 8;
/// How long a browser takes to line its streams up: it needs a sender report of each, then
/// moves its playout delays a step at a time.
const SYNC_TIME: std::time::Duration = std::time::Duration::from_secs(4);

/// In the page: for `ms`, the display times of frames whose probe turns bright, and the times
/// at which the audio's level first rises after a quiet spell, both in `performance.now()` ms.
const MEASURE_JS: &str = r#"async ({ probe: [px, py], ms }) => {
  const v = document.querySelector('#composite');
  const ctx = new AudioContext();
  // Started by the click that joined (a user's gesture).
  await Promise.race([ctx.resume(), new Promise((r) => setTimeout(r, 2000))]);
  const source = ctx.createMediaStreamSource(v.srcObject);
  const node = ctx.createScriptProcessor(256, 1, 1);
  const mute = ctx.createGain();
  mute.gain.value = 0;
  source.connect(node); node.connect(mute); mute.connect(ctx.destination);
  // Context time to performance time.
  const toPerf = (t) => { const s = ctx.getOutputTimestamp(); return s.performanceTime + (t - s.contextTime) * 1000; };
  const beeps = []; let quietSince = 0; let loud = false;
  node.onaudioprocess = (e) => {
    const d = e.inputBuffer.getChannelData(0);
    for (let i = 0; i < d.length; i++) {
      const t = e.playbackTime + i / ctx.sampleRate;
      if (Math.abs(d[i]) > 0.05) {
        if (!loud && t - quietSince > 0.3) beeps.push(toPerf(t));
        loud = true;
      } else if (loud) { loud = false; quietSince = t; }
    }
  };
  // Only the probe's 8x8 pixels are drawn: a whole frame each time would load the page's
  // thread, on which the audio callback runs too.
  const c = document.createElement('canvas');
  c.width = 8; c.height = 8;
  const g = c.getContext('2d', { willReadFrequently: true });
  const flashes = []; let bright = false; let frames = 0;
  await new Promise((resolve) => {
    setTimeout(resolve, ms);
    const onFrame = (now, meta) => {
      frames++;
      g.drawImage(v, px - 4, py - 4, 8, 8, 0, 0, 8, 8);
      const p = g.getImageData(0, 0, 8, 8).data;
      let sum = 0;
      for (let i = 0; i < p.length; i += 4) sum += p[i] + p[i + 1] + p[i + 2];
      const now_bright = sum / (3 * 64) > 128;
      if (now_bright && !bright) flashes.push(meta.expectedDisplayTime);
      bright = now_bright;
      v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
  });
  node.onaudioprocess = null;
  const state = ctx.state;
  await ctx.close();
  return { flashes, beeps, frames, state, outputLatency: ctx.outputLatency ?? null, baseLatency: ctx.baseLatency };
}"#;

/// Each flash's distance to the nearest beep, ms (positive: the beep comes after).
fn offsets(flashes: &[f64], beeps: &[f64]) -> Vec<f64> {
    flashes
        .iter()
        .filter_map(|f| beeps.iter().map(|b| b - f).min_by(|a, b| a.abs().total_cmp(&b.abs())))
        // A flash at the window's edge whose beep fell outside it.
        .filter(|o| o.abs() < 500.0)
        .collect()
}

async fn measure(kind: Kind, addr: std::net::SocketAddr) -> anyhow::Result<Vec<f64>> {
    let mut b = Browser::launch(kind, true, None).await?;
    let page = b.open(&format!("http://{addr}/?room=lipsync&name=Watcher")).await?;
    // A click: the user's gesture lets the page's audio (and an AudioContext) start.
    b.click(page, "#join-viewer").await?;
    b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await?;
    b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 30)", secs(20)).await?;
    tokio::time::sleep(SYNC_TIME).await;
    let args = serde_json::json!({ "probe": tile(0, 1).centre(), "ms": (MARKS as u64 + 1) * 1000 });
    let report = b.eval_for(page, &format!("({MEASURE_JS})({args})"), secs(MARKS as u64 + 15)).await?;
    b.quit().await;
    let list = |k: &str| -> Vec<f64> {
        report[k].as_array().map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect()).unwrap_or_default()
    };
    let (flashes, beeps) = (list("flashes"), list("beeps"));
    let offsets = offsets(&flashes, &beeps);
    println!(
        "{kind:?}: {} frames, {} flashes, {} beeps (audio {}, output latency {}, base {}); beep - flash: {:?} ms",
        report["frames"],
        flashes.len(),
        beeps.len(),
        report["state"],
        report["outputLatency"],
        report["baseLatency"],
        offsets.iter().map(|o| o.round()).collect::<Vec<_>>()
    );
    anyhow::ensure!(offsets.len() >= MARKS - 1, "{kind:?} saw too few marks: {report}");
    Ok(offsets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_each_flash_with_its_beep() -> anyhow::Result<()> {
    let server = start_server_with(browser_media_config()).await;
    let mut opts = PeerOptions::publisher("lipsync", "flash", [0, 0, 0], 0.0);
    opts.video = Some(VideoSource::Flash(VideoSpec { rgb: [0, 0, 0], width: 320, height: 180, fps: 30 }));
    opts.audio = Some(AudioSource::Beep(1000.0));
    let flasher = TestPeer::join(server.addr, opts).await?;
    // Past the first seconds, in which the server learns the publisher's timing (see
    // recording_av_sync's SETTLING).
    tokio::time::sleep(secs(2)).await;
    let kind = Kind::Chromium;
    let offsets = measure(kind, server.addr).await?;
    let (ahead, behind) = offsets.iter().fold((0.0_f64, 0.0_f64), |(a, b), o| (a.min(*o), b.max(*o)));
    assert!(-ahead <= AHEAD_MS, "{kind:?}: a beep {:.0} ms before its flash ({offsets:?})", -ahead);
    assert!(behind <= BEHIND_MS, "{kind:?}: a beep {behind:.0} ms after its flash ({offsets:?})");
    drop(flasher);
    server.stop().await;
    Ok(())
}
