//! Active speaker detection (pure): level readings in, the active speaker out.
//!
//! Each publisher's reading is the RMS level (dBFS) of its audio over one tick (~100 ms); that
//! window is the only smoothing. Someone takes the floor from the current speaker only after
//! being clearly louder ([`MARGIN_DB`] above the speaker, and above [`SILENCE_DB`]) for
//! [`HOLD`]: pauses between words up to [`PAUSE`] do not restart that hold, but the challenger
//! must be ahead in at least two thirds of its ticks. So a cough, a short word, typing, or two
//! people trading quick turns never switch it, while a real hand-over takes about 1.5 s.
//!
//! A tick without a reading for someone (no audio arrived) is skipped, not read as silence; a
//! participant with no reading for [`STALE`] counts as silent. Ties go to the louder, then to
//! the one who joined first (lower id), so the result does not depend on hashing.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::ids::ParticipantId;

/// How long someone must be clearly louder to take over.
pub const HOLD: Duration = Duration::from_millis(1500);
/// How much louder (dB) a challenger must be than the current speaker.
pub const MARGIN_DB: f64 = 6.0;
/// Levels at or below this count as silence.
pub const SILENCE_DB: f64 = -50.0;
/// A challenger may fall behind for this long (a pause between words) without losing its hold.
pub const PAUSE: Duration = Duration::from_millis(400);
/// Without a reading for this long, a participant counts as silent.
pub const STALE: Duration = Duration::from_millis(500);
/// Share of a challenge's ticks it must have been ahead in: two thirds.
const AHEAD_SHARE: (u32, u32) = (2, 3);

/// One participant's level and challenge.
#[derive(Debug, Clone)]
struct Track {
    /// Last reading, dBFS.
    level: f64,
    /// When the last reading came.
    last_reading: Duration,
    /// Set while this participant is trying to take the floor.
    challenge: Option<Challenge>,
}

/// A participant being clearly louder than the current speaker, with pauses.
#[derive(Debug, Clone, Copy)]
struct Challenge {
    /// When it started.
    since: Duration,
    /// The last tick it was ahead.
    last_ahead: Duration,
    /// Ticks it was ahead in, of all its ticks.
    ahead: u32,
    /// Ticks since it started.
    ticks: u32,
}

/// The detector's state.
#[derive(Debug, Default)]
pub struct SpeakerDetector {
    /// Per participant, in join order (ids grow with joins).
    tracks: BTreeMap<ParticipantId, Track>,
    /// The active speaker.
    current: Option<ParticipantId>,
}

impl SpeakerDetector {
    /// The active speaker.
    pub fn current(&self) -> Option<ParticipantId> {
        self.current
    }

    /// Forgets a participant who left.
    pub fn remove(&mut self, who: ParticipantId) {
        self.tracks.remove(&who);
        if self.current == Some(who) {
            self.current = None;
            self.tracks.values_mut().for_each(|t| t.challenge = None);
        }
    }

    /// The level of `who` at `now` (silence when unknown or stale).
    pub fn level(&self, who: ParticipantId, now: Duration) -> f64 {
        self.tracks.get(&who).filter(|t| now.saturating_sub(t.last_reading) <= STALE).map_or(-120.0, |t| t.level)
    }

    /// Takes this tick's readings at time `now`: per publisher its level in dBFS, or `None`
    /// when no audio arrived since the last tick. Returns the new speaker when it changed.
    pub fn update(&mut self, now: Duration, readings: &[(ParticipantId, Option<f64>)]) -> Option<ParticipantId> {
        for &(who, db) in readings {
            let Some(db) = db.filter(|d| !d.is_nan()) else { continue };
            let track = self.tracks.entry(who).or_insert(Track { level: db, last_reading: now, challenge: None });
            (track.level, track.last_reading) = (db.clamp(-120.0, 0.0), now);
        }
        let bar = self.current.map_or(SILENCE_DB, |c| (self.level(c, now) + MARGIN_DB).max(SILENCE_DB));
        let levels: BTreeMap<ParticipantId, f64> = self.tracks.keys().map(|p| (*p, self.level(*p, now))).collect();
        let mut ready: Vec<(ParticipantId, f64)> = Vec::new();
        for (who, track) in &mut self.tracks {
            if Some(*who) == self.current {
                continue;
            }
            let level = levels[who];
            if track.challenge.is_some_and(|c| now.saturating_sub(c.last_ahead) > PAUSE) {
                track.challenge = None;
            }
            let ahead = level > bar;
            if ahead && track.challenge.is_none() {
                track.challenge = Some(Challenge { since: now, last_ahead: now, ahead: 0, ticks: 0 });
            }
            let Some(c) = &mut track.challenge else { continue };
            c.ticks += 1;
            if ahead {
                c.ahead += 1;
                c.last_ahead = now;
            }
            let held = now.saturating_sub(c.since) >= HOLD;
            let steady = c.ahead * AHEAD_SHARE.1 >= c.ticks * AHEAD_SHARE.0;
            if ahead && held && steady {
                ready.push((*who, level));
            }
        }
        // The loudest of those ready; on a tie, the first to have joined.
        let (winner, _) = ready.into_iter().reduce(|best, next| if next.1 > best.1 { next } else { best })?;
        self.current = Some(winner);
        self.tracks.values_mut().for_each(|t| t.challenge = None);
        Some(winner)
    }
}

#[cfg(test)]
mod tests;
