//! What a room tells the outside about itself: its share of the metrics ([`RoomMetrics`]) and
//! its webhook events. Called by the actor where things happen; nothing here waits.

use std::collections::BTreeMap;
use std::time::Instant;

use super::actor::RoomActor;
use super::core::LeaveReason;
use crate::ids::{ParticipantId, RecordingId};
use crate::media::{CompositeSnapshot, ReceptionSnapshot};
use crate::metrics::{RoomMetrics, RoomSecond};
use crate::protocol::{ParticipantInfo, Role};
use crate::recording::RecordingState;
use crate::webhooks::{self, Event};

/// The room's reporting state.
#[derive(Debug)]
pub(super) struct Reports {
    /// Its metrics.
    metrics: RoomMetrics,
    /// The composite's counters at the last second, and when.
    last_composite: Option<(Instant, CompositeSnapshot)>,
    /// Times the composite skipped ahead, as of the last second.
    last_late_skips: u64,
    /// Each participant's reception at the last second.
    last_reception: BTreeMap<ParticipantId, ReceptionSnapshot>,
}

impl Reports {
    /// A new room called `room`: `room_started`.
    pub(super) fn start(room: &crate::ids::RoomId) -> Self {
        webhooks::emit(room, Event::RoomStarted);
        Self {
            metrics: RoomMetrics::new(room.as_str()),
            last_composite: None,
            last_late_skips: 0,
            last_reception: BTreeMap::new(),
        }
    }
}

impl RoomActor {
    /// Someone was admitted.
    pub(super) fn report_join(&mut self, id: ParticipantId) {
        let Some(p) = self.core.participants().find(|p| p.info.id == id) else { return };
        let participant = p.info.clone();
        self.reports.metrics.joined(participant.role);
        webhooks::emit(&self.id, Event::ParticipantJoined { participant });
    }

    /// Someone was removed.
    pub(super) fn report_leave(&mut self, info: ParticipantInfo, reason: LeaveReason) {
        self.reports.metrics.left(info.role, reason);
        webhooks::emit(&self.id, webhooks::participant_left(info, reason));
    }

    /// A recording moved to `state` (reported once: the store moves only forward).
    pub(super) fn advance_recording(&self, id: RecordingId, state: RecordingState, error: Option<String>) {
        if !self.store.advance(id, state, error) {
            return;
        }
        if let Some(event) = self.store.get(id).as_ref().and_then(webhooks::recording_event) {
            webhooks::emit(&self.id, event);
        }
    }

    /// Once a second: the composite's rate and encoder time, everyone's inbound rates.
    pub(super) fn report_second(&mut self) {
        let now = Instant::now();
        let composite = self.media.composite();
        let mut second = RoomSecond::default();
        if let (Some(current), Some((then, last))) = (composite, self.reports.last_composite) {
            let secs = now.saturating_duration_since(then).as_secs_f64().max(1e-3);
            let fps = current.frames.saturating_sub(last.frames) as f64 / secs;
            second.composite = Some((fps, current.encode_seconds_since(&last)));
            second.keyframes = current.keyframes.saturating_sub(last.keyframes);
        }
        self.reports.last_composite = composite.map(|c| (now, c));
        let late_skips = self.media.late_skips();
        second.late_skips = late_skips.saturating_sub(self.reports.last_late_skips);
        self.reports.last_late_skips = late_skips;
        let mut reception = BTreeMap::new();
        for p in self.core.participants() {
            if let Some(now) = self.media.reception(p.info.id) {
                let last = self.reports.last_reception.get(&p.info.id).copied().unwrap_or_default();
                if now.received > last.received {
                    second.loss.push(now.loss_since(&last));
                    second.jitter.push(now.jitter);
                }
                second.nacks += now.nacks.saturating_sub(last.nacks);
                second.plis += now.plis.saturating_sub(last.plis);
                reception.insert(p.info.id, now);
            }
            let rates = p.rates();
            second.inbound_kbps.push(rates.bitrate_kbps);
            if p.info.role == Role::Publisher {
                second.publisher_fps.push(rates.fps);
            }
        }
        // The full audio mix (while someone hears it), the composite, and each talker's own
        // encode (running now).
        let full_mix = i64::from(self.media.full_mix_heard());
        second.mixes = full_mix + i64::from(composite.is_some()) + self.media.mix_minus_counts().on_own as i64;
        self.reports.last_reception = reception;
        self.reports.metrics.second(&second);
        // Read at the next second.
        self.media.request_reception();
    }
}

fn rfc3339(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

impl RoomActor {
    /// The room's detail for `GET /api/rooms/{room}`.
    pub(super) fn info(&self) -> super::RoomInfo {
        super::RoomInfo {
            id: self.id.clone(),
            created_at: rfc3339(self.created_at),
            uptime_secs: self.created.elapsed().as_secs_f64(),
            participants: self
                .core
                .participants()
                .map(|p| super::ParticipantStatus {
                    id: p.info.id,
                    name: p.info.name.clone(),
                    role: p.info.role,
                    joined_at: rfc3339(p.joined_at),
                    inbound: p.rates(),
                    video_size: p.video_size(),
                    video_constraints: p.video_constraints(),
                })
                .collect(),
            pipeline_elements: self.media.element_count(),
            pipeline: self.media.inventory(),
            layout: self.core.layout().clone(),
            speaker: self.core.speaker(),
        }
    }
}
