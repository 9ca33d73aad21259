//! `GET /agent`: an AI agent or bot in a room over one WebSocket (`docs/agents.md`).
//!
//! Socket glue only: frames go to an [`AgentSession`] and its [`AgentStep`]s are carried out
//! here. Audio frames never pass the room's thread: the agent's voice is queued in a [`Pacer`]
//! and pushed into its branch every 20 ms from this task, and its mix-minus comes from its
//! branch's appsink straight to the socket.

use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tracing::{debug, info};
use warp::ws::{Message, WebSocket};

use super::AppState;
use super::ws::{JOIN_LIMIT, PING_EVERY, SILENCE_LIMIT, frame, spawn_writer, stopping};
use crate::access::ConnectionGuard;
use crate::agent::{AgentParams, AgentQuery, AgentSession, AgentStep, MAX_IMAGE_BYTES, Offered, Pacer};
use crate::media::{AgentIo, Snapshots};
use crate::protocol::agent::FRAME_MS;
use crate::protocol::{ErrorCode, Role, ServerMessage};
use crate::room::RoomHandle;
use crate::signaling::PeerCommand;

/// The largest frame read from an agent (an image and some slack).
pub(super) const TRANSPORT_LIMIT: usize = MAX_IMAGE_BYTES + 64 * 1024;

/// An agent in its room.
struct Agent {
    room: RoomHandle,
    id: crate::ids::ParticipantId,
    io: AgentIo,
    outbound: mpsc::UnboundedReceiver<ServerMessage>,
    /// JPEGs of the composite on their way to the socket.
    pictures: (mpsc::Sender<Bytes>, mpsc::Receiver<Bytes>),
    /// The composite's JPEGs while the agent asks for them, and when it last did.
    snapshots: Option<(Snapshots, std::time::Instant)>,
    /// Frames to the socket, for replies from tasks of its own.
    writer: Option<mpsc::Sender<Message>>,
}

/// An agent that asked for no snapshot for this long lets go of them (its room then stops
/// encoding JPEGs unless another agent looks).
const SNAPSHOT_IDLE: std::time::Duration = std::time::Duration::from_secs(5);

impl Agent {
    /// Sends the next JPEG of the composite to the socket, from a task of its own (the audio
    /// keeps its pace meanwhile).
    async fn snapshot(&mut self) -> Result<(), ServerMessage> {
        let rx = match &mut self.snapshots {
            Some((rx, asked)) => {
                *asked = std::time::Instant::now();
                rx.clone()
            }
            None => {
                let rx = self.room.snapshots().await.ok_or_else(no_video)?;
                self.snapshots = Some((rx.clone(), std::time::Instant::now()));
                rx
            }
        };
        tokio::spawn(next_picture(rx, self.pictures.0.clone()));
        Ok(())
    }

    /// `frames=N`: a JPEG every 1/N s for as long as the agent stays.
    async fn stream_snapshots(&mut self, per_second: u32) -> Result<(), ServerMessage> {
        let rx = self.room.snapshots().await.ok_or_else(no_video)?;
        let out = self.pictures.0.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_millis(1000 / u64::from(per_second)));
            loop {
                every.tick().await;
                if !next_picture(rx.clone(), out.clone()).await {
                    break;
                }
            }
        });
        Ok(())
    }
}

fn no_video() -> ServerMessage {
    ServerMessage::error(ErrorCode::InvalidMessage, "this room mixes no video: there is nothing to see")
}

/// Waits (at most 2 s) for the next JPEG and hands it on; false once nobody takes them.
async fn next_picture(mut rx: Snapshots, out: mpsc::Sender<Bytes>) -> bool {
    rx.borrow_and_update();
    let fresh = tokio::time::timeout(std::time::Duration::from_secs(2), rx.changed()).await;
    let jpeg = match fresh {
        Ok(Ok(())) => rx.borrow().clone(),
        _ => None,
    };
    match jpeg {
        Some(jpeg) => out.send(jpeg).await.is_ok(),
        None => !out.is_closed(),
    }
}

/// Checks the query and the access, then joins the room as an agent; the error is what the
/// agent is told before the socket closes.
async fn join(
    state: &AppState,
    guard: &ConnectionGuard,
    query: AgentQuery,
) -> Result<(AgentParams, Agent), ServerMessage> {
    let refuse = |(code, why): (ErrorCode, String)| ServerMessage::error(code, why);
    let params = crate::agent::params(query).map_err(refuse)?;
    let admission =
        super::ws::admit(state, guard, &params.room, Role::Agent, params.token.as_deref()).map_err(refuse)?;
    let name = admission.name.unwrap_or_else(|| params.name.clone());
    let (tx, outbound) = mpsc::unbounded_channel();
    let session = crate::media::Session::Agent { rate: params.rate };
    let joining = state.registry.join(&params.room, name, Role::Agent, false, tx, session);
    let joined = tokio::time::timeout(JOIN_LIMIT, joining).await.unwrap_or_else(|_| {
        Err(crate::room::JoinError::Media(format!("the room did not answer within {JOIN_LIMIT:?}")))
    });
    match joined {
        Ok((room, joined)) => {
            let io = joined.agent.ok_or_else(|| ServerMessage::error(ErrorCode::InternalError, "no agent media"))?;
            let pictures = mpsc::channel(2);
            Ok((params, Agent { room, id: joined.id, io, outbound, pictures, snapshots: None, writer: None }))
        }
        // The fleet runs the room on another node: the agent reconnects there (docs/agents.md).
        Err(crate::room::JoinError::Elsewhere(url)) => Err(ServerMessage::Redirect { url, room: params.room }),
        Err(e) => Err(ServerMessage::error(e.code(), e.to_string())),
    }
}

