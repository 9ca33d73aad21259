//! What the composite shows, decided by the rules: the active speaker, where each publisher's
//! picture goes, whether it shows video or a placeholder, its name label, muted badge and the
//! speaker border; and the room's state on every participant's DataChannel.

use std::time::{Duration, Instant};

use super::{Output, RoomCore};
use crate::ids::ParticipantId;
use crate::layout;
use crate::layout::{Border, StagePlan, TilePlan};
use crate::media::VideoProgress;
use crate::protocol::{ChannelMessage, ChannelParticipant, Role, ServerMessage};
use crate::speaker::SILENCE_DB;

/// Audio this quiet for this long draws the muted badge, as if muted.
pub const SILENT_FOR: Duration = Duration::from_secs(5);
/// Video without a new frame for this long is replaced by the placeholder.
pub const STALL_AFTER: Duration = Duration::from_secs(1);

/// Stacking order of a tile's picture: custom regions' z spread out, room for its overlays above
/// (placeholder at the picture's z, then label, badge, border).
fn base_stack(tile_z: i32) -> u32 {
    10 + 10 * (tile_z.clamp(-100, 100) + 100) as u32
}

impl RoomCore {
    /// Reads a stage tick's levels and frame counts: who is quiet, whose video stalled, who
    /// speaks.
    pub(super) fn on_stage_tick(
        &mut self,
        levels: &[(ParticipantId, Option<f64>)],
        video: &[(ParticipantId, VideoProgress)],
        now: Instant,
    ) {
        // `None`: no audio arrived this tick. The detector skips it; for the silence badge it
        // counts as quiet (a publisher whose audio never arrives is as silent as one sending
        // zeros).
        for (who, db) in levels {
            let Some(p) = self.participants.get_mut(who) else { continue };
            if db.is_some_and(|db| db > SILENCE_DB - 10.0) {
                p.quiet_since = None;
            } else {
                p.quiet_since.get_or_insert(now);
            }
        }
        for (who, progress) in video {
            if let Some(p) = self.participants.get_mut(who) {
                let stalled = p.video_stalled(*progress, now, STALL_AFTER);
                if stalled != p.stalled {
                    let room = &self.id;
                    if stalled {
                        // Video that kept arriving without decoding (a keyframe awaited) is the
                        // server's to explain; none arriving, the publisher stopped sending.
                        let arriving = p.video_arrived_in_window(*progress);
                        let stall_ms = STALL_AFTER.as_millis() as u64;
                        tracing::info!(%room, participant = %who, arriving, stall_ms, "video stalled");
                    } else {
                        tracing::info!(%room, participant = %who, "video resumed");
                    }
                }
                p.stalled = stalled;
            }
        }
        let levels: Vec<_> = levels.iter().filter(|(who, _)| self.participants.contains_key(who)).copied().collect();
        if let Some(speaker) = self.detector.update(now.saturating_duration_since(self.created), &levels) {
            tracing::info!(room = %self.id, participant = %speaker, "active speaker");
            self.announce_speaker(Some(speaker));
        }
    }

    /// Tells everyone, on the socket and the DataChannel, who speaks now.
    pub(super) fn announce_speaker(&mut self, speaker: Option<ParticipantId>) {
        self.broadcast(&ServerMessage::SpeakerChanged { participant_id: speaker });
        self.channel_broadcast(&ChannelMessage::SpeakerChanged { participant_id: speaker });
    }

    /// Works out the stage now; hands it to the media layer when it changed, and tells the
    /// DataChannels when the participant list or their tiles did.
    pub(super) fn restage(&mut self, now: Instant) {
        let plan = self.plan(now);
        if plan != self.stage {
            self.stage = plan.clone();
            self.out.push(Output::Stage(plan));
        }
        let channel_list = self.channel_list();
        let list = serde_json::to_string(&channel_list).expect("serializes");
        if list != self.sent_channel_list {
            let ChannelMessage::Participants { canvas, participants } = channel_list else { unreachable!() };
            let everyone: Vec<(ParticipantId, Role)> =
                self.participants.values().map(|p| (p.info.id, p.info.role)).collect();
            for (to, role) in everyone {
                // Agents have no DataChannel: they get the list on their socket.
                self.out.push(match role {
                    Role::Agent => {
                        let msg = ServerMessage::Participants { canvas, participants: participants.clone() };
                        Output::Send { to, msg }
                    }
                    _ => Output::Channel { to, text: list.clone() },
                });
            }
            self.sent_channel_list = list;
        }
        self.send_video_constraints(now);
    }

