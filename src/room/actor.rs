//! The room's actor: one thread per room running a current-thread runtime, so a slow GStreamer
//! state change in one room never stalls another room or the WebSocket tasks. It owns the room's
//! pipeline ([`RoomMedia`]), its participants' sockets and its recordings; the rules live in
//! the pure [`RoomCore`], which the actor feeds with commands, media notices and ticks and whose
//! outputs it carries out.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use super::active_recordings::ActiveRecordings;
use super::core::{self, Input, Output, RoomCore};
use super::{JoinError, Outbound, RoomCommand, RoomHandle};
use crate::access::TurnIssuer;
use crate::config::Config;
use crate::ids::{ParticipantId, RoomId};
use crate::media::{MediaEvent, Notice, RoomMedia};
use crate::protocol::{ErrorCode, Role, ServerMessage};
use crate::recording::RecordingStore;
use crate::signaling::PeerCommand;

/// How often the room reads inbound counters and checks for stalled participants.
const TICK: Duration = Duration::from_secs(1);
/// How often levels are read and decorations refreshed.
const STAGE_TICK: Duration = Duration::from_millis(100);

/// Called once when a room has stopped taking commands, with the room's id and instance number
/// (the registry forgets it then).
pub type OnClose = Box<dyn FnOnce(&RoomId, u64) + Send>;

/// The state the room's thread owns.
pub(super) struct RoomActor {
    /// The room's id.
    pub(super) id: RoomId,
    /// The rules: who is in, the layout, the speaker, what the composite shows.
    pub(super) core: RoomCore,
    /// The room's pipeline and everyone's branches.
    pub(super) media: RoomMedia,
    /// How to reach each participant the core has admitted; dropping one closes their socket.
    sockets: BTreeMap<ParticipantId, Outbound>,
    /// When the room was created (wall clock, for the REST API).
    pub(super) created_at: SystemTime,
    /// When the room was created.
    pub(super) created: Instant,
    /// Recordings being written or finalized.
    pub(super) recordings: ActiveRecordings,
    /// The server-wide list of recordings.
    pub(super) store: Arc<RecordingStore>,
    /// Where recordings go.
    pub(super) record_dir: PathBuf,
    /// Record the room from its first admitted participant (cleared once tried).
    auto_record: bool,
    /// Clients that offered (WHIP, WHEP) waiting for our answer.
    pub(super) answers: BTreeMap<ParticipantId, oneshot::Sender<Result<String, String>>>,
    /// Participants the room takes at most.
    max_participants: usize,
    /// How much recording the server allows.
    pub(super) recording_limits: super::active_recordings::RecordingLimits,
    /// Mints each joiner's TURN credentials (`None`: no TURN servers for clients).
    turn: Option<TurnIssuer>,
    /// Metrics and webhook events.
    pub(super) reports: super::reports::Reports,
    /// Tells the watchdog which step the thread is in.
    watch: super::watchdog::Watch,
}

/// Why the room stopped.
pub(super) enum Ending {
    /// The last participant left, or nobody ever came.
    Empty,
    /// Closed on request (administrator or shutdown); reply once fully closed.
    Closed(oneshot::Sender<()>),
    /// A shared element failed.
    Failed,
}

/// Starts a room on a thread of its own and returns its handle; `on_close` runs when it stops
/// taking commands.
pub(crate) fn spawn(
    id: RoomId,
    config: Arc<Config>,
    store: Arc<RecordingStore>,
    on_close: OnClose,
) -> std::io::Result<RoomHandle> {
    static UID: AtomicU64 = AtomicU64::new(1);
    let uid = UID.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(256);
    let handle = RoomHandle { id: id.clone(), uid, tx };
    std::thread::Builder::new().name(format!("room-{id}")).spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("room runtime");
        rt.block_on(run(id, uid, config, store, rx, on_close));
    })?;
    Ok(handle)
}

