//! A real WebRTC peer that speaks Tessera's protocol: the test peer of every integration test,
//! the building block of load generation, and a starting point for bots.
//!
//! It joins a room over `/ws`, answers the server's offer with its own `webrtcbin`, trickles
//! ICE both ways, publishes a solid colour and a sine tone (publisher), and decodes what it
//! receives so a test can sample pixels ([`Frame::rgb_at`]) and measure tones
//! ([`tone_dbfs`]).
//!
//! It is also **the way to write a Rust bot that joins over WebRTC** (publishing video, seeing
//! the encoded composite): see `examples/bot.rs` (`cargo run -p tessera-client --example bot`).
//! A bot that needs only decoded audio and events uses [`agent::AgentClient`] on `/agent`
//! instead: no WebRTC at all (docs/agents.md).
//!
//! ```no_run
//! # async fn demo(addr: std::net::SocketAddr) -> anyhow::Result<()> {
//! use tessera_client::{PeerOptions, TestPeer};
//! let peer = TestPeer::join(addr, PeerOptions::publisher("room", "red", [255, 0, 0], 440.0)).await?;
//! peer.wait_for(std::time::Duration::from_secs(10), |p| p.received().frames() > 30).await?;
//! let frame = peer.received().latest_frame().unwrap();
//! println!("{:?}", frame.rgb_at(320, 180, 8));
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod agent;
mod analysis;
mod clip;
mod constraints;
pub mod latency;
mod media;
mod options;
mod received;
pub mod rest;
mod rtp;
mod signaling;
pub mod sources;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

pub use analysis::{Frame, close_to, tone_dbfs, tone_residual_db, yuv_to_rgb};
pub use clip::{ClipLadder, EncodedClip};
pub use media::{JITTER_MS, PeerMedia, PromiseReply, promise};
pub use options::{AudioSource, PeerOptions, VideoSource, VideoSpec};
pub use received::{Onset, Received, RtpCounts};
pub use rtp::{count_chain, is_vp8_keyframe_start};
pub use signaling::{MAX_REDIRECTS, Signaling, redirect_target};

use tessera_protocol::ParticipantId;
use tessera_protocol::{ClientMessage, ParticipantInfo, ServerMessage};
pub use tessera_webrtc::codecs::Codec;

/// A joined peer. Dropping it closes its socket and stops its pipeline.
pub struct TestPeer {
    id: ParticipantId,
    /// The server it joined (after any redirects).
    server: SocketAddr,
    join_sent: Instant,
    others_at_join: Vec<ParticipantInfo>,
    media: Arc<PeerMedia>,
    messages: mpsc::UnboundedReceiver<ServerMessage>,
    outgoing: mpsc::UnboundedSender<ClientMessage>,
    driver: JoinHandle<()>,
}

impl TestPeer {
    /// Connects to the server at `addr`, joins and starts negotiating. Returns once `joined`
    /// arrived; media follows asynchronously. A `redirect` (the room runs on another server of
    /// a fleet) is followed: the same join on the server it names, at most [`MAX_REDIRECTS`]
    /// times. `join_sent_at` is the first `join`'s, so a redirect's cost shows in join times.
    pub async fn join(addr: SocketAddr, options: PeerOptions) -> anyhow::Result<Self> {
        let mut server = addr;
        let mut join_sent = None;
        let mut hops = 0;
        let (sig, id, others_at_join) = loop {
            let mut sig = Signaling::connect(server).await?;
            sig.send(&ClientMessage::Join {
                room: options.room.clone(),
                name: options.name.clone(),
                role: options.role,
                token: options.token.clone(),
            })
            .await?;
            join_sent.get_or_insert_with(Instant::now);
            match sig.recv_timeout(Duration::from_secs(10)).await? {
                Some(ServerMessage::Joined { participant_id, participants, .. }) => {
                    break (sig, participant_id, participants);
                }
                Some(ServerMessage::Redirect { url, .. }) if hops < MAX_REDIRECTS => {
                    hops += 1;
                    server = redirect_target(&url).await?;
                }
                Some(ServerMessage::Error { code, message }) => bail!("join refused: {code:?}: {message}"),
                other => bail!("expected joined, got {other:?}"),
            }
        };
        let join_sent = join_sent.expect("a join was sent");
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (msg_tx, messages) = mpsc::unbounded_channel();
        let media = Arc::new(PeerMedia::new(options, out_tx.clone())?);
        let driver = tokio::spawn(drive(sig, out_rx, msg_tx, media.clone(), out_tx.clone()));
        Ok(Self { id, server, join_sent, others_at_join, media, messages, outgoing: out_tx, driver })
    }

    /// The server this peer joined, after any redirects.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Our participant id.
    pub fn id(&self) -> ParticipantId {
        self.id
    }

    /// When our `join` message was written to the socket.
    pub fn join_sent_at(&self) -> Instant {
        self.join_sent
    }

