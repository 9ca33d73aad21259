//! An agent on `/agent` (`docs/agents.md`): raw PCM frames both ways over one WebSocket, JSON
//! events and snapshots. Used by the tests and the benchmark, and a minimal example of an agent
//! in Rust.
//!
//! ```no_run
//! # async fn demo(addr: std::net::SocketAddr) -> anyhow::Result<()> {
//! use tessera_client::agent::{AgentClient, sine};
//! let agent = AgentClient::connect(addr, "room=demo&name=Bot&rate=16000").await?;
//! agent.play(sine(16_000, 700.0, 0.25, 1.0)); // one second of a 700 Hz tone, paced by the server
//! println!("the room at 700 Hz: {:.1} dBFS", agent.tone_dbfs(700.0, 500));
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::analysis::tone_dbfs;
use tessera_protocol::ServerMessage;

/// Frames of received audio kept for analysis (40 s).
const KEEP_FRAMES: usize = 40 * 50;

/// What an agent received.
#[derive(Debug, Default)]
pub struct AgentReceived {
    /// When each binary audio frame arrived.
    pub frame_arrivals: Vec<Instant>,
    /// The last [`KEEP_FRAMES`] frames of its mix-minus, with their arrival.
    pub frames: VecDeque<(Instant, Vec<i16>)>,
    /// Every JSON text frame, in order.
    pub messages: Vec<serde_json::Value>,
    /// Snapshots: each header and its image bytes.
    pub snapshots: Vec<(serde_json::Value, Vec<u8>)>,
    /// A snapshot header waiting for its binary frame.
    pending_snapshot: Option<serde_json::Value>,
    /// The socket closed.
    pub closed: bool,
    /// The server it joined (after any redirects).
    server: Option<SocketAddr>,
}

/// A connected agent. Dropping it closes the socket.
pub struct AgentClient {
    rate: u32,
    outgoing: mpsc::UnboundedSender<Message>,
    received: Arc<Mutex<AgentReceived>>,
    driver: JoinHandle<()>,
}

/// `seconds` of a sine of `hz` at `amplitude` (1.0 = full scale) as 20 ms frames at `rate`.
pub fn sine(rate: u32, hz: f64, amplitude: f64, seconds: f64) -> Vec<Vec<u8>> {
    let per_frame = (rate / 50) as usize;
    let frames = (seconds * 50.0).round() as usize;
    (0..frames)
        .map(|f| {
            (0..per_frame)
                .flat_map(|i| {
                    let t = (f * per_frame + i) as f64 / f64::from(rate);
                    let v = (amplitude * 32767.0 * (2.0 * std::f64::consts::PI * hz * t).sin()).round() as i16;
                    v.to_le_bytes()
                })
                .collect()
        })
        .collect()
}

