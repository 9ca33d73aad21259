//! Active speaker detection (pure): level readings in, the active speaker out.
//!
//! Levels are smoothed; a challenger takes over only after being clearly louder than the
//! current speaker ([`MARGIN_DB`]) without a break for [`HOLD`]. Coughs and short words never
//! last that long, and two people trading short turns keep whoever spoke first.

use std::collections::HashMap;
use std::time::Duration;

use crate::ids::ParticipantId;

/// How long someone must be clearly louder to take over.
pub const HOLD: Duration = Duration::from_millis(1500);
/// How much louder (smoothed dB) a challenger must be than the current speaker.
pub const MARGIN_DB: f64 = 6.0;
/// Smoothed levels below this count as silence.
pub const SILENCE_DB: f64 = -50.0;
/// Weight of each new reading in the smoothed level (readings every ~100 ms: ~0.3 s memory).
const SMOOTHING: f64 = 0.3;

/// The detector's state.
#[derive(Debug, Default)]
pub struct SpeakerDetector {
    /// Smoothed level per participant, dBFS.
    levels: HashMap<ParticipantId, f64>,
    /// The active speaker.
    current: Option<ParticipantId>,
    /// Who is louder than the current speaker, and since when.
    challenger: Option<(ParticipantId, Duration)>,
}

impl SpeakerDetector {
    /// The active speaker.
    pub fn current(&self) -> Option<ParticipantId> {
        self.current
    }

    /// Forgets a participant who left.
    pub fn remove(&mut self, who: ParticipantId) {
        self.levels.remove(&who);
        if self.current == Some(who) {
            self.current = None;
        }
        if self.challenger.is_some_and(|(c, _)| c == who) {
            self.challenger = None;
        }
    }

    /// Takes one reading per publisher (dBFS) at time `now`; returns the new speaker when it
    /// changed.
    pub fn update(&mut self, now: Duration, readings: &[(ParticipantId, f64)]) -> Option<ParticipantId> {
        for &(who, db) in readings {
            let db = db.max(-120.0);
            let smoothed = self.levels.entry(who).or_insert(db);
            *smoothed += SMOOTHING * (db - *smoothed);
        }
        let level = |p: &ParticipantId| self.levels.get(p).copied().unwrap_or(-120.0);
        let loudest =
            self.levels.iter().filter(|(_, l)| **l > SILENCE_DB).max_by(|a, b| a.1.total_cmp(b.1)).map(|(p, _)| *p);
        let bar = self.current.map_or(SILENCE_DB, |c| level(&c).max(SILENCE_DB) + MARGIN_DB);
        match loudest.filter(|l| Some(*l) != self.current && level(l) > bar) {
            None => self.challenger = None,
            Some(l) => match self.challenger {
                Some((c, since)) if c == l => {
                    if now.saturating_sub(since) >= HOLD {
                        self.current = Some(l);
                        self.challenger = None;
                        return Some(l);
                    }
                }
                _ => self.challenger = Some((l, now)),
            },
        }
        None
    }
}

/// Runs a detector over a series of readings (time, [(who, dBFS)]) and returns the speaker at
/// the end.
pub fn speaker_of(series: &[(Duration, Vec<(ParticipantId, f64)>)]) -> Option<ParticipantId> {
    let mut d = SpeakerDetector::default();
    for (t, readings) in series {
        d.update(*t, readings);
    }
    d.current()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOUD: f64 = -15.0;
    const QUIET: f64 = -70.0;

    /// Readings every 100 ms for `secs`, from a function of time giving (a, b) levels.
    fn series(
        a: ParticipantId,
        b: ParticipantId,
        secs: f64,
        f: impl Fn(f64) -> (f64, f64),
    ) -> Vec<(Duration, Vec<(ParticipantId, f64)>)> {
        (0..(secs * 10.0) as u64)
            .map(|i| {
                let t = i as f64 / 10.0;
                let (la, lb) = f(t);
                (Duration::from_millis(i * 100), vec![(a, la), (b, lb)])
            })
            .collect()
    }

    fn pair() -> (ParticipantId, ParticipantId) {
        (ParticipantId::next(), ParticipantId::next())
    }

    #[test]
    fn steady_speaker() {
        let (a, b) = pair();
        assert_eq!(speaker_of(&series(a, b, 5.0, |_| (LOUD, QUIET))), Some(a));
        assert_eq!(speaker_of(&series(a, b, 1.0, |_| (LOUD, QUIET))), None, "not before 1.5 s");
        assert_eq!(speaker_of(&series(a, b, 5.0, |_| (QUIET, QUIET))), None, "silence elects nobody");
    }

    #[test]
    fn hand_over() {
        let (a, b) = pair();
        let talk = |t: f64| if t < 4.0 { (LOUD, QUIET) } else { (QUIET, LOUD) };
        assert_eq!(speaker_of(&series(a, b, 4.0 + 1.3, talk)), Some(a), "b not yet after 1.3 s");
        assert_eq!(speaker_of(&series(a, b, 4.0 + 1.8, talk)), Some(b), "b after the 1.5 s hold");
        // After a hand-over, falling silent keeps the last speaker.
        let quiet_after = |t: f64| if t < 3.0 { (LOUD, QUIET) } else { (QUIET, QUIET) };
        assert_eq!(speaker_of(&series(a, b, 8.0, quiet_after)), Some(a));
    }

    #[test]
    fn a_cough_does_not_switch() {
        let (a, b) = pair();
        // a speaks softly; b coughs loudly for 0.6 s twice.
        let cough = |t: f64| (-30.0, if (3.0..3.6).contains(&t) || (5.0..5.6).contains(&t) { -5.0 } else { QUIET });
        assert_eq!(speaker_of(&series(a, b, 8.0, cough)), Some(a));
    }

    #[test]
    fn fast_alternation_keeps_the_first() {
        let (a, b) = pair();
        // Both talk in 0.4 s turns after a has the floor.
        let turns = |t: f64| {
            if t < 2.0 {
                (LOUD, QUIET)
            } else if (((t - 2.0) / 0.4) as u64).is_multiple_of(2) {
                (QUIET, LOUD)
            } else {
                (LOUD, QUIET)
            }
        };
        let mut d = SpeakerDetector::default();
        let mut changes = Vec::new();
        for (t, r) in series(a, b, 10.0, turns) {
            if let Some(s) = d.update(t, &r) {
                changes.push(s);
            }
        }
        assert_eq!(changes, vec![a], "one election, no flapping");
    }

    #[test]
    fn leaving_speaker_is_replaced() {
        let (a, b) = pair();
        let mut d = SpeakerDetector::default();
        for (t, r) in series(a, b, 3.0, |_| (LOUD, -25.0)) {
            d.update(t, &r);
        }
        assert_eq!(d.current(), Some(a));
        d.remove(a);
        let mut changed = None;
        for i in 30..60u64 {
            changed = changed.or(d.update(Duration::from_millis(i * 100), &[(b, -25.0)]));
        }
        assert_eq!(changed, Some(b));
    }
}