    /// Who was in the room when we joined.
    pub fn others_at_join(&self) -> &[ParticipantInfo] {
        &self.others_at_join
    }

    /// What we have received.
    pub fn received(&self) -> &Received {
        &self.media.received
    }

    /// Our pipeline.
    pub fn media(&self) -> &PeerMedia {
        &self.media
    }

    /// Stops publishing video (the source stops; the connection stays), as a frozen or
    /// switched-off camera would.
    pub fn stop_video(&self) {
        self.media.stop_video();
    }

    /// Sends the server a keyframe request (RTCP FIR when `fir`, else PLI) for the composite.
    pub fn request_keyframe(&self, fir: bool) -> bool {
        self.media.request_keyframe(fir)
    }

    /// The level of `freq` Hz in the last `ms` of received audio, in dBFS.
    pub fn tone_dbfs(&self, freq: f64, ms: u32) -> f64 {
        tone_dbfs(&self.received().last_audio(ms), 48_000.0, freq)
    }

    /// Polls `cond` every 20 ms until it holds; fails after `timeout`.
    pub async fn wait_for(&self, timeout: Duration, cond: impl Fn(&Self) -> bool) -> anyhow::Result<Duration> {
        let start = Instant::now();
        while !cond(self) {
            if start.elapsed() > timeout {
                bail!(
                    "condition not met within {timeout:?} (frames {}, audio samples {})",
                    self.received().frames(),
                    self.received().audio_samples()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(start.elapsed())
    }

    /// The next non-negotiation message from the server (negotiation is handled internally),
    /// or `None` after `timeout` or when the connection closed.
    pub async fn next_message(&mut self, timeout: Duration) -> Option<ServerMessage> {
        tokio::time::timeout(timeout, self.messages.recv()).await.ok().flatten()
    }

    /// Waits for a message matching `pred`, discarding others.
    pub async fn wait_message(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&ServerMessage) -> bool,
    ) -> anyhow::Result<ServerMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_message(left).await {
                Some(m) if pred(&m) => return Ok(m),
                Some(_) => continue,
                None => bail!("no matching message within {timeout:?}"),
            }
        }
    }

    /// Sends any client message (e.g. `mute`, `setLayout`).
    pub fn send(&self, msg: ClientMessage) -> anyhow::Result<()> {
        self.outgoing.send(msg).context("connection closed")
    }

    /// Closes the signaling connection abruptly (no `leave`, no close frame) while the media
    /// connection goes on, as when a client's WebSocket dies but its network path does not.
    pub fn drop_socket(&self) {
        self.driver.abort();
    }

    /// Sends `leave` and waits for the server to close the connection.
    pub async fn leave(mut self) -> anyhow::Result<()> {
        self.outgoing.send(ClientMessage::Leave).context("connection already closed")?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.next_message(deadline.saturating_duration_since(Instant::now())).await.is_some() {}
        tokio::time::timeout(Duration::from_secs(5), &mut self.driver)
            .await
            .context("server kept the socket open")?
            .ok();
        let mut torn_down = self.media.torn_down();
        drop(self);
        tokio::time::timeout(Duration::from_secs(5), torn_down.wait_for(|done| *done))
            .await
            .context("the test peer's pipeline did not stop within 5 s")?
            .context("teardown vanished")?;
        Ok(())
    }
}

impl Drop for TestPeer {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Runs the signaling connection: negotiation internally, everything else to `messages`.
async fn drive(
    sig: Signaling,
    mut outgoing: mpsc::UnboundedReceiver<ClientMessage>,
    messages: mpsc::UnboundedSender<ServerMessage>,
    media: Arc<PeerMedia>,
    answers: mpsc::UnboundedSender<ClientMessage>,
) {
    let (mut sink, mut stream) = sig.into_inner().split();
    loop {
        tokio::select! {
            frame = stream.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let Ok(msg) = serde_json::from_str::<ServerMessage>(text.as_str()) else {
                    tracing::error!("test peer got an unknown message: {text}");
                    continue;
                };
                match msg {
                    ServerMessage::Offer { sdp } => match media.answer(&sdp).await {
                        Ok(answer) => {
                            let sdp = answer.sdp().as_text().unwrap_or_default();
                            tracing::debug!(%sdp, "test peer answer");
                            let _ = answers.send(ClientMessage::Answer { sdp });
                            media.set_local(&answer);
                            media.received.mark_answered();
                        }
                        Err(e) => tracing::error!("test peer cannot answer: {e:#}"),
                    },
                    ServerMessage::Ice { candidate, sdp_m_line_index, .. } => media.add_candidate(sdp_m_line_index, &candidate),
                    ServerMessage::VideoConstraints(c) => {
                        media.follow(c);
                        let _ = messages.send(ServerMessage::VideoConstraints(c));
                    }
                    other => {
                        let _ = messages.send(other);
                    }
                }
            }
            Some(out) = outgoing.recv() => {
                let text = serde_json::to_string(&out).expect("client messages serialize");
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        }
    }
}