/// Serves one agent until either side ends it.
pub(super) async fn serve(socket: WebSocket, state: AppState, guard: ConnectionGuard, query: AgentQuery) {
    let (sink, mut stream) = socket.split();
    let writer = spawn_writer(sink);
    let (params, mut agent) = match join(&state, &guard, query).await {
        Ok(joined) => joined,
        Err(msg) => {
            debug!(?msg, "agent refused");
            let _ = writer.try_send(frame(&msg));
            let _ = writer.try_send(Message::close());
            return;
        }
    };
    info!(room = %params.room, participant = %agent.id, rate = params.rate, "agent joined");
    agent.writer = Some(writer.clone());
    let mut session = AgentSession::new(params.rate);
    let mut pacer = Pacer::default();
    let mut play = tokio::time::interval(std::time::Duration::from_millis(u64::from(FRAME_MS)));
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut shutdown = state.shutdown.clone();
    let mut last_heard = tokio::time::Instant::now();
    let send = |msg: Message| writer.try_send(msg).is_ok();
    if params.frames > 0
        && let Err(msg) = agent.stream_snapshots(params.frames).await
    {
        send(frame(&msg));
    }
    loop {
        let keep_going = tokio::select! {
            incoming = stream.next() => {
                last_heard = tokio::time::Instant::now();
                let step = match incoming {
                    Some(Ok(m)) if m.is_binary() => session.on_binary(m.into_bytes(), Instant::now()),
                    Some(Ok(m)) if m.is_text() => session.on_text(m.to_str().unwrap_or_default(), Instant::now()),
                    Some(Ok(m)) if m.is_close() => break,
                    Some(Ok(_)) => continue, // ping/pong
                    Some(Err(e)) => {
                        debug!("agent socket read error: {e}");
                        break;
                    }
                    None => break,
                };
                carry_out(step, &mut agent, &mut pacer, &mut session, &send).await
            }
            msg = agent.outbound.recv() => match msg {
                Some(msg) => send(frame(&msg)),
                None => false, // the room let go of us: left, kicked, failed or shut down
            },
            Some(pcm) = agent.io.ear.recv() => {
                // A full write queue costs the agent this frame, not its connection.
                let _ = writer.try_send(Message::binary(pcm));
                true
            }
            _ = play.tick() => {
                match pacer.next() {
                    Some(pcm) => drop(agent.io.voice.push(&pcm)),
                    None => agent.io.voice.rest(),
                }
                true
            }
            Some(jpeg) = agent.pictures.1.recv() => {
                // Header and picture back to back: nothing else is queued between them.
                let header = serde_json::to_string(&crate::agent::snapshot_header(&jpeg)).expect("serializes");
                send(Message::text(header)) && send(Message::binary(jpeg))
            }
            _ = stopping(&mut shutdown) => true, // the room tells us, then lets go
            _ = ping.tick() => {
                if agent.snapshots.as_ref().is_some_and(|(_, asked)| asked.elapsed() > SNAPSHOT_IDLE) {
                    agent.snapshots = None;
                }
                last_heard.elapsed() <= SILENCE_LIMIT && send(Message::ping(Vec::new()))
            }
        };
        if !keep_going {
            break;
        }
    }
    agent.room.gone(agent.id).await;
    let _ = writer.try_send(Message::close());
    info!(room = %params.room, participant = %agent.id, "agent gone");
}

/// Carries out one step; false ends the connection.
async fn carry_out(
    step: AgentStep,
    agent: &mut Agent,
    pacer: &mut Pacer,
    session: &mut AgentSession,
    send: &impl Fn(Message) -> bool,
) -> bool {
    match step {
        AgentStep::Nothing => true,
        AgentStep::Reply(msg) => send(frame(&msg)),
        AgentStep::Audio(pcm) => match pacer.offer(pcm) {
            Offered::Queued | Offered::Refused { first: false } => true,
            Offered::Refused { first: true } => {
                let why = format!(
                    "audio more than {} s ahead of real time; frames are dropped until the queue has room",
                    crate::agent::MAX_QUEUED_AUDIO.as_secs()
                );
                match session.refuse(ErrorCode::AgentAudioOverflow, why, Instant::now()) {
                    AgentStep::Reply(msg) => send(frame(&msg)),
                    _ => true,
                }
            }
        },
        AgentStep::ClearAudio => {
            pacer.clear();
            true
        }
        AgentStep::Room(command) => {
            agent.room.peer(agent.id, command).await;
            true
        }
        AgentStep::Snapshot => match agent.snapshot().await {
            Ok(()) => true,
            Err(msg) => send(frame(&msg)),
        },
        AgentStep::Image(bytes) => {
            // Decoded on a blocking thread, off the room's thread and this task (the voice keeps
            // its pace); the room only swaps the picture in.
            let (room, id, writer) = (agent.room.clone(), agent.id, agent.writer.clone());
            tokio::spawn(async move {
                let decoding = tokio::task::spawn_blocking(move || crate::media::decode_image(&bytes));
                let why = match tokio::time::timeout(crate::media::DECODE_LIMIT, decoding).await {
                    Ok(Ok(Ok(image))) => return room.tile_image(id, std::sync::Arc::new(image)).await,
                    Ok(Ok(Err(why))) => why,
                    _ => "the picture did not decode in time".to_owned(),
                };
                if let Some(writer) = writer {
                    let _ = writer.try_send(frame(&ServerMessage::error(ErrorCode::InvalidImage, why)));
                }
            });
            true
        }
        AgentStep::Leave => {
            agent.room.peer(agent.id, PeerCommand::Leave).await;
            true
        }
    }
}
