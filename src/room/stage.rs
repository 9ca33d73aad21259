//! What the composite shows, as the room task decides it: the layout, the active speaker, who
//! is muted or without video, and the room events on every participant's DataChannel.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use tracing::info;

use super::task::Room;
use crate::ids::ParticipantId;
use crate::layout::LayoutSpec;
use crate::media::Decor;
use crate::protocol::{ChannelMessage, ChannelParticipant, ErrorCode, Role, ServerMessage};
use crate::speaker::{SILENCE_DB, SpeakerDetector};

/// How often levels are read and decorations refreshed.
pub(super) const STAGE_TICK: Duration = Duration::from_millis(100);
/// Audio this quiet for this long draws the muted badge, as if muted.
const SILENT_FOR: Duration = Duration::from_secs(5);
/// Video without a new frame for this long is replaced by the placeholder.
const STALL_AFTER: Duration = Duration::from_secs(1);
/// `setLayout` and `mute` messages a participant may send in a burst...
const BURST: f64 = 10.0;
/// ...and per second after that. A person clicking is far below; a script flooding the room
/// (every message relayouts and is told to everyone) is cut off.
const PER_SECOND: f64 = 2.0;

/// A token bucket: [`BURST`] messages at once, then [`PER_SECOND`].
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Messages that may be sent now.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

impl Bucket {
    fn full(now: Instant) -> Self {
        Self { tokens: BURST, at: now }
    }

    /// Takes one message's token; false when there is none left.
    fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * PER_SECOND;
        self.tokens = (self.tokens + refill).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The room task's view of the stage.
pub(super) struct Stage {
    /// Active speaker detection.
    detector: SpeakerDetector,
    /// When the stage started (the detector's clock).
    started: Instant,
    /// Recent decoded-frame counts per publisher, to notice stalled video.
    frames: HashMap<ParticipantId, VecDeque<(Instant, u64)>>,
    /// When each publisher's audio went quiet.
    quiet_since: HashMap<ParticipantId, Instant>,
    /// The participant list last sent on the DataChannels (JSON).
    sent_participants: String,
    /// Per participant, how many `setLayout` and `mute` messages they may still send.
    budgets: HashMap<ParticipantId, Bucket>,
}

impl Default for Stage {
    fn default() -> Self {
        Self {
            detector: SpeakerDetector::default(),
            started: Instant::now(),
            frames: HashMap::new(),
            quiet_since: HashMap::new(),
            sent_participants: String::new(),
            budgets: HashMap::new(),
        }
    }
}

impl Room {
    /// Reads levels and frame counts: elects the speaker, refreshes decorations, and tells the
    /// DataChannels when tiles moved.
    pub(super) fn on_stage_tick(&mut self) {
        let now = Instant::now();
        // `None`: no audio arrived this tick. The detector skips it; for the silence badge it
        // counts as quiet (a publisher whose audio never arrives is as silent as one sending
        // zeros).
        let readings = self.media.take_levels();
        for (who, db) in &readings {
            if db.is_some_and(|db| db > SILENCE_DB - 10.0) {
                self.stage.quiet_since.remove(who);
            } else {
                self.stage.quiet_since.entry(*who).or_insert(now);
            }
        }
        if let Some(speaker) = self.stage.detector.update(now - self.stage.started, &readings) {
            info!(room = %self.id, participant = %speaker, "active speaker");
            self.media.set_speaker(Some(speaker));
            self.broadcast(&ServerMessage::SpeakerChanged { participant_id: Some(speaker) });
            self.broadcast_channel(&ChannelMessage::SpeakerChanged { participant_id: Some(speaker) });
        }
        let publishers: Vec<ParticipantId> = readings.iter().map(|(p, _)| *p).collect();
        for who in publishers {
            let decor = self.decor_of(who, now);
            self.media.set_decor(who, decor);
        }
        self.refresh_channel_participants();
    }

    /// Sends the participant list (with tiles) on the DataChannels when it differs from the one
    /// last sent: joins and leaves (viewers too), tiles that moved, a layout or speaker change.
    pub(super) fn refresh_channel_participants(&mut self) {
        let list = serde_json::to_string(&self.channel_participants()).expect("serializes");
        if list != self.stage.sent_participants {
            for id in self.participants.keys() {
                self.media.send_channel(*id, &list);
            }
            self.stage.sent_participants = list;
        }
    }

    /// What to draw for a publisher now.
    fn decor_of(&mut self, who: ParticipantId, now: Instant) -> Decor {
        let (name, (audio_muted, video_muted)) = match self.participants.get(&who) {
            Some(p) => (p.info.name.clone(), p.muted),
            None => return Decor::default(),
        };
        let frames = self.media.inbound(who).map_or(0, |s| s.frames);
        let history = self.stage.frames.entry(who).or_default();
        history.push_back((now, frames));
        while history.len() > 2 && now - history[1].0 >= STALL_AFTER {
            history.pop_front();
        }
        let stalled =
            self.media.has_video(who) && history.front().is_some_and(|(t, f)| now - *t >= STALL_AFTER && *f == frames);
        let silent = self.stage.quiet_since.get(&who).is_some_and(|t| now - *t >= SILENT_FOR);
        Decor { name, audio_muted: audio_muted || silent, video_off: video_muted || stalled }
    }

