//! WebSocket glue: frames in → [`Session`] → steps carried out; room messages → frames out.
//! Only (de)serialisation, pings and channels live here; decisions are the session's.

use std::time::{Duration, Instant};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tracing::{debug, warn};
use warp::ws::{Message, WebSocket};

use super::AppState;
use crate::access::{self, ConnectionGuard};
use crate::protocol::{ErrorCode, ServerMessage};
use crate::room::RoomHandle;
use crate::signaling::{Session, Step};

/// Keepalive: a ping this often; a connection silent (no frame, not even a pong) for
/// [`SILENCE_LIMIT`] is treated as gone, which catches hosts that vanish without a FIN.
pub(super) const PING_EVERY: Duration = Duration::from_secs(5);
pub(super) const SILENCE_LIMIT: Duration = Duration::from_secs(15);
/// Frames waiting for a slow client; a client that lets this many pile up, or does not take
/// one within [`WRITE_TIMEOUT`], is not reading and is dropped.
const WRITE_QUEUE: usize = 256;
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection refused for an oversized frame stays open after its error and close
/// frames. The rest of that frame sits unread in the server's receive buffer, and closing a
/// socket with unread data sends a TCP reset, which can reach the client before it has read
/// the error (seen in CI: "Connection reset by peer" instead of `message_too_large`).
const OVERSIZED_LINGER: Duration = Duration::from_secs(1);
/// How long a connection waits after its close frame for the client's (the closing handshake,
/// RFC 6455 section 7.1.1). A socket dropped while the client's last frames are still arriving
/// answers them with a TCP reset, which the client sees as a broken connection: Firefox logged
/// "The connection to ws://… was interrupted" when the room let go of a participant (its
/// `webrtcbin` saw the page close its peer connection) while the page's own close was on its way.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Refused inputs logged per second at most: a flood of bad input must not become a flood of
/// log lines (disk, and the CPU of formatting them).
const LOGGED_PER_SECOND: u32 = 20;

/// How long a join may take (building the participant's media in its room) before it fails.
pub(super) const JOIN_LIMIT: Duration = Duration::from_secs(10);

/// Refusals logged in the current second, and those left unlogged since the last logged one.
struct LogBudget {
    second: u64,
    logged: u32,
    unlogged: u64,
}

/// Whether one more refusal may be logged now; `Some(n)` with the refusals left unlogged since
/// the last one that was.
fn log_budget() -> Option<u64> {
    static BUDGET: std::sync::Mutex<LogBudget> = std::sync::Mutex::new(LogBudget { second: 0, logged: 0, unlogged: 0 });
    let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut budget = BUDGET.lock().unwrap();
    if budget.second != second {
        (budget.second, budget.logged) = (second, 0);
    }
    if budget.logged >= LOGGED_PER_SECOND {
        budget.unlogged += 1;
        return None;
    }
    budget.logged += 1;
    Some(std::mem::take(&mut budget.unlogged))
}

/// Every message to a client passes here: counted, and errors counted by code.
pub(super) fn frame(msg: &ServerMessage) -> Message {
    crate::metrics::signaling("out");
    if let ServerMessage::Error { code, .. } = msg {
        crate::metrics::error_sent(*code);
    }
    Message::text(serde_json::to_string(msg).expect("server messages serialize"))
}

/// The size of a frame the transport refused for exceeding its limit, if that was the error.
fn oversized(e: &warp::Error) -> Option<usize> {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error};
    match std::error::Error::source(e)?.downcast_ref::<Error>()? {
        Error::Capacity(CapacityError::MessageTooLong { size, .. }) => Some(*size),
        _ => None,
    }
}

/// Writes frames from its own task, so a client that stops reading never blocks the session.
pub(super) fn spawn_writer(mut sink: SplitSink<WebSocket, Message>) -> mpsc::Sender<Message> {
    let (tx, mut rx) = mpsc::channel::<Message>(WRITE_QUEUE);
    tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let closing = msg.is_close();
            match tokio::time::timeout(WRITE_TIMEOUT, sink.send(msg)).await {
                Ok(Ok(())) if !closing => {}
                Ok(Ok(())) => break,
                Ok(Err(e)) => {
                    debug!("websocket write failed: {e}");
                    break;
                }
                Err(_) => {
                    debug!("client took no frame for {WRITE_TIMEOUT:?}; dropping it");
                    break;
                }
            }
        }
        let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.close()).await;
    });
    tx
}

