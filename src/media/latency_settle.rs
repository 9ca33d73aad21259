//! Recomputing the room pipeline's latency once a burst of changes has settled, not once per
//! change.
//!
//! Elements post a LATENCY message when their latency changes, and the application answers
//! with `gst_bin_recalculate_latency`: a latency query from every sink, each of which walks
//! upstream through the mixers to every input. With N publishers that is N sinks times N
//! inputs, on the room's thread: at 25 publishers one recalculation took 100–225 ms, and
//! joining peers post about seven messages each (jitter buffers, `nicesink`s, appsinks, each
//! mix-minus encoder), so the room's thread spent 15.5 s of a 30 s run recalculating
//! (`tessera-bench loadgen --publishers 25`, release server). The mixers do not wait on it:
//! each caps what its inputs may report (see `mix_latency`), so the answer barely moves.

use std::time::{Duration, Instant};

/// A burst has settled when no message came for this long.
const QUIET: Duration = Duration::from_millis(200);
/// But no change waits longer than this for its recalculation.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// LATENCY messages not yet answered.
#[derive(Debug, Default)]
pub(super) struct PendingLatency {
    /// When the first unanswered message came, and the last.
    since: Option<(Instant, Instant)>,
}

impl PendingLatency {
    /// A LATENCY message came at `now`.
    pub(super) fn note(&mut self, now: Instant) {
        let first = self.since.map_or(now, |(first, _)| first);
        self.since = Some((first, now));
    }

    /// Whether to recalculate at `now`: the messages went quiet, or the first has waited long
    /// enough. Answers yes once per burst.
    pub(super) fn due(&mut self, now: Instant) -> bool {
        let Some((first, last)) = self.since else { return false };
        let due = now.duration_since(last) >= QUIET || now.duration_since(first) >= MAX_WAIT;
        if due {
            self.since = None;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_burst_is_answered_once_when_it_goes_quiet() {
        let t0 = Instant::now();
        let mut pending = PendingLatency::default();
        assert!(!pending.due(t0), "nothing to answer");
        for i in 0..5 {
            pending.note(t0 + 30 * i * MS);
            assert!(!pending.due(t0 + 30 * i * MS + 100 * MS), "still arriving");
        }
        assert!(pending.due(t0 + 120 * MS + QUIET));
        assert!(!pending.due(t0 + 120 * MS + QUIET + 100 * MS), "answered once");
    }

    #[test]
    fn a_steady_stream_is_answered_at_least_every_max_wait() {
        let t0 = Instant::now();
        let mut pending = PendingLatency::default();
        let mut answered = Vec::new();
        for i in 0..30 {
            let now = t0 + 100 * i * MS;
            pending.note(now);
            if pending.due(now) {
                answered.push(i);
            }
        }
        assert_eq!(answered, vec![10, 21], "every 1 s while messages keep coming every 100 ms");
    }
}