async fn run(
    id: RoomId,
    uid: u64,
    config: Arc<Config>,
    store: Arc<RecordingStore>,
    mut rx: mpsc::Receiver<RoomCommand>,
    on_close: OnClose,
) {
    let (events_tx, mut events) = mpsc::unbounded_channel::<MediaEvent>();
    let settings = core::Settings {
        canvas: config.composite.canvas.0,
        video: config.composite.video,
        fps: config.composite.fps,
        video_kbps: config.composite.video_bitrate,
        decorations: config.composite.decorations,
        media_timeout: config.media.media_timeout(),
    };
    let (record_dir, auto_record) = (config.recording.dir.clone(), config.recording.auto);
    let max_participants = config.limits.max_participants;
    let recording_limits = super::active_recordings::RecordingLimits::from(&config.recording);
    // `crate::run` refuses to start with TURN settings that do not check out, so this only
    // logs if that check is ever bypassed; the room then works without handing out TURN.
    let turn = config.ice.turn_issuer().unwrap_or_else(|e| {
        error!(room = %id, "TURN for clients is off: {e}");
        None
    });
    let (room, ending) = match RoomMedia::new(id.as_str(), config, events_tx) {
        Ok(media) => {
            info!(room = %id, "room created");
            let now = Instant::now();
            let mut room = RoomActor {
                id: id.clone(),
                core: RoomCore::new(id.clone(), settings, now),
                media,
                sockets: BTreeMap::new(),
                created_at: SystemTime::now(),
                created: now,
                recordings: ActiveRecordings::default(),
                store,
                record_dir,
                auto_record,
                max_participants,
                answers: BTreeMap::new(),
                recording_limits,
                turn,
                reports: super::reports::Reports::start(&id),
                watch: super::watchdog::Watch::new(&id),
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
    on_close(&id, uid);
    super::end::refuse_queued(&mut rx);
    drop(events);
    let stopped = room.map(|room| super::end::stop(room, &id, ended));
    info!(room = %id, "room closed");
    if stopped.is_some() {
        crate::webhooks::emit(&id, crate::webhooks::Event::RoomFinished);
    }
    if let Ending::Closed(reply) = ending {
        let _ = reply.send(());
    }
    if let Some((pipeline, null_at)) = stopped {
        crate::media::teardown::await_freed(id.as_str(), pipeline, ended, null_at).await;
    }
}

impl RoomActor {
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
                    Some(cmd) => {
                        let _step = self.watch.step(super::watchdog::step_of(&cmd));
                        self.on_command(cmd)
                    }
                    None => ControlFlow::Break(Ending::Empty),
                },
                Some(event) = events.recv() => {
                    let _step = self.watch.step("media event");
                    match self.media.handle(event) {
                        Some(notice) => self.on_notice(notice),
                        None => ControlFlow::Continue(()),
                    }
                }
                Some(msg) = bus.next() => {
                    let _step = self.watch.step("bus message");
                    let flow = match self.media.handle_bus(&msg) {
                        Some(notice) => self.on_notice(notice),
                        None => ControlFlow::Continue(()),
                    };
                    // The message can hold the last reference to a removed peer's elements:
                    // let it go inside the step, so the watchdog sees their disposal too.
                    drop(msg);
                    flow
                }
                _ = tick.tick() => {
                    let _step = self.watch.step("tick");
                    self.on_tick();
                    ControlFlow::Continue(())
                }
                _ = stage_tick.tick() => {
                    let _step = self.watch.step("stage tick");
                    let levels = self.media.take_levels();
                    let video = self.media.video_progress();
                    self.feed(Input::StageTick { levels, video });
                    ControlFlow::Continue(())
                }
            };
            if let ControlFlow::Break(ending) = flow {
                return ending;
            }
            if let Some(end) = self.core.end(Instant::now()) {
                info!(room = %self.id, ?end, "room ends");
                return Ending::Empty;
            }
        }
    }

    /// Hands `input` to the rules and carries out what they say.
    pub(super) fn feed(&mut self, input: Input) {
        for output in self.core.handle(input, Instant::now()) {
            match output {
                Output::Send { to, msg } => self.send(to, msg),
                Output::Channel { to, text } => self.media.send_channel(to, &text),
                Output::Remove { id, why, reason, info } => {
                    // Dropping the sender closes their socket once it has sent what is queued.
                    self.sockets.remove(&id);
                    self.media.remove_peer(id);
                    info!(room = %self.id, participant = %id, reason = why, "leave");
                    self.report_leave(info, reason);
                }
                Output::Stage(plan) => self.media.apply_stage(&plan),
            }
        }
    }

    fn on_command(&mut self, cmd: RoomCommand) -> ControlFlow<Ending> {
        match cmd {
            RoomCommand::Join { name, role, may_set_layout, outbound, session, reply } => {
                self.on_join(name, role, may_set_layout, outbound, session, reply)
            }
            RoomCommand::Offer { participant, sdp, reply } => {
                if self.core.contains(participant) && !self.answers.contains_key(&participant) {
                    self.answers.insert(participant, reply);
                    self.media.answer_offer(participant, sdp);
                } else {
                    let _ = reply.send(Err("not a participant waiting for an answer".into()));
                }
            }
            RoomCommand::Peer { participant, command } => match command {
                PeerCommand::Answer(sdp) => {
                    if let Err(reason) = self.media.set_remote_answer(participant, sdp) {
                        return self.on_notice(Notice::AnswerRejected { peer: participant, reason });
                    }
                }
                PeerCommand::Ice { candidate, mline } => {
                    if let Err(e) = self.media.add_candidate(participant, &mline, &candidate) {
                        self.send(participant, ServerMessage::error(ErrorCode::InvalidCandidate, e.to_string()));
                    }
                }
                PeerCommand::Leave => self.feed(Input::Leave(participant)),
                PeerCommand::Mute { audio, video } => {
                    self.feed(Input::Mute { id: participant, muted: core::Muted { audio, video } })
                }
                PeerCommand::SetLayout(layout) => self.feed(Input::LayoutRequest { id: participant, layout }),
                PeerCommand::Chat(text) => self.feed(Input::Chat { id: participant, text }),
                PeerCommand::Caption { text, is_final } => {
                    self.feed(Input::Caption { id: participant, text, is_final })
                }
            },
            RoomCommand::SetLayout { layout, reply } => {
                self.feed(Input::SetLayout(layout));
                let _ = reply.send(self.core.layout().clone());
            }
            RoomCommand::Gone { participant } => self.feed(Input::Gone(participant)),
            RoomCommand::Info { reply } => drop(reply.send(self.info())),
            RoomCommand::Snapshots { reply } => drop(reply.send(self.media.snapshots())),
            RoomCommand::TileImage { participant, image } => self.media.set_tile_image(participant, image),
            RoomCommand::StartRecording { name, reply } => drop(reply.send(self.start_recording(name.as_deref()))),
            RoomCommand::StopRecording { id, reply } => self.stop_recording(&id, reply),
            RoomCommand::Kick { participant, reply } => {
                let here = self.core.contains(participant);
                self.feed(Input::Kick(participant));
                let _ = reply.send(here);
            }
            RoomCommand::Close { code, reply } => {
                self.feed(Input::Close(code));
                return ControlFlow::Break(Ending::Closed(reply));
            }
        }
        ControlFlow::Continue(())
    }

    /// Builds a newcomer's media, then admits them (the core tells everyone).
    fn on_join(
        &mut self,
        name: String,
        role: Role,
        may_set_layout: bool,
        outbound: Outbound,
        session: crate::media::Session,
        reply: oneshot::Sender<Result<super::Joined, JoinError>>,
    ) {
        // Checked before the media branch is built: a refused join costs no GStreamer object.
        if self.sockets.len() >= self.max_participants {
            let _ = reply.send(Err(JoinError::RoomFull(self.max_participants)));
            return;
        }
        let id = ParticipantId::next();
        let agent = match self.media.add_peer(id, role, session) {
            Ok(agent) => agent,
            Err(e) => {
                error!(room = %self.id, participant = %id, "join failed: {e}");
                let _ = reply.send(Err(JoinError::Media(e.to_string())));
                return;
            }
        };
        info!(room = %self.id, participant = %id, name = %name, ?role, "join");
        self.sockets.insert(id, outbound);
        let recordings = self.recordings_in_progress();
        let at = SystemTime::now();
        let ice_servers = self.turn.as_ref().map(|t| t.ice_servers(id, at)).unwrap_or_default();
        self.feed(Input::Admit { id, name, role, may_set_layout, at, recordings, ice_servers });
        self.report_join(id);
        if reply.send(Ok(super::Joined { id, agent })).is_err() {
            warn!(room = %self.id, participant = %id, "socket gone before join completed");
            self.feed(Input::Gone(id));
        } else if self.auto_record {
            // From the first participant actually in the room; tried once (a failure is listed
            // as a failed recording, not retried on every join).
            self.auto_record = false;
            if let Err(e) = self.start_recording(None) {
                error!(room = %self.id, "auto-record failed: {e}");
            }
        }
    }

    /// Once a second: inbound counters to the rules, and sockets that closed unnoticed.
    fn on_tick(&mut self) {
        self.check_recordings();
        self.media.drop_idle_snapshots();
        let closed: Vec<ParticipantId> =
            self.sockets.iter().filter(|(_, s)| s.is_closed()).map(|(id, _)| *id).collect();
        for id in closed {
            warn!(room = %self.id, participant = %id, "socket gone");
            self.feed(Input::Gone(id));
        }
        let inbound = self.sockets.keys().filter_map(|id| Some((*id, self.media.inbound(*id)?))).collect();
        self.feed(Input::Tick { inbound });
        self.report_second();
    }

    /// Sends `msg` to a participant's socket, if they are still here.
    pub(super) fn send(&self, to: ParticipantId, msg: ServerMessage) {
        if let Some(socket) = self.sockets.get(&to) {
            let _ = socket.send(msg);
        }
    }

    /// Sends `msg` to everyone in the room.
    pub(super) fn broadcast(&self, msg: &ServerMessage) {
        for socket in self.sockets.values() {
            let _ = socket.send(msg.clone());
        }
    }
}
