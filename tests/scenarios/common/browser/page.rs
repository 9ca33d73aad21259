//! What the tests read from Tessera's page: probes installed before the page's own scripts
//! (camera requests, the state badge's history), frames sampled on a canvas as the `<video>`
//! presents them, and the page's console.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde::Deserialize;
use serde_json::json;

use super::{Browser, Page};

/// Runs before the page's scripts (see [`Browser::open_with`]): counts every camera or
/// microphone request in `window.__gum`, and records what the state badge and the problem box
/// show — text and whether visible — in `window.__states` and `window.__problems`, one entry
/// per change.
pub const PROBES: &str = r#"(() => {
  window.__gum = [];
  const spy = (obj, name) => {
    const real = obj?.[name];
    if (typeof real !== 'function') return;
    obj[name] = function (...args) { window.__gum.push(`${name} ${JSON.stringify(args[0])}`); return real.apply(this, args); };
  };
  spy(window.MediaDevices?.prototype, 'getUserMedia');
  for (const legacy of ['getUserMedia', 'webkitGetUserMedia', 'mozGetUserMedia']) spy(Navigator.prototype, legacy);
  window.__states = [];
  window.__problems = [];
  const watch = (id, text, log) => {
    const el = document.getElementById(id);
    if (!el) return;
    const note = () => {
      const entry = [text(), !el.hidden && getComputedStyle(el).display !== 'none'];
      const last = log.at(-1);
      if (!last || last[0] !== entry[0] || last[1] !== entry[1]) log.push(entry);
    };
    new MutationObserver(note).observe(el, { attributes: true, childList: true, characterData: true, subtree: true });
  };
  document.addEventListener('DOMContentLoaded', () => {
    watch('state', () => document.getElementById('state').textContent, window.__states);
    watch('problem', () => document.getElementById('problem-text').textContent, window.__problems);
  });
})();"#;

/// What the state badge showed, in order: (text, visible).
pub async fn state_history(b: &mut Browser, page: Page) -> anyhow::Result<Vec<(String, bool)>> {
    Ok(serde_json::from_value(b.eval(page, "window.__states").await?)?)
}

/// What the problem box showed, in order: (text, visible).
pub async fn problem_history(b: &mut Browser, page: Page) -> anyhow::Result<Vec<(String, bool)>> {
    Ok(serde_json::from_value(b.eval(page, "window.__problems").await?)?)
}

/// Camera or microphone requests the page made (each with its constraints).
pub async fn camera_requests(b: &mut Browser, page: Page) -> anyhow::Result<Vec<String>> {
    Ok(serde_json::from_value(b.eval(page, "window.__gum").await?)?)
}

/// The text of `selector` if it is visible on screen (laid out, not hidden), else `null`.
pub async fn visible_text(b: &mut Browser, page: Page, selector: &str) -> anyhow::Result<Option<String>> {
    let js = format!(
        "(() => {{ const e = document.querySelector({selector:?}); const r = e?.getBoundingClientRect(); \
         return e && !e.closest('[hidden]') && r.width > 0 && r.height > 0 ? e.textContent : null; }})()"
    );
    Ok(serde_json::from_value(b.eval(page, &js).await?)?)
}

/// One frame the `<video>` presented, drawn on a canvas.
#[derive(Debug, Deserialize)]
pub struct SampledFrame {
    /// `presentedFrames` from `requestVideoFrameCallback`.
    pub presented: u64,
    /// Mean colour of an 8x8 square at each probe point (composite pixels).
    pub probes: Vec<[u8; 3]>,
    /// A checksum of the whole frame, to see the picture change.
    pub sig: u64,
}

/// Frames sampled by [`sample_frames`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrameSamples {
    pub rvfc: bool,
    pub paused: bool,
    pub play_shown: bool,
    #[serde(default)]
    pub frames: Vec<SampledFrame>,
    #[serde(default)]
    pub ms: f64,
    /// `currentTime` of the `<video>` before and after.
    #[serde(default)]
    pub current_time: [f64; 2],
}

impl FrameSamples {
    /// How many sampled frames differ from the one before.
    pub fn changes(&self) -> usize {
        self.frames.windows(2).filter(|w| w[0].sig != w[1].sig).count()
    }
}

const SAMPLE_FRAMES_JS: &str = r#"async ({ want, probes, maxMs }) => {
  const v = document.querySelector('#composite');
  const out = { rvfc: typeof v.requestVideoFrameCallback === 'function', paused: v.paused,
    playShown: !document.querySelector('#play').hidden, frames: [] };
  if (!out.rvfc || !v.videoWidth) return out;
  const c = document.createElement('canvas');
  const g = c.getContext('2d', { willReadFrequently: true });
  const thumb = document.createElement('canvas');
  thumb.width = 64; thumb.height = 36;
  const small = thumb.getContext('2d', { willReadFrequently: true });
  const mean = (x, y) => {
    const d = g.getImageData(x - 4, y - 4, 8, 8).data;
    const s = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) { s[0] += d[i]; s[1] += d[i + 1]; s[2] += d[i + 2]; }
    return s.map((t) => Math.round(t / 64));
  };
  const t0 = performance.now();
  const time0 = v.currentTime;
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, maxMs);
    const onFrame = (now, meta) => {
      if (!out.frames.length || meta.presentedFrames !== out.frames.at(-1).presented) {
        if (c.width !== v.videoWidth || c.height !== v.videoHeight) { c.width = v.videoWidth; c.height = v.videoHeight; }
        g.drawImage(v, 0, 0, c.width, c.height);
        // The picture's checksum, from a 64x36 copy (cheap enough for every frame).
        small.drawImage(c, 0, 0, 64, 36);
        let sig = 0;
        for (const byte of small.getImageData(0, 0, 64, 36).data) sig = (sig * 31 + byte) >>> 0;
        out.frames.push({ presented: meta.presentedFrames, probes: probes.map(([x, y]) => mean(x, y)), sig });
      }
      if (out.frames.length >= want) { clearTimeout(timer); resolve(); } else v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
  });
  out.ms = performance.now() - t0;
  out.currentTime = [time0, v.currentTime];
  out.paused ||= v.paused;
  return out;
}"#;

