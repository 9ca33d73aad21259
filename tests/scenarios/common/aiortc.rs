//! An aiortc peer (`tests/interop/aiortc_peer.py`, run by the project's `.venv/`): an
//! independent WebRTC stack in a room, so the tests prove standard WebRTC and not only
//! GStreamer talking to GStreamer. The peer prints a JSON report line every 100 ms; a test
//! polls those reports with a deadline. A missing `.venv/` fails the test:
//! `scripts/install-deps.sh` creates it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use tessera::layout::Rect;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How an aiortc peer negotiates (`--mode` of the peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Tessera's `/ws` protocol: the server offers, candidates trickle both ways.
    Ws,
    /// WHIP: the peer POSTs its offer to `/whip/{room}` and publishes.
    Whip,
    /// WHEP: the peer POSTs a receive-only offer to `/whep/{room}` and watches.
    Whep,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Ws => "ws",
            Mode::Whip => "whip",
            Mode::Whep => "whep",
        }
    }
}

/// What an aiortc peer does in the room.
pub struct AiortcOptions {
    /// How it signals; WHIP needs `publish`, WHEP needs none.
    pub mode: Mode,
    pub room: String,
    pub name: String,
    /// Publish this colour and tone (Hz); `None`: join as a viewer.
    pub publish: Option<([u8; 3], f64)>,
    /// Regions of the composite whose mean colour each report gives, in report order.
    pub probes: Vec<Rect>,
    /// Frequencies whose level (dBFS) each report gives.
    pub tones: Vec<f64>,
}

/// A running aiortc peer. Dropping it kills the process (the server sees its socket close).
pub struct AiortcPeer {
    child: Child,
    /// Closed by [`AiortcPeer::leave`]: the peer then sends `leave` and exits.
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<Vec<String>>>,
    last: Option<Value>,
}

/// The mean colour of probe `i` in `report`, if the peer has decoded a frame.
pub fn probe_rgb(report: &Value, i: usize) -> Option<[u8; 3]> {
    let rgb = report["probes"][i]["rgb"].as_array()?;
    let c = |k: usize| rgb.get(k).and_then(Value::as_u64).map(|v| v.min(255) as u8);
    Some([c(0)?, c(1)?, c(2)?])
}

/// The level of `hz` in `report` (as asked for with [`AiortcOptions::tones`]), in dBFS.
pub fn tone(report: &Value, hz: f64) -> f64 {
    report["tones"][format!("{hz}")].as_f64().unwrap_or(-200.0)
}

impl AiortcPeer {
    /// Starts the peer against the server at `addr`; returns once the process runs.
    pub async fn start(addr: SocketAddr, options: AiortcOptions) -> anyhow::Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join(".venv/bin/python");
        if !python.exists() {
            bail!("{} is missing: run scripts/install-deps.sh (it creates the aiortc venv)", python.display());
        }
        let mut command = Command::new(python);
        tessera_bench::loadgen::child::die_with_parent(command.as_std_mut());
        command
            .arg(root.join("tests/interop/aiortc_peer.py"))
            .args([
                "--mode",
                options.mode.arg(),
                "--server",
                &addr.to_string(),
                "--room",
                &options.room,
                "--name",
                &options.name,
            ])
            .args(["--ice-address", "127.0.0.1", "--report-ms", "100", "--max-seconds", "60"]);
        match options.publish {
            Some(([r, g, b], hz)) => command
                .args(["--role", "publisher", "--rgb", &format!("{r},{g},{b}")])
                .args(["--tone-hz", &hz.to_string()]),
            None => command.args(["--role", "viewer"]),
        };
        for p in &options.probes {
            // An 8x8 square at the centre, as `colour_in` samples.
            let (x, y) = p.centre();
            command.args(["--probe", &format!("{},{},8,8", x.saturating_sub(4), y.saturating_sub(4))]);
        }
        for hz in &options.tones {
            command.args(["--tone", &hz.to_string()]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the aiortc peer")?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr.clone();
        let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Ok(Self { child, stdin, lines, stderr, last: None })
    }

    /// Reads reports until one satisfies `cond`; fails after `timeout`, or when the peer
    /// reports an error or exits, with its last report and its stderr.
    pub async fn wait_report(&mut self, timeout: Duration, cond: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match tokio::time::timeout(left, self.lines.next_line()).await {
                Err(_) => bail!("no matching report within {timeout:?}; {}", self.describe()),
                Ok(Ok(Some(line))) => line,
                Ok(_) => bail!("the aiortc peer exited; {}", self.describe()),
            };
            let report: Value = serde_json::from_str(&line).with_context(|| format!("report line {line:?}"))?;
            if report.get("error").is_some() {
                bail!("the aiortc peer failed: {}; stderr:\n{}", report["error"], self.stderr_text());
            }
            self.last = Some(report.clone());
            if cond(&report) {
                return Ok(report);
            }
        }
    }

    /// Closes the peer's stdin, so it leaves (`leave` on `/ws`, `DELETE` over WHIP and WHEP)
    /// and exits; waits up to 5 s.
    pub async fn leave(mut self) -> anyhow::Result<()> {
        drop(self.stdin.take());
        let status = tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .context("the aiortc peer did not exit within 5 s of its stdin closing")??;
        if !status.success() {
            bail!("the aiortc peer exited with {status}; stderr:\n{}", self.stderr_text());
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "last report: {}; stderr:\n{}",
            self.last.as_ref().map_or("none".into(), Value::to_string),
            self.stderr_text()
        )
    }

    fn stderr_text(&self) -> String {
        let lines = self.stderr.lock().unwrap();
        lines.iter().rev().take(40).rev().cloned().collect::<Vec<_>>().join("\n")
    }
}
