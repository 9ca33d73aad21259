//! One room's share of the metrics, kept by the room's actor: participants by role (applied to
//! the server-wide gauges as differences), joins and leaves, and once a second the composite's
//! frame rate and encoder time and each participant's inbound rates folded into histograms.
//! Dropping it takes the room's series away and its participants out of the gauges.

use crate::protocol::Role;
use crate::room::core::LeaveReason;

use super::{ReasonLabel, RoleLabel, RoomLabel, get, role_name};

/// What one second of a room looked like.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct RoomSecond {
    /// Composite frames per second and mean encoder time per frame (seconds); none in an
    /// audio-only room, or before its first full second.
    pub composite: Option<(f64, f64)>,
    /// Mixes being encoded.
    pub mixes: i64,
    /// Keyframes the composite's encoder produced in that second.
    pub keyframes: u64,
    /// Times the composite was late and skipped ahead in that second.
    pub late_skips: u64,
    /// Each publisher's decoded frames per second.
    pub publisher_fps: Vec<f64>,
    /// Each participant's inbound bitrate, kbit/s.
    pub inbound_kbps: Vec<f64>,
    /// Each participant's fraction of inbound packets lost in that second.
    pub loss: Vec<f64>,
    /// Each participant's largest inbound jitter, seconds.
    pub jitter: Vec<f64>,
    /// NACKs sent for everyone's streams in that second.
    pub nacks: u64,
    /// PLIs and FIRs sent for everyone's streams in that second.
    pub plis: u64,
}

/// The room's contribution to the server's metrics.
#[derive(Debug)]
pub(crate) struct RoomMetrics {
    /// Its label.
    label: RoomLabel,
    /// Publishers and viewers counted into the gauges.
    counted: [i64; 3],
}

impl RoomMetrics {
    /// A room called `room`, with nobody in it yet.
    pub fn new(room: &str) -> Self {
        Self { label: RoomLabel { room: room.to_owned() }, counted: [0; 3] }
    }

    /// Someone was admitted.
    pub fn joined(&mut self, role: Role) {
        get().joins.get_or_create(&RoleLabel { role: role_name(role) }).inc();
        self.set_count(role, self.counted[index(role)] + 1);
    }

    /// Someone was removed.
    pub fn left(&mut self, role: Role, reason: LeaveReason) {
        get().leaves.get_or_create(&ReasonLabel { reason: reason.as_str() }).inc();
        self.set_count(role, self.counted[index(role)] - 1);
    }

    fn set_count(&mut self, role: Role, count: i64) {
        let delta = count - self.counted[index(role)];
        self.counted[index(role)] = count;
        get().participants.get_or_create(&RoleLabel { role: role_name(role) }).inc_by(delta);
    }

    /// The room's last second.
    pub fn second(&self, s: &RoomSecond) {
        let m = get();
        if let Some((fps, encode)) = s.composite {
            m.composite_fps.get_or_create(&self.label).set(fps);
            m.encode_seconds.get_or_create(&self.label).set(encode);
        }
        m.mixes_encoded.get_or_create(&self.label).set(s.mixes);
        m.composite_keyframes.inc_by(s.keyframes);
        m.composite_late_skips.inc_by(s.late_skips);
        for fps in &s.publisher_fps {
            m.inbound_fps.observe(*fps);
        }
        for kbps in &s.inbound_kbps {
            m.inbound_kbps.observe(*kbps);
        }
        for loss in &s.loss {
            m.inbound_loss.observe(*loss);
        }
        for jitter in &s.jitter {
            m.inbound_jitter.observe(*jitter);
        }
        m.inbound_nacks.inc_by(s.nacks);
        m.inbound_plis.inc_by(s.plis);
    }
}

fn index(role: Role) -> usize {
    match role {
        Role::Publisher => 0,
        Role::Viewer => 1,
        Role::Agent => 2,
    }
}

impl Drop for RoomMetrics {
    fn drop(&mut self) {
        for role in [Role::Publisher, Role::Viewer, Role::Agent] {
            self.set_count(role, 0);
        }
        let m = get();
        m.composite_fps.remove(&self.label);
        m.encode_seconds.remove(&self.label);
        m.mixes_encoded.remove(&self.label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participants(role: &'static str) -> i64 {
        get().participants.get_or_create(&RoleLabel { role }).get()
    }

    #[test]
    fn a_room_adds_its_people_and_takes_them_and_its_series_away() {
        let (publishers, viewers) = (participants("publisher"), participants("viewer"));
        let mut room = RoomMetrics::new("metrics-unit-room");
        room.joined(Role::Publisher);
        room.joined(Role::Publisher);
        room.joined(Role::Viewer);
        room.left(Role::Publisher, LeaveReason::Kicked);
        room.second(&RoomSecond { composite: Some((30.0, 0.002)), mixes: 3, ..Default::default() });
        assert_eq!((participants("publisher") - publishers, participants("viewer") - viewers), (1, 1));
        let text = get().encode();
        assert!(text.contains("tessera_room_composite_fps{room=\"metrics-unit-room\"} 30.0"), "{text}");
        assert!(text.contains("tessera_room_mixes_encoded{room=\"metrics-unit-room\"} 3"), "{text}");
        drop(room);
        assert_eq!((participants("publisher"), participants("viewer")), (publishers, viewers));
        assert!(!get().encode().contains("metrics-unit-room"), "the room's series went with it");
    }
}
