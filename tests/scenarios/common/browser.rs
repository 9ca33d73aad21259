//! A real browser (Debian's Chromium or Firefox ESR) driven through `tests/browser/driver.mjs`
//! (puppeteer-core), for end-to-end tests of the page. A missing browser, Node or npm package
//! fails the test: `make test` installs them. What the tests read from a page (frames on a
//! canvas, the state badge, console errors) is in [`page`].

pub mod page;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long a single action (a click, a key) may take before the driver is deemed stuck; long,
/// because 2 shared cores can be very busy. Not a threshold of any test.
const OP_TIMEOUT: Duration = Duration::from_secs(60);

/// Which browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Chromium,
    Firefox,
}

/// One browser process and its driver.
pub struct Browser {
    pub kind: Kind,
    pub version: String,
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    next: u64,
}

/// A page (tab) in a [`Browser`].
#[derive(Debug, Clone, Copy)]
pub struct Page(u64);

impl Browser {
    /// Launches `kind` headless with fake camera and microphone (unless `fake_devices` is false);
    /// Chromium's fake microphone plays `fake_audio` (a WAV file) when given.
    pub async fn launch(kind: Kind, fake_devices: bool, fake_audio: Option<&Path>) -> anyhow::Result<Self> {
        Self::launch_with(kind, json!({ "fakeDevices": fake_devices, "fakeAudioFile": fake_audio })).await
    }

    /// Launches Chromium whose fake camera shows `camera` (a Y4M file, see [`write_colour_y4m`])
    /// and whose fake microphone plays `microphone` (a WAV file): a picture a test can check.
    pub async fn launch_chromium_with_files(camera: &Path, microphone: &Path) -> anyhow::Result<Self> {
        let opts = json!({ "fakeDevices": true, "fakeVideoFile": camera, "fakeAudioFile": microphone });
        Self::launch_with(Kind::Chromium, opts).await
    }

    /// Launches `kind` with fake devices whose permission requests are refused.
    pub async fn launch_denying_permissions(kind: Kind) -> anyhow::Result<Self> {
        Self::launch_with(kind, json!({ "fakeDevices": true, "denyPermissions": true })).await
    }

    /// Launches `kind` with fake devices, accepting any TLS certificate (a test server's own).
    pub async fn launch_accepting_any_certificate(kind: Kind) -> anyhow::Result<Self> {
        Self::launch_with(kind, json!({ "fakeDevices": true, "acceptInsecureCerts": true })).await
    }

    async fn launch_with(kind: Kind, mut opts: Value) -> anyhow::Result<Self> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
        if !dir.join("node_modules/puppeteer-core").exists() {
            bail!("puppeteer-core is not installed: run `make test` (npm ci in tests/browser)");
        }
        opts["browser"] = json!(if kind == Kind::Firefox { "firefox" } else { "chromium" });
        let mut child = Command::new("node")
            .arg(dir.join("driver.mjs"))
            .arg(opts.to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Not killed on drop: dropping this closes the driver's stdin, and the driver then
            // closes the browser (a killed driver would leave the browser running).
            .spawn()
            .context("starting node (is Node.js installed?)")?;
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut browser = Self { kind, version: String::new(), child, stdin, lines, next: 1 };
        let hello = browser.read(0, Duration::from_secs(120)).await.with_context(|| format!("launching {kind:?}"))?;
        browser.version = hello.as_str().unwrap_or_default().to_owned();
        Ok(browser)
    }

    async fn read(&mut self, id: u64, timeout: Duration) -> anyhow::Result<Value> {
        loop {
            let line = tokio::time::timeout(timeout, self.lines.next_line())
                .await
                .context("browser driver did not answer in time")??
                .context("browser driver exited")?;
            let Ok(reply) = serde_json::from_str::<Value>(&line) else { continue };
            if reply["id"].as_u64() != Some(id) {
                continue;
            }
            if reply["ok"].as_bool() == Some(true) {
                return Ok(reply["result"].clone());
            }
            bail!("{:?}: {}", self.kind, reply["error"].as_str().unwrap_or("unknown error"));
        }
    }

    async fn call(&mut self, mut cmd: Value, timeout: Duration) -> anyhow::Result<Value> {
        let id = self.next;
        self.next += 1;
        cmd["id"] = json!(id);
        self.stdin.write_all(format!("{cmd}\n").as_bytes()).await?;
        self.read(id, timeout + Duration::from_secs(5)).await
    }

    /// Opens `url` in a new 1280x800 page.
    pub async fn open(&mut self, url: &str) -> anyhow::Result<Page> {
        self.open_sized(url, 1280, 800).await
    }

    /// Opens `url` in a new page with a `width`x`height` viewport.
    pub async fn open_sized(&mut self, url: &str, width: u32, height: u32) -> anyhow::Result<Page> {
        self.open_with(url, width, height, page::PROBES).await
    }

    /// Opens `url` in a new page; `init` (JavaScript) runs before any of the page's scripts.
    pub async fn open_with(&mut self, url: &str, width: u32, height: u32, init: &str) -> anyhow::Result<Page> {
        let cmd = json!({"op": "open", "url": url, "width": width, "height": height, "init": init});
        let id = self.call(cmd, OP_TIMEOUT).await?;
        Ok(Page(id.as_u64().context("page id")?))
    }

    /// Replaces the text of the input `selector` by typing `text`, as a person would.
    pub async fn type_into(&mut self, page: Page, selector: &str, text: &str) -> anyhow::Result<()> {
        self.call(json!({"op": "type", "page": page.0, "selector": selector, "text": text}), OP_TIMEOUT).await?;
        Ok(())
    }