    /// Whether `who` may send another `setLayout` or `mute` now; tells them when not.
    fn within_budget(&mut self, who: ParticipantId, what: &str) -> bool {
        let now = Instant::now();
        if self.stage.budgets.entry(who).or_insert_with(|| Bucket::full(now)).take(now) {
            return true;
        }
        let msg = format!("too many {what} messages: at most {BURST} at once, then {PER_SECOND} per second");
        self.send(who, ServerMessage::error(ErrorCode::RateLimited, msg));
        false
    }

    /// A participant's microphone/camera state changed (their `mute` message).
    pub(super) fn on_mute(&mut self, who: ParticipantId, audio: bool, video: bool) {
        if !self.within_budget(who, "mute") {
            return;
        }
        let Some(p) = self.participants.get_mut(&who) else { return };
        if p.muted == (audio, video) {
            return;
        }
        p.muted = (audio, video);
        self.broadcast(&ServerMessage::MuteChanged { participant_id: who, audio, video });
        let decor = self.decor_of(who, Instant::now());
        self.media.set_decor(who, decor);
    }

    /// A participant asks for a layout: applied unless an administrator locked it.
    pub(super) fn on_layout_request(&mut self, who: ParticipantId, spec: LayoutSpec) {
        if !self.within_budget(who, "setLayout") {
            return;
        }
        if self.media.layout().locked {
            self.send(who, ServerMessage::error(ErrorCode::LayoutLocked, "an administrator locked this room's layout"));
        } else if spec != *self.media.layout() {
            self.set_layout(spec);
        }
    }

    /// Applies a layout and tells everyone.
    pub(super) fn set_layout(&mut self, spec: LayoutSpec) -> LayoutSpec {
        info!(room = %self.id, mode = ?spec.mode, pinned = ?spec.pinned, locked = spec.locked, "layout");
        self.media.set_layout(spec.clone());
        self.broadcast(&ServerMessage::LayoutChanged { layout: spec.clone() });
        self.broadcast_channel(&ChannelMessage::LayoutChanged { layout: spec.clone() });
        self.refresh_channel_participants();
        spec
    }

    /// Forgets a participant who left.
    pub(super) fn stage_forget(&mut self, who: ParticipantId) {
        let was_speaker = self.stage.detector.current() == Some(who);
        self.stage.detector.remove(who);
        self.stage.frames.remove(&who);
        self.stage.quiet_since.remove(&who);
        self.stage.budgets.remove(&who);
        if was_speaker {
            self.broadcast(&ServerMessage::SpeakerChanged { participant_id: None });
            self.broadcast_channel(&ChannelMessage::SpeakerChanged { participant_id: None });
        }
    }

    /// The messages a newcomer gets right after `joined`: the layout and the active speaker.
    pub(super) fn stage_for_newcomer(&self) -> Vec<ServerMessage> {
        let mut out = vec![ServerMessage::LayoutChanged { layout: self.media.layout().clone() }];
        if let Some(s) = self.stage.detector.current() {
            out.push(ServerMessage::SpeakerChanged { participant_id: Some(s) });
        }
        out
    }

    /// Sends the whole room state on a DataChannel that just opened.
    pub(super) fn on_channel_open(&self, who: ParticipantId) {
        let layout = ChannelMessage::LayoutChanged { layout: self.media.layout().clone() };
        let speaker = ChannelMessage::SpeakerChanged { participant_id: self.stage.detector.current() };
        for msg in [self.channel_participants(), layout, speaker] {
            self.media.send_channel(who, &serde_json::to_string(&msg).expect("serializes"));
        }
    }

    fn channel_participants(&self) -> ChannelMessage {
        let tiles = self.media.tiles();
        let participants = self
            .participants
            .values()
            .map(|p| {
                let placed = tiles.iter().find(|t| t.participant == p.info.id && p.info.role == Role::Publisher);
                ChannelParticipant {
                    id: p.info.id,
                    name: p.info.name.clone(),
                    role: p.info.role,
                    tile: placed.map(|t| t.rect),
                    z: placed.map_or(0, |t| t.z),
                }
            })
            .collect();
        ChannelMessage::Participants { canvas: self.media.canvas(), participants }
    }

    fn broadcast_channel(&self, msg: &ChannelMessage) {
        let text = serde_json::to_string(msg).expect("serializes");
        for id in self.participants.keys() {
            self.media.send_channel(*id, &text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_two_per_second() {
        let t0 = Instant::now();
        let mut b = Bucket::full(t0);
        let sent = (0..50).filter(|_| b.take(t0)).count();
        assert_eq!(sent, BURST as usize, "a burst of 10, then refused");
        assert!(!b.take(t0 + Duration::from_millis(400)), "0.8 of a token after 400 ms");
        assert!(b.take(t0 + Duration::from_millis(500)), "one token per 500 ms");
        assert!(!b.take(t0 + Duration::from_millis(600)));
        // A flood of 100 messages a second for 10 s gets 10 + 2 per second through.
        let mut b = Bucket::full(t0);
        let sent = (0..1000).filter(|i| b.take(t0 + Duration::from_millis(i * 10))).count();
        assert!((29..=31).contains(&sent), "{sent} let through");
        // Someone toggling mute every 2 s is never refused, and refills to a full burst.
        let mut b = Bucket::full(t0);
        assert!((0..100).all(|i| b.take(t0 + Duration::from_secs(2 * i))));
        b.take(t0 + Duration::from_secs(1000));
        assert!((0..9).all(|_| b.take(t0 + Duration::from_secs(1000))), "capped at the burst");
    }
}
