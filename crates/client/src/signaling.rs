//! A WebSocket connection speaking the signaling protocol, typed or raw.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use tessera_protocol::{ClientMessage, ServerMessage};

/// Redirects followed by one [`crate::TestPeer::join`] before it gives up (a loop between servers).
pub const MAX_REDIRECTS: usize = 3;

/// The address of a redirect's `http://host:port` URL (the test peer speaks plain `ws://`).
pub async fn redirect_target(url: &str) -> anyhow::Result<SocketAddr> {
    let authority = url
        .strip_prefix("http://")
        .with_context(|| format!("redirect to {url:?}: only http:// servers are supported"))?
        .split('/')
        .next()
        .unwrap_or_default();
    tokio::net::lookup_host(authority)
        .await
        .with_context(|| format!("resolving {authority:?}"))?
        .next()
        .with_context(|| format!("{authority:?} has no address"))
}

/// One signaling connection to a Tessera server.
pub struct Signaling {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Signaling {
    /// Connects to `ws://{addr}/ws`.
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        // Nagle off, as browsers have it (see `agent::AgentClient::connect`).
        let (ws, _) = tokio_tungstenite::connect_async_with_config(format!("ws://{addr}/ws"), None, true)
            .await
            .with_context(|| format!("connecting to ws://{addr}/ws"))?;
        Ok(Self { ws })
    }

    /// Sends a typed message.
    pub async fn send(&mut self, msg: &ClientMessage) -> anyhow::Result<()> {
        self.send_text(serde_json::to_string(msg)?).await
    }

    /// Sends any text frame, valid or not.
    pub async fn send_text(&mut self, text: impl Into<String>) -> anyhow::Result<()> {
        self.ws.send(Message::text(text.into())).await?;
        Ok(())
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.ws.send(Message::binary(bytes)).await?;
        Ok(())
    }

    /// The next server message; `None` once the server closed the connection.
    pub async fn recv(&mut self) -> anyhow::Result<Option<ServerMessage>> {
        while let Some(frame) = self.ws.next().await {
            match frame {
                Ok(Message::Text(text)) => {
                    return serde_json::from_str(text.as_str())
                        .with_context(|| format!("server sent an unknown message: {text}"))
                        .map(Some);
                }
                Ok(Message::Close(_)) => return Ok(None),
                Ok(_) => continue,
                Err(e) => bail!("websocket: {e}"),
            }
        }
        Ok(None)
    }

    /// Like [`Signaling::recv`], failing after `timeout`.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> anyhow::Result<Option<ServerMessage>> {
        tokio::time::timeout(timeout, self.recv()).await.context("timed out waiting for a server message")?
    }

    /// Splits into sink and stream halves.
    pub(crate) fn into_inner(self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        self.ws
    }
}
