//! The room's rules, pure (in the spirit of str0m's `Rtc`): who is in the room and who is
//! removed and why, rate limits, the active speaker, the layout and what every tile shows.
//!
//! [`Input`]s go in, each with the time it happened, so a test drives the rules on a fake
//! clock; [`Output`]s come out: messages for participants, participants to remove, and the
//! [`StagePlan`] the media layer applies to compositor pads and overlays. The room's actor
//! (`super::actor`) owns the clock, the sockets and the pipeline, feeds the core and carries
//! out what it returns; nothing here touches GStreamer or a socket.

mod constraints;
mod io;
mod participant;
mod stage;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

pub use crate::layout::StagePlan;
pub use io::{End, Input, LeaveReason, Output};
pub(crate) use participant::{BURST, PER_SECOND};
pub use participant::{Muted, Participant};
#[cfg(test)]
use stage::{SILENT_FOR, STALL_AFTER};

use crate::ids::{ParticipantId, RecordingId, RoomId};
use crate::layout::{LayoutSpec, Size};
use crate::media::InboundSnapshot;
use crate::protocol::{ErrorCode, ParticipantInfo, Role, ServerMessage};
use crate::speaker::SpeakerDetector;

/// A publisher whose video keeps arriving but yields no decodable frame for this long is removed
/// (random payloads that the depayloader drops never reach the decoder to make it fail).
pub const UNDECODABLE_LIMIT: Duration = Duration::from_secs(4);
/// A room nobody has joined for this long ends (its creator's join never arrived).
pub const IDLE_LIMIT: Duration = Duration::from_secs(10);

/// What the rules need to know of the server's settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The composite's size.
    pub canvas: Size,
    /// Whether the room mixes video (false: audio-only, nothing is drawn).
    pub video: bool,
    /// The composite's frame rate: what a shown publisher is asked to send at most.
    pub fps: u32,
    /// The composite's video bitrate, kbit/s: publishers are asked for their tile's share.
    pub video_kbps: u32,
    /// Whether names, badges and the speaker border are drawn.
    pub decorations: bool,
    /// Publishers silent this long, or anyone not connected after this long, are removed.
    pub media_timeout: Duration,
}

/// A newcomer, as [`Input::Admit`] describes them.
struct Admitted {
    id: ParticipantId,
    name: String,
    role: Role,
    at: SystemTime,
    recordings: Vec<RecordingId>,
    ice_servers: Vec<crate::protocol::IceServer>,
}

/// The room's state and rules.
#[derive(Debug)]
pub struct RoomCore {
    /// The room's id.
    id: RoomId,
    /// What the rules need of the server's settings.
    settings: Settings,
    /// Everyone in the room; ids grow with join order, so iteration is join order.
    participants: BTreeMap<ParticipantId, Participant>,
    /// The layout in force.
    layout: LayoutSpec,
    /// Active speaker detection.
    detector: SpeakerDetector,
    /// When the room was created (and the detector's clock starts).
    created: Instant,
    /// Whether anyone has been admitted yet.
    seen_join: bool,
    /// The stage last handed to the media layer.
    stage: StagePlan,
    /// The participant list last sent on the DataChannels (JSON).
    sent_channel_list: String,
    /// Outputs not yet taken.
    out: Vec<Output>,
}

impl RoomCore {
    /// A new, empty room created at `now`.
    pub fn new(id: RoomId, settings: Settings, now: Instant) -> Self {
        Self {
            id,
            settings,
            participants: BTreeMap::new(),
            layout: LayoutSpec::default(),
            detector: SpeakerDetector::default(),
            created: now,
            seen_join: false,
            stage: StagePlan::default(),
            sent_channel_list: String::new(),
            out: Vec::new(),
        }
    }