/// One signaling connection's state.
struct Connection {
    /// The signaling handler's view of this connection.
    session: Session,
    /// The room, once joined.
    room: Option<RoomHandle>,
    /// Messages from the room, once joined.
    outbound: Option<mpsc::UnboundedReceiver<ServerMessage>>,
    /// Frames to the client.
    writer: mpsc::Sender<Message>,
    /// Shared server state.
    state: AppState,
    /// The client sent more than the transport reads: linger before closing.
    oversized: bool,
    /// This connection's slot among its address's.
    guard: ConnectionGuard,
}

impl Connection {
    /// Queues a frame; false when the client is gone or not reading.
    fn send(&self, msg: Message) -> bool {
        self.writer.try_send(msg).is_ok()
    }

    /// Sends a reply to this client; an error reply is also logged, with the room and
    /// participant when the socket has joined (one line per refused input, at most
    /// [`LOGGED_PER_SECOND`] a second server-wide).
    fn reply(&self, msg: ServerMessage) -> bool {
        if let ServerMessage::Error { code, message } = &msg
            && let Some(unlogged) = log_budget()
        {
            if unlogged > 0 {
                warn!("{unlogged} more refused inputs were not logged (over {LOGGED_PER_SECOND} a second)");
            }
            match self.session.membership() {
                Some((room, participant)) => {
                    warn!(%room, %participant, ?code, "refused client input: {message}")
                }
                None => warn!(?code, "refused client input (not joined): {message}"),
            }
        }
        self.send(frame(&msg))
    }

    /// Handles one read from the socket; false ends the connection.
    async fn on_incoming(&mut self, incoming: Option<Result<Message, warp::Error>>) -> bool {
        if matches!(&incoming, Some(Ok(m)) if m.is_text() || m.is_binary()) {
            crate::metrics::signaling("in");
        }
        let step = match incoming {
            Some(Ok(m)) if m.is_text() => self.session.on_text(m.to_str().unwrap_or_default(), Instant::now()),
            Some(Ok(m)) if m.is_binary() => self.session.on_binary(m.as_bytes().len(), Instant::now()),
            Some(Ok(m)) if m.is_close() => return false,
            Some(Ok(_)) => return true, // ping/pong
            Some(Err(e)) => {
                debug!("websocket read error: {e}");
                if let Some(Step::Reply(msg)) = oversized(&e).map(|n| self.session.on_oversized(n)) {
                    self.oversized = true;
                    self.reply(msg);
                }
                return false;
            }
            None => return false,
        };
        match step {
            Step::Nothing => true,
            Step::Reply(msg) => self.reply(msg),
            Step::Close(msg) => {
                self.reply(msg);
                false
            }
            Step::Join { room, name, role, token } => {
                let admission = match self.admit(&room, role, token.as_deref()) {
                    Ok(admission) => admission,
                    Err((code, why)) => {
                        let msg = self.session.join_failed(code, why);
                        return self.reply(msg);
                    }
                };
                let name = admission.name.unwrap_or(name);
                let (tx, rx) = mpsc::unbounded_channel();
                let join = self.state.registry.join(
                    &room,
                    name,
                    role,
                    admission.may_set_layout,
                    tx,
                    crate::media::Session::Ws,
                );
                // A room that does not answer must not pin this socket (and its address's slot).
                let joined = tokio::time::timeout(JOIN_LIMIT, join).await.unwrap_or_else(|_| {
                    Err(crate::room::JoinError::Media(format!("the room did not answer within {JOIN_LIMIT:?}")))
                });
                match joined {
                    Ok((handle, joined)) => {
                        self.session.joined(room, joined.id);
                        self.room = Some(handle);
                        self.outbound = Some(rx);
                        true
                    }
                    Err(crate::room::JoinError::Elsewhere(url)) => {
                        // The client follows it with a new connection; this one is done.
                        debug!(%room, %url, "join redirected to the room's node");
                        self.reply(ServerMessage::Redirect { url, room });
                        false
                    }
                    Err(e) => {
                        let msg = self.session.join_failed(e.code(), e.to_string());
                        self.reply(msg)
                    }
                }
            }
            Step::Room { participant, command } => {
                if let Some(room) = &self.room {
                    room.peer(participant, command).await;
                }
                true
            }
        }
    }

