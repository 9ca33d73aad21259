//! WebSocket glue: frames in → [`Session`] → steps carried out; room messages → frames out.
//! Only (de)serialisation, pings and channels live here; decisions are the session's.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tracing::debug;
use warp::ws::{Message, WebSocket};

use super::AppState;
use crate::protocol::{ErrorCode, ServerMessage};
use crate::room::{JoinError, RoomHandle};
use crate::signaling::{PeerCommand, Session, Step};

/// Keepalive: a ping this often; a connection silent (no frame, not even a pong) for
/// [`SILENCE_LIMIT`] is treated as gone, which catches hosts that vanish without a FIN.
const PING_EVERY: Duration = Duration::from_secs(5);
const SILENCE_LIMIT: Duration = Duration::from_secs(15);

fn frame(msg: &ServerMessage) -> Message {
    Message::text(serde_json::to_string(msg).expect("server messages serialize"))
}

/// Receives from the room's channel once joined; pends forever before.
async fn next_outbound(rx: &mut Option<mpsc::UnboundedReceiver<ServerMessage>>) -> Option<ServerMessage> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The size of a frame the transport refused for exceeding its limit, if that was the error.
fn oversized(e: &warp::Error) -> Option<usize> {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error};
    match std::error::Error::source(e)?.downcast_ref::<Error>()? {
        Error::Capacity(CapacityError::MessageTooLong { size, .. }) => Some(*size),
        _ => None,
    }
}

/// Serves one signaling connection until either side ends it.
pub async fn serve(socket: WebSocket, mut state: AppState) {
    let (mut sink, mut stream) = socket.split();
    let mut session = Session::new();
    let mut room: Option<RoomHandle> = None;
    let mut outbound = None;
    let mut left = false;
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut last_heard = tokio::time::Instant::now();
    loop {
        tokio::select! {
            incoming = stream.next() => {
                last_heard = tokio::time::Instant::now();
                let step = match incoming {
                    Some(Ok(m)) if m.is_text() => session.on_text(m.to_str().unwrap_or_default()),
                    Some(Ok(m)) if m.is_binary() => {
                        Step::Reply(ServerMessage::error(ErrorCode::BadJson, "binary frames are not accepted"))
                    }
                    Some(Ok(m)) if m.is_close() => break,
                    Some(Ok(_)) => continue, // ping/pong
                    Some(Err(e)) => {
                        debug!("websocket read error: {e}");
                        if let Some(Step::Reply(msg)) = oversized(&e).map(|n| session.on_oversized(n)) {
                            let _ = sink.send(frame(&msg)).await;
                        }
                        break;
                    }
                    None => break,
                };
                match step {
                    Step::Nothing => {}
                    Step::Reply(msg) => {
                        if sink.send(frame(&msg)).await.is_err() {
                            break;
                        }
                    }
                    Step::Join { room: id, name, role } => {
                        let (tx, rx) = mpsc::unbounded_channel();
                        match state.registry.join(&id, name, role, tx).await {
                            Ok((handle, participant)) => {
                                session.joined(id, participant);
                                room = Some(handle);
                                outbound = Some(rx);
                            }
                            Err(e) => {
                                session.join_failed();
                                let code = match e {
                                    JoinError::ShuttingDown => ErrorCode::ServerShutdown,
                                    JoinError::Closed | JoinError::Media(_) => ErrorCode::InternalError,
                                };
                                let _ = sink.send(frame(&ServerMessage::error(code, e.to_string()))).await;
                            }
                        }
                    }
                    Step::Room { participant, command, .. } => {
                        left |= matches!(command, PeerCommand::Leave);
                        if let Some(room) = &room {
                            room.peer(participant, command).await;
                        }
                    }
                }
            }
            msg = next_outbound(&mut outbound) => match msg {
                Some(msg) => {
                    if sink.send(frame(&msg)).await.is_err() {
                        break;
                    }
                }
                None => break, // the room let go of us: left, kicked, failed or shut down
            },
            _ = state.shutdown.changed() => {
                if room.is_none() {
                    let bye = ServerMessage::error(ErrorCode::ServerShutdown, "server is shutting down");
                    let _ = sink.send(frame(&bye)).await;
                    break;
                }
                // A joined session hears it from its room, which then drops the channel.
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    debug!("websocket silent for {SILENCE_LIMIT:?}; dropping it");
                    break;
                }
                if sink.send(Message::ping(Vec::new())).await.is_err() {
                    break;
                }
            }
        }
    }
    if let (Some(room), Some((_, participant)), false) = (&room, session.membership(), left) {
        room.gone(participant).await;
    }
    let _ = sink.send(Message::close()).await;
    let _ = sink.close().await;
}
