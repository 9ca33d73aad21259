//! The room task: one thread per room running a current-thread runtime, so a slow GStreamer
//! state change in one room never stalls another room or the WebSocket tasks.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use std::path::PathBuf;

use super::recordings::Recordings;
use super::stage::{STAGE_TICK, Stage};
use super::{JoinError, Outbound, ParticipantStatus, RoomCommand, RoomHandle, RoomInfo};
use crate::config::MediaConfig;
use crate::ids::{ParticipantId, RoomId};
use crate::media::stats::{InboundRates, InboundSnapshot};
use crate::media::{MediaEvent, Notice, RoomMedia};
use crate::protocol::{ErrorCode, ParticipantInfo, Role, ServerMessage};
use crate::recording::RecordingStore;
use crate::registry::Registry;
use crate::signaling::PeerCommand;

/// How often the room reads inbound counters and checks for stalled participants.
const TICK: Duration = Duration::from_secs(1);
/// A publisher whose video keeps arriving but yields no decodable frame for this long is removed
/// (random payloads that the depayloader drops never reach the decoder to make it fail).
const UNDECODABLE_LIMIT: Duration = Duration::from_secs(4);
/// A room nobody has joined for this long ends (its creator's join never arrived).
const IDLE_LIMIT: Duration = Duration::from_secs(10);

/// A participant as the room task knows it.
pub(super) struct Participant {
    /// Id, name and role.
    pub(super) info: ParticipantInfo,
    /// Microphone and camera muted, as the participant last said.
    pub(super) muted: (bool, bool),
    /// Their message channel.
    outbound: Outbound,
    /// When they joined, for timeouts and for the REST API.
    joined: (Instant, SystemTime),
    /// Inbound counters at the last tick.
    last: (Instant, InboundSnapshot),
    /// Inbound rates over the last tick.
    rates: InboundRates,
    /// Since when video RTP has been arriving without a decoded frame.
    undecodable_since: Option<Instant>,
}

/// The state the room task owns.
pub(super) struct Room {
    /// The room's id.
    pub(super) id: RoomId,
    /// The room's pipeline and everyone's branches.
    pub(super) media: RoomMedia,
    /// When the room was created.
    created: (Instant, SystemTime),
    /// Publishers silent this long, or anyone not connected after this long, are removed.
    media_timeout: Duration,
    /// Keyed by id, which grows with join order.
    pub(super) participants: BTreeMap<ParticipantId, Participant>,
    /// Speaker detection, decorations and DataChannel state.
    pub(super) stage: Stage,
    /// Whether anyone has joined yet.
    seen_join: bool,
    /// Recordings being written or finalized.
    pub(super) recordings: Recordings,
    /// The server-wide list of recordings.
    pub(super) store: Arc<RecordingStore>,
    /// Where recordings go.
    pub(super) record_dir: PathBuf,
    /// Record the room from its first admitted participant (cleared once tried).
    auto_record: bool,
}

/// Why the room task stopped.
enum Ending {
    /// The last participant left, or nobody ever came.
    Empty,
    /// Closed on request (administrator or shutdown); reply once fully closed.
    Closed(oneshot::Sender<()>),
    /// A shared element failed.
    Failed,
}

/// Starts a room task for `id` and returns its handle.
pub(crate) fn spawn(
    id: RoomId,
    config: Arc<MediaConfig>,
    store: Arc<RecordingStore>,
    registry: Weak<Registry>,
) -> std::io::Result<RoomHandle> {
    static UID: AtomicU64 = AtomicU64::new(1);
    let uid = UID.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(256);
    let handle = RoomHandle { id: id.clone(), uid, tx };
    std::thread::Builder::new().name(format!("room-{id}")).spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("room runtime");
        rt.block_on(run(id, uid, config, store, rx, registry));
    })?;
    Ok(handle)
}