    /// Places every publisher's video or placeholder, label and badge per the layout, and the
    /// border around the active speaker.
    fn plan(&self, now: Instant) -> StagePlan {
        let mut plan = StagePlan::default();
        if !self.settings.video {
            return plan;
        }
        let canvas = self.settings.canvas;
        let decorate = self.settings.decorations;
        let order: Vec<ParticipantId> =
            self.participants.values().filter(|p| p.info.role.has_tile()).map(|p| p.info.id).collect();
        let speaker = self.detector.current();
        let placed = layout::place(&self.layout, &order, speaker, canvas);
        for id in order {
            let p = &self.participants[&id];
            let Some(tile) = placed.iter().find(|t| t.participant == id) else {
                plan.hidden.push(id);
                continue;
            };
            let (size, par) = p.video.format.unwrap_or((canvas, (1, 1)));
            let rect = layout::fit(tile.cell, size, par);
            let stack = base_stack(tile.z);
            let silent = p.quiet_since.is_some_and(|t| now.saturating_duration_since(t) >= SILENT_FOR);
            let places = layout::decorations(canvas, rect);
            if speaker == Some(id) {
                plan.border = places.border.filter(|_| decorate).map(|strips| Border { strips, stack: stack + 3 });
            }
            plan.tiles.push(TilePlan {
                participant: id,
                rect,
                z: tile.z,
                stack,
                video: p.video.flowing && !p.muted.video && !p.stalled,
                name: p.info.name.clone(),
                label: places.label.filter(|_| decorate),
                badge: places.badge.filter(|_| decorate && (p.muted.audio || silent)),
            });
        }
        plan
    }

    /// Sends the whole room state on a DataChannel that just opened.
    pub(super) fn on_channel_open(&mut self, who: ParticipantId) {
        if !self.participants.contains_key(&who) {
            return;
        }
        let layout = ChannelMessage::LayoutChanged { layout: self.layout.clone() };
        let speaker = ChannelMessage::SpeakerChanged { participant_id: self.detector.current() };
        let constraints = self.constraints_sent(who).map(ChannelMessage::VideoConstraints);
        for msg in [self.channel_list(), layout, speaker].into_iter().chain(constraints) {
            self.out.push(Output::Channel { to: who, text: serde_json::to_string(&msg).expect("serializes") });
        }
    }

    /// Everyone, with the tile each publisher shows in (from the last stage).
    fn channel_list(&self) -> ChannelMessage {
        let participants = self
            .participants
            .values()
            .map(|p| {
                let placed = self.stage.tiles.iter().find(|t| t.participant == p.info.id);
                ChannelParticipant {
                    id: p.info.id,
                    name: p.info.name.clone(),
                    role: p.info.role,
                    tile: placed.map(|t| t.rect),
                    z: placed.map_or(0, |t| t.z),
                }
            })
            .collect();
        ChannelMessage::Participants { canvas: self.settings.canvas, participants }
    }

    /// Sends `msg` on every DataChannel (agents, which have none, get its socket twin).
    pub(super) fn channel_broadcast(&mut self, msg: &ChannelMessage) {
        let text = serde_json::to_string(msg).expect("serializes");
        let everyone: Vec<ParticipantId> =
            self.participants.values().filter(|p| p.info.role != Role::Agent).map(|p| p.info.id).collect();
        for to in everyone {
            self.out.push(Output::Channel { to, text: text.clone() });
        }
    }
}