impl AgentClient {
    /// Connects to `ws://{addr}/agent?{query}`, following a fleet's `redirect` to the room's
    /// node (at most [`crate::MAX_REDIRECTS`] times). A refused agent connects too: its first
    /// message is the `error`, then the socket closes.
    pub async fn connect(addr: SocketAddr, query: &str) -> anyhow::Result<Self> {
        let (mut server, mut hops) = (addr, 0);
        let (ws, first) = loop {
            let url = format!("ws://{server}/agent?{query}");
            // Nagle off, as every real-time client has it: with it on, a burst's first frame
            // went alone and the rest waited for the server's delayed ACK (40 ms), so the
            // server's pacer ran dry for two ticks after the first frame (`agent_pacing`).
            let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, None, true)
                .await
                .with_context(|| format!("connecting to {url}"))?;
            let first = ws.next().await;
            if let Some(Ok(Message::Text(text))) = &first
                && let Ok(ServerMessage::Redirect { url, .. }) = serde_json::from_str(text.as_str())
                && hops < crate::MAX_REDIRECTS
            {
                hops += 1;
                server = crate::redirect_target(&url).await?;
                continue;
            }
            break (ws, first);
        };
        let rate =
            query.split('&').find_map(|kv| kv.strip_prefix("rate=")).and_then(|r| r.parse().ok()).unwrap_or(16_000);
        let (mut sink, mut stream) = ws.split();
        let (outgoing, mut rx) = mpsc::unbounded_channel::<Message>();
        let received = Arc::new(Mutex::new(AgentReceived { server: Some(server), ..Default::default() }));
        let state = received.clone();
        let driver = tokio::spawn(async move {
            let mut open = state.lock().unwrap().on_frame(first);
            while open {
                tokio::select! {
                    msg = rx.recv() => match msg {
                        Some(msg) => if sink.send(msg).await.is_err() { break },
                        None => break,
                    },
                    frame = stream.next() => open = state.lock().unwrap().on_frame(frame),
                }
            }
            state.lock().unwrap().closed = true;
            let _ = sink.close().await;
        });
        Ok(Self { rate, outgoing, received, driver })
    }

    /// The server it joined (after any redirects).
    pub fn server(&self) -> SocketAddr {
        self.received(|r| r.server.expect("set at connect"))
    }

    /// Sends binary frames as fast as the socket takes them (the server paces them).
    pub fn play(&self, frames: Vec<Vec<u8>>) {
        for frame in frames {
            let _ = self.outgoing.send(Message::binary(frame));
        }
    }

    /// Sends one binary frame.
    pub fn send_binary(&self, data: Vec<u8>) {
        let _ = self.outgoing.send(Message::binary(data));
    }

    /// Sends a text frame.
    pub fn send_text(&self, text: impl Into<String>) {
        let _ = self.outgoing.send(Message::text(text.into()));
    }

    /// Sends a JSON message.
    pub fn send_json(&self, value: serde_json::Value) {
        self.send_text(value.to_string());
    }

    /// The sample rate of its audio.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Reads what it received.
    pub fn received<T>(&self, read: impl FnOnce(&AgentReceived) -> T) -> T {
        read(&self.received.lock().unwrap())
    }

    /// The last `ms` of its mix-minus.
    pub fn last_audio(&self, ms: u32) -> Vec<i16> {
        let r = self.received.lock().unwrap();
        let n = (ms as usize).div_ceil(20).min(r.frames.len());
        r.frames.iter().skip(r.frames.len() - n).flat_map(|(_, f)| f.iter().copied()).collect()
    }

    /// The level of `freq` in the last `ms` of its mix-minus (dBFS of a sine).
    pub fn tone_dbfs(&self, freq: f64, ms: u32) -> f64 {
        tone_dbfs(&self.last_audio(ms), f64::from(self.rate), freq)
    }

    /// Waits for a JSON message matching `want` (among all received so far); returns it.
    pub async fn wait_message(
        &self,
        timeout: Duration,
        want: impl Fn(&serde_json::Value) -> bool,
    ) -> anyhow::Result<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self.received(|r| r.messages.iter().find(|m| want(m)).cloned()) {
                return Ok(v);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "no such message within {timeout:?}; got {:?}",
                self.received(|r| r.messages.clone())
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls `cond` every 20 ms until it holds; fails after `timeout`.
    pub async fn wait_for(&self, timeout: Duration, cond: impl Fn(&Self) -> bool) -> anyhow::Result<Duration> {
        let start = Instant::now();
        while !cond(self) {
            anyhow::ensure!(start.elapsed() < timeout, "condition not met within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(start.elapsed())
    }
}

impl AgentReceived {
    /// Takes one frame from the socket; false once it closed.
    fn on_frame(&mut self, frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> bool {
        match frame {
            Some(Ok(Message::Binary(data))) => self.on_binary(&data),
            Some(Ok(Message::Text(text))) => {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(text.as_str()) {
                    self.on_json(v);
                }
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return false,
            Some(Ok(_)) => {}
        }
        true
    }

    fn on_binary(&mut self, data: &[u8]) {
        if let Some(header) = self.pending_snapshot.take() {
            self.snapshots.push((header, data.to_vec()));
            return;
        }
        let now = Instant::now();
        self.frame_arrivals.push(now);
        self.frames.push_back((now, data.chunks_exact(2).map(|p| i16::from_le_bytes([p[0], p[1]])).collect()));
        if self.frames.len() > KEEP_FRAMES {
            self.frames.pop_front();
        }
    }

    fn on_json(&mut self, v: serde_json::Value) {
        if v["type"] == "snapshot" {
            self.pending_snapshot = Some(v.clone());
        }
        self.messages.push(v);
    }
}

impl Drop for AgentClient {
    fn drop(&mut self) {
        self.driver.abort();
    }
}