/// Draws each frame the page's `<video>` presents (`requestVideoFrameCallback`) on a canvas
/// until `want` distinct frames, sampling the colour at each of `probes` (composite pixels).
pub async fn sample_frames(
    b: &mut Browser,
    page: Page,
    want: usize,
    probes: &[(u32, u32)],
) -> anyhow::Result<FrameSamples> {
    // Long enough for a busy machine: the loop stops at `want` frames.
    let args = json!({ "want": want, "probes": probes, "maxMs": 40_000 });
    let expr = format!("({SAMPLE_FRAMES_JS})({args})");
    let v = b.call(json!({"op": "eval", "page": page.0, "expr": expr}), Duration::from_secs(50)).await?;
    serde_json::from_value(v).context("frame samples")
}

/// Proves the console check can fail: in a fresh page at `url`, a console error, an uncaught
/// exception, an unhandled rejection and a request answered 404 each show up in
/// [`Browser::errors`].
pub async fn prove_error_capture(b: &mut Browser, url: &str) -> anyhow::Result<Vec<String>> {
    let page = b.open(url).await?;
    ensure!(b.errors(page).await?.is_empty(), "{:?}: a clean page has errors", b.kind);
    b.eval(
        page,
        "console.error('canary: console.error'); setTimeout(() => { throw new Error('canary: exception'); }); \
         Promise.reject(new Error('canary: rejection')); fetch('/canary-missing-file').catch(() => {}); true",
    )
    .await?;
    let wanted = ["canary: console.error", "canary: exception", "canary: rejection", "HTTP 404: "];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let errors = b.errors(page).await?;
        if wanted.iter().all(|w| errors.iter().any(|e| e.contains(w))) {
            b.close(page).await?;
            return Ok(errors);
        }
        ensure!(Instant::now() < deadline, "{:?} caught only {errors:?}", b.kind);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page logged no error and loaded nothing from anywhere but `origin` (no CDN: it works
/// from the server alone).
pub async fn assert_clean(b: &mut Browser, page: Page, origin: &str) -> anyhow::Result<()> {
    let errors = b.errors(page).await?;
    ensure!(errors.is_empty(), "{:?} console errors: {errors:?}", b.kind);
    let requests = b.requests(page).await?;
    let foreign: Vec<&String> = requests.iter().filter(|u| !u.starts_with(&format!("{origin}/"))).collect();
    ensure!(foreign.is_empty(), "{:?} loaded from elsewhere: {foreign:?}", b.kind);
    ensure!(!requests.is_empty(), "no requests seen");
    Ok(())
}

/// True when `entry` is the browser's own report of a WebSocket to `ws_url` whose connection
/// was refused (the server was down); the page's code logs nothing of the kind. Chromium logs
/// "WebSocket connection to '…' failed: …ERR_CONNECTION_REFUSED" to the console; Firefox raises
/// an error event ("Firefox can’t establish a connection to the server at ….") and, over
/// WebDriver BiDi, a failed request for the upgrade URL.
pub fn is_refused_websocket(entry: &str, ws_url: &str) -> bool {
    let http_url = ws_url.replacen("ws://", "http://", 1);
    entry
        == format!(
            "WebSocket connection to '{ws_url}' failed: Error in connection establishment: net::ERR_CONNECTION_REFUSED"
        )
        || entry == format!("page error: Firefox can’t establish a connection to the server at {ws_url}.")
        || entry == format!("request failed: {http_url} (NS_ERROR_CONNECTION_REFUSED)")
}

/// Presses Tab until `focused` (a JavaScript condition on `document.activeElement`) holds;
/// returns how many presses it took.
pub async fn tab_to(b: &mut Browser, page: Page, focused: &str) -> anyhow::Result<usize> {
    let check = format!("(() => {{ const el = document.activeElement; return !!({focused}); }})()");
    for presses in 0..30 {
        if b.eval(page, &check).await? == true {
            return Ok(presses);
        }
        b.press(page, "Tab").await?;
    }
    anyhow::bail!("{:?}: Tab never reached `{focused}`", b.kind)
}

/// Opens the page for `room`, types `name` and clicks "Join with camera and microphone";
/// returns once connected.
pub async fn join_as_publisher(b: &mut Browser, origin: &str, room: &str, name: &str) -> anyhow::Result<Page> {
    let page = b.open(&format!("{origin}/?room={room}")).await?;
    b.type_into(page, "#name", name).await?;
    b.click(page, "#join-publisher").await?;
    b.wait_for(page, "window.tessera.state === 'connected'", Duration::from_secs(20)).await?;
    Ok(page)
}