    /// Acts on `input`, which happened at `now`; returns what to do, in order.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Output> {
        match input {
            Input::Admit { id, name, role, may_set_layout, at, recordings, ice_servers } => {
                self.admit(Admitted { id, name, role, at, recordings, ice_servers }, now);
                if let Some(p) = self.participants.get_mut(&id) {
                    p.may_set_layout = may_set_layout;
                }
            }
            Input::Leave(id) => self.remove(id, None, "left", LeaveReason::Left),
            Input::Gone(id) => self.remove(id, None, "disconnected", LeaveReason::Left),
            Input::Kick(id) => {
                let bye = ServerMessage::error(ErrorCode::Kicked, "removed by an administrator");
                self.remove(id, Some(bye), "kicked", LeaveReason::Kicked);
            }
            Input::Mute { id, muted } => self.on_mute(id, muted, now),
            Input::LayoutRequest { id, layout } => self.on_layout_request(id, layout, now),
            Input::SetLayout(layout) => self.set_layout(layout),
            Input::Chat { id, text } => self.on_text(id, text, None),
            Input::Caption { id, text, is_final } => self.on_text(id, text, Some(is_final)),
            Input::Close(code) => self.close(code),
            Input::MediaFailed { id, reason } => {
                let bye = ServerMessage::error(ErrorCode::MediaError, reason);
                self.remove(id, Some(bye), "media failure", LeaveReason::Error);
            }
            Input::Connected(id) => {
                if let Some(p) = self.participants.get_mut(&id) {
                    p.connected = true;
                }
            }
            Input::VideoFlowing(id) => {
                if let Some(p) = self.participants.get_mut(&id) {
                    p.video.flowing = true;
                }
            }
            Input::VideoSize { id, size, par } => {
                if let Some(p) = self.participants.get_mut(&id) {
                    p.video.format = Some((size, par));
                }
            }
            Input::ChannelOpen(id) => self.on_channel_open(id),
            Input::Tick { inbound } => self.on_tick(&inbound, now),
            Input::StageTick { levels, video } => self.on_stage_tick(&levels, &video, now),
        }
        self.restage(now);
        std::mem::take(&mut self.out)
    }

    /// Whether the room should end now, and why.
    pub fn end(&self, now: Instant) -> Option<End> {
        match self.seen_join {
            true if self.participants.is_empty() => Some(End::Empty),
            false if now.saturating_duration_since(self.created) > IDLE_LIMIT => Some(End::NeverJoined),
            _ => None,
        }
    }

    /// Everyone in the room, in join order.
    pub fn participants(&self) -> impl Iterator<Item = &Participant> {
        self.participants.values()
    }

    /// Whether `id` is in the room.
    pub fn contains(&self, id: ParticipantId) -> bool {
        self.participants.contains_key(&id)
    }

    /// The layout in force.
    pub fn layout(&self) -> &LayoutSpec {
        &self.layout
    }

    /// The active speaker.
    pub fn speaker(&self) -> Option<ParticipantId> {
        self.detector.current()
    }

    fn send(&mut self, to: ParticipantId, msg: ServerMessage) {
        self.out.push(Output::Send { to, msg });
    }

    fn broadcast(&mut self, msg: &ServerMessage) {
        let everyone: Vec<ParticipantId> = self.participants.keys().copied().collect();
        for to in everyone {
            self.send(to, msg.clone());
        }
    }

    fn admit(&mut self, joiner: Admitted, now: Instant) {
        let Admitted { id, name, role, at, recordings, ice_servers } = joiner;
        self.seen_join = true;
        let info = ParticipantInfo { id, name, role };
        let others = self.participants.values().map(|p| p.info.clone()).collect();
        let room = self.id.clone();
        self.send(id, ServerMessage::Joined { participant_id: id, room, participants: others, ice_servers });
        for recording_id in recordings {
            self.send(id, ServerMessage::RecordingStarted { recording_id });
        }
        self.send(id, ServerMessage::LayoutChanged { layout: self.layout.clone() });
        if let Some(speaker) = self.detector.current() {
            self.send(id, ServerMessage::SpeakerChanged { participant_id: Some(speaker) });
        }
        self.broadcast(&ServerMessage::ParticipantJoined { participant: info.clone() });
        let mut p = Participant::new(info, now, at);
        // An agent's audio arrives over its socket, which is up once it joined.
        p.connected = p.info.role == Role::Agent;
        self.participants.insert(id, p);
    }

    /// Removes a participant: optional last words to them, their removal, `participantLeft`
    /// to the others, a new speaker if it was them.
    fn remove(&mut self, id: ParticipantId, last_words: Option<ServerMessage>, why: &str, reason: LeaveReason) {
        let Some(gone) = self.participants.remove(&id) else { return };
        if let Some(msg) = last_words {
            self.send(id, msg);
        }
        self.out.push(Output::Remove { id, why: why.to_owned(), reason, info: gone.info });
        let was_speaker = self.detector.current() == Some(id);
        self.detector.remove(id);
        if was_speaker {
            self.announce_speaker(None);
        }
        self.broadcast(&ServerMessage::ParticipantLeft { participant_id: id });
    }

    /// Everyone is told `code` and leaves.
    fn close(&mut self, code: ErrorCode) {
        let why = match code {
            ErrorCode::ServerShutdown => "server is shutting down",
            ErrorCode::InternalError => "the room's media failed; please rejoin",
            _ => "the room was closed",
        };
        self.broadcast(&ServerMessage::error(code, why));
        for (id, gone) in std::mem::take(&mut self.participants) {
            self.out.push(Output::Remove { id, why: why.to_owned(), reason: LeaveReason::Closed, info: gone.info });
        }
    }

    /// Updates inbound rates; removes publishers whose media stopped or never decodes, and
    /// anyone not connected after the media timeout.
    fn on_tick(&mut self, inbound: &[(ParticipantId, InboundSnapshot)], now: Instant) {
        let timeout = self.settings.media_timeout;
        let secs = timeout.as_secs_f64();
        let mut doomed = Vec::new();
        for (id, snapshot) in inbound {
            let Some(p) = self.participants.get_mut(id) else { continue };
            let (then, last) = p.inbound.last;
            p.inbound.rates = snapshot.rates_since(&last, now.saturating_duration_since(then));
            if snapshot.frames > last.frames || snapshot.video_bytes == last.video_bytes {
                p.inbound.undecodable_since = None;
            } else {
                p.inbound.undecodable_since.get_or_insert(then);
            }
            p.inbound.last = (now, *snapshot);
            let since_join = now.saturating_duration_since(p.joined);
            let last_media = snapshot.last_packet.unwrap_or(p.joined).max(p.joined);
            if !p.connected && since_join > timeout {
                let msg = format!("no media connection after {secs:.0} s");
                doomed.push((*id, ErrorCode::MediaTimeout, msg, "never connected", LeaveReason::Timeout));
            } else if p.inbound.undecodable_since.is_some_and(|t| now.saturating_duration_since(t) >= UNDECODABLE_LIMIT)
            {
                let msg = format!("no decodable video for {} s while it kept arriving", UNDECODABLE_LIMIT.as_secs());
                doomed.push((*id, ErrorCode::MediaError, msg, "undecodable video", LeaveReason::Error));
            } else if p.info.role == Role::Publisher && now.saturating_duration_since(last_media) > timeout {
                let msg = format!("no media received for {secs:.0} s");
                doomed.push((*id, ErrorCode::MediaTimeout, msg, "media timeout", LeaveReason::Timeout));
            }
        }
        for (id, code, msg, why, reason) in doomed {
            tracing::warn!(room = %self.id, participant = %id, "{why}");
            self.remove(id, Some(ServerMessage::error(code, msg)), why, reason);
        }
    }

    /// Whether `who` may send another `setLayout` or `mute` now; tells them when not.
    fn within_budget(&mut self, who: ParticipantId, what: &str, now: Instant) -> bool {
        let Some(p) = self.participants.get_mut(&who) else { return false };
        if p.budget.take(now) {
            return true;
        }
        let msg = format!("too many {what} messages: at most {BURST} at once, then {PER_SECOND} per second");
        self.send(who, ServerMessage::error(ErrorCode::RateLimited, msg));
        false
    }

    fn on_mute(&mut self, who: ParticipantId, muted: Muted, now: Instant) {
        if !self.within_budget(who, "mute", now) {
            return;
        }
        let Some(p) = self.participants.get_mut(&who) else { return };
        if p.muted == muted {
            return;
        }
        p.muted = muted;
        self.broadcast(&ServerMessage::MuteChanged { participant_id: who, audio: muted.audio, video: muted.video });
    }

    /// A participant asks for a layout: applied unless an administrator locked it.
    fn on_layout_request(&mut self, who: ParticipantId, spec: LayoutSpec, now: Instant) {
        if !self.within_budget(who, "setLayout", now) {
            return;
        }
        if !self.participants.get(&who).is_some_and(|p| p.may_set_layout) {
            let why = "only an administrator, or a publisher whose token allows it, may change the layout";
            self.send(who, ServerMessage::error(ErrorCode::LayoutForbidden, why));
        } else if self.layout.locked {
            self.send(who, ServerMessage::error(ErrorCode::LayoutLocked, "an administrator locked this room's layout"));
        } else if spec != self.layout {
            self.set_layout(spec);
        }
    }

    /// A chat line (`is_final: None`) or caption from `who`: to everyone, on the socket and
    /// the DataChannel, with the sender's id and name.
    fn on_text(&mut self, who: ParticipantId, text: String, is_final: Option<bool>) {
        let Some(p) = self.participants.get(&who) else { return };
        let (from, name) = (who, p.info.name.clone());
        use crate::protocol::{Caption, ChannelMessage, Said};
        let (msg, channel) = match is_final {
            None => {
                let said = Said { from, name, text };
                (ServerMessage::Chat(said.clone()), ChannelMessage::Chat(said))
            }
            Some(is_final) => {
                let caption = Caption { from, name, text, is_final };
                (ServerMessage::Caption(caption.clone()), ChannelMessage::Caption(caption))
            }
        };
        self.broadcast(&msg);
        self.channel_broadcast(&channel);
    }

    /// Applies a layout and tells everyone.
    fn set_layout(&mut self, spec: LayoutSpec) {
        tracing::info!(room = %self.id, mode = ?spec.mode, pinned = ?spec.pinned, locked = spec.locked, "layout");
        self.layout = spec.clone();
        self.broadcast(&ServerMessage::LayoutChanged { layout: spec.clone() });
        self.channel_broadcast(&crate::protocol::ChannelMessage::LayoutChanged { layout: spec });
    }
}

#[cfg(test)]
mod agent_tests;
#[cfg(test)]
mod stage_tests;
#[cfg(test)]
mod tests;