async fn run(
    id: RoomId,
    uid: u64,
    config: Arc<MediaConfig>,
    store: Arc<RecordingStore>,
    mut rx: mpsc::Receiver<RoomCommand>,
    registry: Weak<Registry>,
) {
    let (events_tx, mut events) = mpsc::unbounded_channel::<MediaEvent>();
    let (media_timeout, record_dir, auto_record) =
        (config.media_timeout, config.record_dir.clone(), config.auto_record);
    let (room, ending) = match RoomMedia::new(id.as_str(), config, events_tx) {
        Ok(media) => {
            info!(room = %id, "room created");
            let created = (Instant::now(), SystemTime::now());
            let mut room = Room {
                id: id.clone(),
                media,
                created,
                media_timeout,
                participants: BTreeMap::new(),
                seen_join: false,
                stage: Stage::default(),
                recordings: Recordings::default(),
                store,
                record_dir,
                auto_record,
            };
            let ending = room.run(&mut rx, &mut events).await;
            (Some(room), ending)
        }
        Err(e) => {
            error!(room = %id, "cannot build room: {e}");
            (None, Ending::Failed)
        }
    };
    // The last participant is gone (or the room was closed): the pipeline must be in NULL and
    // freed within 5 s of now.
    let ended = Instant::now();
    let room = match room {
        Some(mut room) => {
            // Every recording is finalized before the pipeline goes away.
            room.finish_recordings(&mut events).await;
            Some(room)
        }
        None => None,
    };
    // Stop taking commands and leave the registry first, so new joins go to a new room while
    // this one's pipeline winds down; joins already queued are retried there.
    rx.close();
    if let Some(registry) = registry.upgrade() {
        registry.forget(&id, uid);
    }
    super::end::refuse_queued(&mut rx);
    drop(events);
    let stopped = room.map(|room| super::end::stop(room, &id, ended));
    info!(room = %id, "room closed");
    if let Ending::Closed(reply) = ending {
        let _ = reply.send(());
    }
    if let Some((pipeline, null_at)) = stopped {
        crate::media::teardown::await_freed(id.as_str(), pipeline, ended, null_at).await;
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

impl Room {
    /// Runs until the room empties, is closed, or fails.
    async fn run(
        &mut self,
        rx: &mut mpsc::Receiver<RoomCommand>,
        events: &mut mpsc::UnboundedReceiver<MediaEvent>,
    ) -> Ending {
        let mut bus = self.media.bus().stream();
        let mut tick = tokio::time::interval(TICK);
        let mut stage_tick = tokio::time::interval(STAGE_TICK);
        // After a stall (a join, a layout change), go on at the normal pace instead of firing
        // the missed ticks back to back: those would read no audio and decorate nothing new.
        stage_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let flow = tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => ControlFlow::Break(Ending::Empty),
                },
                Some(event) = events.recv() => match self.media.handle(event) {
                    Some(notice) => self.on_notice(notice),
                    None => ControlFlow::Continue(()),
                },
                Some(msg) = bus.next() => match self.media.handle_bus(&msg) {
                    Some(notice) => self.on_notice(notice),
                    None => ControlFlow::Continue(()),
                },
                _ = tick.tick() => self.on_tick(),
                _ = stage_tick.tick() => {
                    self.on_stage_tick();
                    ControlFlow::Continue(())
                }
            };
            if let ControlFlow::Break(ending) = flow {
                return ending;
            }
            if self.seen_join && self.participants.is_empty() {
                return Ending::Empty;
            }
        }
    }

    fn on_command(&mut self, cmd: RoomCommand) -> ControlFlow<Ending> {
        match cmd {
            RoomCommand::Join { name, role, outbound, reply } => {
                self.seen_join = true;
                let id = ParticipantId::next();
                if let Err(e) = self.media.add_peer(id, role, &name) {
                    error!(room = %self.id, participant = %id, "join failed: {e}");
                    let _ = reply.send(Err(JoinError::Media(e.to_string())));
                    return ControlFlow::Continue(());
                }
                self.admit(id, name, role, outbound);
                if reply.send(Ok(id)).is_err() {
                    self.remove(id, None, "socket gone before join completed");
                } else if self.auto_record {
                    // From the first participant actually in the room; tried once (a failure is
                    // listed as a failed recording, not retried on every join).
                    self.auto_record = false;
                    if let Err(e) = self.start_recording(None) {
                        error!(room = %self.id, "auto-record failed: {e}");
                    }
                }
            }
            RoomCommand::Peer { participant, command } => match command {
                PeerCommand::Answer(sdp) => self.media.set_remote_answer(participant, sdp),
                PeerCommand::Ice { candidate, mline } => self.media.add_candidate(participant, mline, &candidate),
                PeerCommand::Leave => self.remove(participant, None, "left"),
                PeerCommand::Mute { audio, video } => self.on_mute(participant, audio, video),
                PeerCommand::SetLayout(layout) => self.on_layout_request(participant, layout),
            },
            RoomCommand::SetLayout { layout, reply } => drop(reply.send(self.set_layout(layout))),
            RoomCommand::Gone { participant } => self.remove(participant, None, "disconnected"),
            RoomCommand::Info { reply } => drop(reply.send(self.info())),
            RoomCommand::StartRecording { name, reply } => drop(reply.send(self.start_recording(name.as_deref()))),
            RoomCommand::StopRecording { id, reply } => self.stop_recording(&id, reply),
            RoomCommand::Kick { participant, reply } => {
                let here = self.participants.contains_key(&participant);
                let bye = ServerMessage::error(ErrorCode::Kicked, "removed by an administrator");
                self.remove(participant, Some(bye), "kicked");
                let _ = reply.send(here);
            }
            RoomCommand::Close { code, reply } => {
                let why =
                    if code == ErrorCode::ServerShutdown { "server is shutting down" } else { "the room was closed" };
                self.remove_all(code, why);
                return ControlFlow::Break(Ending::Closed(reply));
            }
        }
        ControlFlow::Continue(())
    }

    /// Records a participant whose media is built: `joined` to them, `participantJoined` to others.
    fn admit(&mut self, id: ParticipantId, name: String, role: Role, outbound: Outbound) {
        let info = ParticipantInfo { id, name, role };
        let others = self.participants.values().map(|p| p.info.clone()).collect();
        let _ =
            outbound.send(ServerMessage::Joined { participant_id: id, room: self.id.clone(), participants: others });
        for msg in self.recordings_in_progress().into_iter().chain(self.stage_for_newcomer()) {
            let _ = outbound.send(msg);
        }
        self.broadcast(&ServerMessage::ParticipantJoined { participant: info.clone() });
        info!(room = %self.id, participant = %id, name = %info.name, ?role, "join");
        let now = Instant::now();
        let last = (now, self.media.inbound(id).unwrap_or_default());
        let joined = (now, SystemTime::now());
        let rates = InboundRates::default();
        self.participants.insert(
            id,
            Participant { info, muted: (false, false), outbound, joined, last, rates, undecodable_since: None },
        );
    }

    /// Updates inbound rates; removes publishers whose media stopped, participants that never
    /// connected, and any whose socket is gone; ends a room nobody ever joined.
    fn on_tick(&mut self) -> ControlFlow<Ending> {
        if !self.seen_join && self.created.0.elapsed() > IDLE_LIMIT {
            return ControlFlow::Break(Ending::Empty);
        }
        self.check_recordings();
        let now = Instant::now();
        let secs = self.media_timeout.as_secs_f64();
        let mut doomed = Vec::new();
        for (id, p) in &mut self.participants {
            let Some(snapshot) = self.media.inbound(*id) else { continue };
            p.rates = snapshot.rates_since(&p.last.1, now - p.last.0);
            if snapshot.frames > p.last.1.frames || snapshot.video_bytes == p.last.1.video_bytes {
                p.undecodable_since = None;
            } else {
                p.undecodable_since.get_or_insert(p.last.0);
            }
            p.last = (now, snapshot);
            let since_join = now - p.joined.0;
            let last_media = snapshot.last_packet.unwrap_or(p.joined.0).max(p.joined.0);
            if p.outbound.is_closed() {
                doomed.push((*id, None, "socket gone"));
            } else if !self.media.is_connected(*id) && since_join > self.media_timeout {
                let msg = format!("no media connection after {secs:.0} s");
                doomed.push((*id, Some(ServerMessage::error(ErrorCode::MediaTimeout, msg)), "never connected"));
            } else if p.undecodable_since.is_some_and(|t| now - t >= UNDECODABLE_LIMIT) {
                let msg = format!("no decodable video for {} s while it kept arriving", UNDECODABLE_LIMIT.as_secs());
                doomed.push((*id, Some(ServerMessage::error(ErrorCode::MediaError, msg)), "undecodable video"));
            } else if p.info.role == Role::Publisher && now - last_media > self.media_timeout {
                let msg = format!("no media received for {secs:.0} s");
                doomed.push((*id, Some(ServerMessage::error(ErrorCode::MediaTimeout, msg)), "media timeout"));
            }
        }
        for (id, bye, why) in doomed {
            warn!(room = %self.id, participant = %id, "{why}");
            self.remove(id, bye, why);
        }
        ControlFlow::Continue(())
    }

    fn info(&self) -> RoomInfo {
        RoomInfo {
            id: self.id.clone(),
            created_at: rfc3339(self.created.1),
            uptime_secs: self.created.0.elapsed().as_secs_f64(),
            participants: self
                .participants
                .values()
                .map(|p| ParticipantStatus {
                    id: p.info.id,
                    name: p.info.name.clone(),
                    role: p.info.role,
                    joined_at: rfc3339(p.joined.1),
                    inbound: p.rates,
                })
                .collect(),
            pipeline_elements: self.media.element_count(),
            pipeline: self.media.inventory(),
            layout: self.media.layout().clone(),
            speaker: self.media.speaker(),
        }
    }

    fn on_notice(&mut self, notice: Notice) -> ControlFlow<Ending> {
        if self.on_recording_notice(&notice) {
            return ControlFlow::Continue(());
        }
        match notice {
            Notice::Offer { peer, offer } => {
                let Ok(sdp) = offer.sdp().as_text() else {
                    let bye = ServerMessage::error(ErrorCode::InternalError, "offer not serializable");
                    self.remove(peer, Some(bye), "bad offer");
                    return ControlFlow::Continue(());
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
            Notice::ChannelOpen { peer } => self.on_channel_open(peer),
            Notice::RoomFailed { reason } => {
                error!(room = %self.id, "room failed: {reason}");
                self.remove_all(ErrorCode::InternalError, "the room's media failed; please rejoin");
                return ControlFlow::Break(Ending::Failed);
            }
            Notice::RecordingRunning { .. } | Notice::RecordingFinished { .. } | Notice::RecordingFailed { .. } => {}
        }
        ControlFlow::Continue(())
    }

    pub(super) fn send(&self, to: ParticipantId, msg: ServerMessage) {
        if let Some(p) = self.participants.get(&to) {
            let _ = p.outbound.send(msg);
        }
    }

    pub(super) fn broadcast(&self, msg: &ServerMessage) {
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
        self.stage_forget(id);
        self.broadcast(&ServerMessage::ParticipantLeft { participant_id: id });
        info!(room = %self.id, participant = %id, reason = why, "leave");
    }

    /// Tells everyone why and drops them all; the pipeline stops when the room is dropped.
    fn remove_all(&mut self, code: ErrorCode, message: &str) {
        self.broadcast(&ServerMessage::error(code, message));
        for id in std::mem::take(&mut self.participants).into_keys() {
            info!(room = %self.id, participant = %id, reason = message, "leave");
        }
    }
}