    /// Clicks the element `selector`.
    pub async fn click(&mut self, page: Page, selector: &str) -> anyhow::Result<()> {
        self.call(json!({"op": "click", "page": page.0, "selector": selector}), OP_TIMEOUT).await?;
        Ok(())
    }

    /// Clicks at page coordinates (CSS pixels).
    pub async fn click_at(&mut self, page: Page, x: f64, y: f64) -> anyhow::Result<()> {
        self.call(json!({"op": "clickAt", "page": page.0, "x": x, "y": y}), OP_TIMEOUT).await?;
        Ok(())
    }

    /// Presses a key (e.g. "Tab", "Enter").
    pub async fn press(&mut self, page: Page, key: &str) -> anyhow::Result<()> {
        self.call(json!({"op": "press", "page": page.0, "key": key}), OP_TIMEOUT).await?;
        Ok(())
    }

    /// Evaluates a JavaScript expression (promises are awaited) and returns its JSON value.
    pub async fn eval(&mut self, page: Page, expr: &str) -> anyhow::Result<Value> {
        self.call(json!({"op": "eval", "page": page.0, "expr": expr}), OP_TIMEOUT).await
    }

    /// [`Browser::eval`] of an expression that takes up to `timeout` to settle.
    pub async fn eval_for(&mut self, page: Page, expr: &str, timeout: Duration) -> anyhow::Result<Value> {
        self.call(json!({"op": "eval", "page": page.0, "expr": expr}), timeout).await
    }

    /// Waits until the JavaScript expression `expr` is truthy; returns its value.
    pub async fn wait_for(&mut self, page: Page, expr: &str, timeout: Duration) -> anyhow::Result<Value> {
        let ms = timeout.as_millis() as u64;
        self.call(json!({"op": "waitFor", "page": page.0, "expr": expr, "timeout": ms}), timeout)
            .await
            .with_context(|| format!("waiting for `{expr}`"))
    }

    /// Everything that would show as an error in the page's console so far: console errors,
    /// uncaught exceptions and rejections, failed requests, HTTP errors.
    pub async fn errors(&mut self, page: Page) -> anyhow::Result<Vec<String>> {
        let v = self.call(json!({"op": "errors", "page": page.0}), OP_TIMEOUT).await?;
        Ok(serde_json::from_value(v)?)
    }

    /// Every URL the page requested.
    pub async fn requests(&mut self, page: Page) -> anyhow::Result<Vec<String>> {
        let v = self.call(json!({"op": "requests", "page": page.0}), OP_TIMEOUT).await?;
        Ok(serde_json::from_value(v)?)
    }

    /// Closes a page.
    pub async fn close(&mut self, page: Page) -> anyhow::Result<()> {
        self.call(json!({"op": "close", "page": page.0}), OP_TIMEOUT).await?;
        Ok(())
    }

    /// Saves a PNG screenshot of the page.
    pub async fn screenshot(&mut self, page: Page, path: &Path) -> anyhow::Result<()> {
        self.call(json!({"op": "screenshot", "page": page.0, "path": path}), OP_TIMEOUT).await?;
        Ok(())
    }

    /// Closes the browser.
    pub async fn quit(mut self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await;
    }
}

/// Writes a Y4M video of `frames` frames of one colour, `width`x`height` at 30 fps, for
/// Chromium's fake camera (which loops it). 4:2:0 in BT.601 limited range, which is how
/// Chromium reads a Y4M file without a colour-range tag.
pub fn write_colour_y4m(path: &Path, rgb: [u8; 3], width: u32, height: u32, frames: u32) -> std::io::Result<()> {
    let [r, g, b] = rgb.map(|c| f64::from(c) / 255.0);
    let y = (16.0 + 65.481 * r + 128.553 * g + 24.966 * b).round() as u8;
    let u = (128.0 - 37.797 * r - 74.203 * g + 112.0 * b).round() as u8;
    let v = (128.0 + 112.0 * r - 93.786 * g - 18.214 * b).round() as u8;
    let (luma, chroma) = ((width * height) as usize, (width.div_ceil(2) * height.div_ceil(2)) as usize);
    let mut data = format!("YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n").into_bytes();
    for _ in 0..frames {
        data.extend_from_slice(b"FRAME\n");
        data.extend(std::iter::repeat_n(y, luma));
        data.extend(std::iter::repeat_n(u, chroma));
        data.extend(std::iter::repeat_n(v, chroma));
    }
    std::fs::write(path, data)
}

/// Writes a mono 48 kHz 16-bit WAV of a sine at `freq` Hz, `secs` long, at -10 dBFS.
pub fn write_tone_wav(path: &Path, freq: f64, secs: u32) -> std::io::Result<()> {
    let rate = 48_000u32;
    let n = rate * secs;
    let mut data = Vec::with_capacity(44 + 2 * n as usize);
    data.extend_from_slice(b"RIFF");
    data.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    data.extend_from_slice(b"WAVEfmt ");
    data.extend_from_slice(&16u32.to_le_bytes());
    data.extend_from_slice(&1u16.to_le_bytes()); // PCM
    data.extend_from_slice(&1u16.to_le_bytes()); // mono
    data.extend_from_slice(&rate.to_le_bytes());
    data.extend_from_slice(&(rate * 2).to_le_bytes());
    data.extend_from_slice(&2u16.to_le_bytes());
    data.extend_from_slice(&16u16.to_le_bytes());
    data.extend_from_slice(b"data");
    data.extend_from_slice(&(2 * n).to_le_bytes());
    for i in 0..n {
        let v = 0.316 * (2.0 * std::f64::consts::PI * freq * f64::from(i) / f64::from(rate)).sin();
        data.extend_from_slice(&((v * 32767.0) as i16).to_le_bytes());
    }
    std::fs::write(path, data)
}