    /// See [`admit`].
    fn admit(
        &self,
        room: &crate::ids::RoomId,
        role: crate::protocol::Role,
        token: Option<&str>,
    ) -> Result<access::Admission, (ErrorCode, String)> {
        admit(&self.state, &self.guard, room, role, token)
    }

    /// Receives from the room's channel once joined; pends forever before.
    async fn next_outbound(&mut self) -> Option<ServerMessage> {
        match &mut self.outbound {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }
}

/// The checks a join passes before anything is built for it: the address's join budget,
/// then the token. Costs no GStreamer object and no room when it refuses.
pub(super) fn admit(
    state: &AppState,
    guard: &ConnectionGuard,
    room: &crate::ids::RoomId,
    role: crate::protocol::Role,
    token: Option<&str>,
) -> Result<access::Admission, (ErrorCode, String)> {
    let guards = &state.guards;
    if !guards.addresses.join_attempt(guard.ip(), Instant::now()) {
        let max = guards.limits.joins_per_minute;
        return Err((ErrorCode::RateLimited, format!("at most {max} joins per minute from one address")));
    }
    let mut admission =
        access::admit(&guards.keys, guards.dev, token, room.as_str(), role).map_err(|e| (e.code(), e.to_string()))?;
    if let Some(name) = admission.name.take() {
        // A token's name passes the same check as a typed one.
        let name = crate::ids::validate_name(&name)
            .map_err(|_| (ErrorCode::InvalidName, "the token's name is not a valid display name".to_owned()))?;
        admission.name = Some(name);
    }
    Ok(admission)
}

/// Completes when the server starts shutting down (or its state went away).
pub(super) async fn stopping(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Serves one signaling connection until either side ends it.
pub async fn serve(socket: WebSocket, state: AppState, guard: ConnectionGuard) {
    let (sink, mut stream) = socket.split();
    let mut shutdown = state.shutdown.clone();
    let join_deadline = tokio::time::Instant::now() + state.guards.limits.join_timeout();
    let mut conn = Connection {
        session: Session::new(state.guards.limits.max_candidates),
        room: None,
        outbound: None,
        writer: spawn_writer(sink),
        state,
        oversized: false,
        guard,
    };
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut last_heard = tokio::time::Instant::now();
    let mut shutdown_seen = false;
    loop {
        let keep_going = tokio::select! {
            incoming = stream.next() => {
                last_heard = tokio::time::Instant::now();
                conn.on_incoming(incoming).await
            }
            msg = conn.next_outbound() => match msg {
                Some(msg) => conn.send(frame(&msg)),
                None => false, // the room let go of us: left, kicked, failed or shut down
            },
            _ = stopping(&mut shutdown), if !shutdown_seen => {
                shutdown_seen = true;
                // A joined session hears it from its room, which then drops the channel.
                conn.room.is_some()
                    || !conn.send(frame(&ServerMessage::error(ErrorCode::ServerShutdown, "server is shutting down")))
            }
            _ = tokio::time::sleep_until(join_deadline), if conn.room.is_none() => {
                let secs = conn.state.guards.limits.join_timeout;
                conn.reply(ServerMessage::error(ErrorCode::JoinTimeout, format!("no join within {secs} s")));
                false
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    debug!("websocket silent for {SILENCE_LIMIT:?}; dropping it");
                    false
                } else {
                    conn.send(Message::ping(Vec::new()))
                }
            }
        };
        if !keep_going {
            break;
        }
    }
    if let (Some(room), Some((_, participant))) = (&conn.room, conn.session.membership()) {
        room.gone(participant).await;
    }
    conn.send(Message::close());
    if conn.oversized {
        // The read half keeps the socket open while the writer delivers the error and close.
        tokio::time::sleep(OVERSIZED_LINGER).await;
    } else {
        // Frames the client sent meanwhile are read and dropped, up to its close or its end.
        let handshake = async { while stream.next().await.is_some_and(|m| m.is_ok_and(|m| !m.is_close())) {} };
        let _ = tokio::time::timeout(CLOSE_LINGER, handshake).await;
    }
    drop(stream);
}
