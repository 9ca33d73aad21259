//! The room task: one thread per room running a current-thread runtime, so a slow GStreamer
//! state change in one room never stalls another room or the WebSocket tasks.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use super::{JoinError, Outbound, RoomCommand, RoomHandle};
use crate::config::MediaConfig;
use crate::ids::{ParticipantId, RoomId};
use crate::media::{MediaEvent, Notice, RoomMedia};
use crate::protocol::{ErrorCode, ParticipantInfo, Role, ServerMessage};
use crate::registry::Registry;
use crate::signaling::PeerCommand;

/// A participant as the room task knows it.
struct Participant {
    /// Id, name and role.
    info: ParticipantInfo,
    /// Their message channel.
    outbound: Outbound,
    /// When they joined.
    _joined_at: Instant,
}

struct Room {
    id: RoomId,
    media: RoomMedia,
    /// Keyed by id, which grows with join order.
    participants: BTreeMap<ParticipantId, Participant>,
}

/// Starts a room task for `id` and returns its handle.
pub(crate) fn spawn(id: RoomId, config: Arc<MediaConfig>, registry: Weak<Registry>) -> std::io::Result<RoomHandle> {
    static UID: AtomicU64 = AtomicU64::new(1);
    let uid = UID.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(256);
    let handle = RoomHandle { id: id.clone(), uid, tx };
    std::thread::Builder::new().name(format!("room-{id}")).spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("room runtime");
        rt.block_on(run(id, uid, config, rx, registry));
    })?;
    Ok(handle)
}

async fn run(
    id: RoomId,
    uid: u64,
    config: Arc<MediaConfig>,
    mut rx: mpsc::Receiver<RoomCommand>,
    registry: Weak<Registry>,
) {
    let (events_tx, mut events) = mpsc::unbounded_channel::<MediaEvent>();
    let mut shutdown_reply = None;
    match RoomMedia::new(id.as_str(), config, events_tx) {
        Ok(media) => {
            info!(room = %id, "room created");
            let mut room = Room { id: id.clone(), media, participants: BTreeMap::new() };
            shutdown_reply = room.run(&mut rx, &mut events).await;
        }
        Err(e) => error!(room = %id, "cannot build room: {e}"),
    }
    // Refuse what is still queued; joins are retried by the registry with a new room.
    rx.close();
    if let Some(registry) = registry.upgrade() {
        registry.forget(&id, uid);
    }
    while let Ok(cmd) = rx.try_recv() {
        match cmd {
            RoomCommand::Join { reply, .. } => {
                let _ = reply.send(Err(JoinError::Closed));
            }
            RoomCommand::Shutdown { reply } => {
                let _ = reply.send(());
            }
            RoomCommand::Peer { .. } | RoomCommand::Gone { .. } => {}
        }
    }
    info!(room = %id, "room closed");
    if let Some(reply) = shutdown_reply {
        let _ = reply.send(());
    }
}

impl Room {
    /// Runs until the room empties or is shut down; returns the shutdown's reply channel, to be
    /// answered once the room is fully closed.
    async fn run(
        &mut self,
        rx: &mut mpsc::Receiver<RoomCommand>,
        events: &mut mpsc::UnboundedReceiver<MediaEvent>,
    ) -> Option<tokio::sync::oneshot::Sender<()>> {
        let mut bus = self.media.bus().stream();
        // The room ends when it empties, but not before its first join was handled.
        let mut seen_join = false;
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(RoomCommand::Shutdown { reply }) => {
                        self.shutdown();
                        return Some(reply);
                    }
                    Some(cmd) => {
                        seen_join |= matches!(cmd, RoomCommand::Join { .. });
                        self.on_command(cmd);
                    }
                    None => break,
                },
                Some(event) = events.recv() => {
                    if let Some(notice) = self.media.handle(event) {
                        self.on_notice(notice);
                    }
                }
                Some(msg) = bus.next() => {
                    if let Some(notice) = self.media.handle_bus(&msg) {
                        self.on_notice(notice);
                    }
                }
            }
            if seen_join && self.participants.is_empty() {
                break;
            }
        }
        self.media.shutdown();
        None
    }

    fn on_command(&mut self, cmd: RoomCommand) {
        match cmd {
            RoomCommand::Join { name, role, outbound, reply } => {
                let id = ParticipantId::next();
                if let Err(e) = self.media.add_peer(id, role) {
                    error!(room = %self.id, participant = %id, "join failed: {e}");
                    let _ = reply.send(Err(JoinError::Media(e.to_string())));
                    return;
                }
                self.admit(id, name, role, outbound);
                if reply.send(Ok(id)).is_err() {
                    self.remove(id, None, "socket gone before join completed");
                }
            }
            RoomCommand::Peer { participant, command } => match command {
                PeerCommand::Answer(sdp) => self.media.set_remote_answer(participant, sdp),
                PeerCommand::Ice { candidate, mline } => self.media.add_candidate(participant, mline, &candidate),
                PeerCommand::Leave => self.remove(participant, None, "left"),
            },
            RoomCommand::Gone { participant } => self.remove(participant, None, "disconnected"),
            RoomCommand::Shutdown { .. } => unreachable!("handled in run"),
        }
    }

    /// Records a participant whose media is built: `joined` to them, `participantJoined` to others.
    fn admit(&mut self, id: ParticipantId, name: String, role: Role, outbound: Outbound) {
        let info = ParticipantInfo { id, name, role };
        let others = self.participants.values().map(|p| p.info.clone()).collect();
        let _ =
            outbound.send(ServerMessage::Joined { participant_id: id, room: self.id.clone(), participants: others });
        self.broadcast(&ServerMessage::ParticipantJoined { participant: info.clone() });
        info!(room = %self.id, participant = %id, name = %info.name, ?role, "join");
        self.participants.insert(id, Participant { info, outbound, _joined_at: Instant::now() });
    }

    fn on_notice(&mut self, notice: Notice) {
        match notice {
            Notice::Offer { peer, offer } => {
                let Ok(sdp) = offer.sdp().as_text() else {
                    self.remove(
                        peer,
                        Some(ServerMessage::error(ErrorCode::InternalError, "offer not serializable")),
                        "bad offer",
                    );
                    return;
                };
                // The offer must reach the client before our candidates, which start flowing
                // once the local description is set.
                self.send(peer, ServerMessage::Offer { sdp });
                self.media.set_local_description(peer, &offer);
            }
            Notice::Candidate { peer, mline, candidate } => {
                self.send(peer, ServerMessage::Ice { candidate, sdp_m_line_index: mline });
            }
            Notice::AnswerRejected { peer, reason } => {
                warn!(room = %self.id, participant = %peer, "answer rejected: {reason}");
                self.send(peer, ServerMessage::error(ErrorCode::InvalidSdp, format!("answer rejected: {reason}")));
            }
            Notice::Failed { peer, reason } => {
                if self.participants.contains_key(&peer) {
                    error!(room = %self.id, participant = %peer, "media failed: {reason}");
                    self.remove(peer, Some(ServerMessage::error(ErrorCode::MediaError, reason)), "media failure");
                }
            }
        }
    }

    fn send(&self, to: ParticipantId, msg: ServerMessage) {
        if let Some(p) = self.participants.get(&to) {
            let _ = p.outbound.send(msg);
        }
    }

    fn broadcast(&self, msg: &ServerMessage) {
        for p in self.participants.values() {
            let _ = p.outbound.send(msg.clone());
        }
    }

    /// Removes a participant: optional last message to them, media teardown, `participantLeft`.
    fn remove(&mut self, id: ParticipantId, last_words: Option<ServerMessage>, why: &str) {
        let Some(p) = self.participants.remove(&id) else { return };
        if let Some(msg) = last_words {
            let _ = p.outbound.send(msg);
        }
        drop(p); // closes their socket once it has sent what is queued
        self.media.remove_peer(id);
        self.broadcast(&ServerMessage::ParticipantLeft { participant_id: id });
        info!(room = %self.id, participant = %id, reason = why, "leave");
    }

    fn shutdown(&mut self) {
        let bye = ServerMessage::error(ErrorCode::ServerShutdown, "server is shutting down");
        self.broadcast(&bye);
        self.participants.clear();
        self.media.shutdown();
    }
}
