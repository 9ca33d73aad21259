//! Speaker detection over speech-like level series: syllables, pauses between words and
//! sentences, coughs, quick interjections, missing readings, three talkers.

use super::*;

/// One tick of readings.
const TICK: Duration = Duration::from_millis(100);
/// A quiet room's noise floor, dBFS.
const FLOOR: f64 = -65.0;

/// What one participant sends, per 10 ms: a level in dBFS, or nothing (no audio at all).
#[derive(Clone)]
struct Voice(Vec<Option<f64>>);

/// A tiny deterministic generator (64-bit LCG), so every run sees the same speech.
struct Lcg(u64);

impl Lcg {
    /// A number in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        lo + (self.0 >> 33) % (hi - lo)
    }
}

impl Voice {
    /// The noise floor for `secs`.
    fn quiet(secs: f64) -> Self {
        Self(vec![Some(FLOOR); (secs * 100.0) as usize])
    }

    /// Sets `from..to` s (in 10 ms steps) with `f(ms since from)`.
    fn with(mut self, from: f64, to: f64, mut f: impl FnMut(usize) -> Option<f64>) -> Self {
        let b = ((to * 100.0) as usize).min(self.0.len());
        let a = ((from * 100.0) as usize).min(b);
        for (i, slot) in self.0[a..b].iter_mut().enumerate() {
            *slot = f(i * 10);
        }
        self
    }

    /// Speech at about `db` from `from` to `to` s: syllables of 120–300 ms (±3 dB) with
    /// 40–100 ms gaps, words of 1–4 syllables with 150–300 ms pauses, and a 500–800 ms pause
    /// every 6–10 words.
    fn speak(self, seed: u64, db: f64, from: f64, to: f64) -> Self {
        let mut rng = Lcg(seed);
        let mut envelope = Vec::new();
        while envelope.len() < ((to - from) * 100.0) as usize {
            for _ in 0..rng.range(6, 11) {
                for s in 0..rng.range(1, 5) {
                    if s > 0 {
                        envelope.extend(std::iter::repeat_n(FLOOR, rng.range(4, 11) as usize));
                    }
                    let level = db + rng.range(0, 7) as f64 - 3.0;
                    envelope.extend(std::iter::repeat_n(level, rng.range(12, 31) as usize));
                }
                envelope.extend(std::iter::repeat_n(FLOOR, rng.range(15, 31) as usize));
            }
            envelope.extend(std::iter::repeat_n(FLOOR, rng.range(50, 81) as usize));
        }
        self.with(from, to, |ms| Some(envelope[ms / 10]))
    }

    /// A steady sound at `db` from `from` to `to` s (a cough, a tone, a shout).
    fn steady(self, db: f64, from: f64, to: f64) -> Self {
        self.with(from, to, |_| Some(db))
    }

    /// No audio at all from `from` to `to` s.
    fn gone(self, from: f64, to: f64) -> Self {
        self.with(from, to, |_| None)
    }

    /// The reading of tick `i` (RMS of its 10 ms levels, as the server measures a tick), or
    /// `None` if no audio came in that tick.
    fn reading(&self, i: usize) -> Option<f64> {
        let powers: Vec<f64> = self.0[i * 10..(i + 1) * 10].iter().flatten().map(|db| 10f64.powf(db / 10.0)).collect();
        (!powers.is_empty()).then(|| 10.0 * (powers.iter().sum::<f64>() / powers.len() as f64).log10())
    }
}

/// Runs a detector over `voices` with readings every `tick`; returns every change (time, who).
fn changes_every(tick: Duration, voices: &[(ParticipantId, &Voice)]) -> Vec<(f64, ParticipantId)> {
    let len = voices.iter().map(|(_, v)| v.0.len() / 10).min().unwrap_or(0);
    let per = (tick.as_millis() / 100) as usize;
    let mut d = SpeakerDetector::default();
    let mut out = Vec::new();
    for i in (per..=len).step_by(per) {
        let now = TICK * i as u32;
        // A slower tick reads everything since the last one, as `take_level` does.
        let readings: Vec<_> = voices.iter().map(|(p, v)| (*p, merged(v, i - per..i))).collect();
        if let Some(s) = d.update(now, &readings) {
            out.push((now.as_secs_f64(), s));
        }
    }
    out
}

fn merged(v: &Voice, ticks: std::ops::Range<usize>) -> Option<f64> {
    let powers: Vec<f64> = ticks.filter_map(|i| v.reading(i)).map(|db| 10f64.powf(db / 10.0)).collect();
    (!powers.is_empty()).then(|| 10.0 * (powers.iter().sum::<f64>() / powers.len() as f64).log10())
}

fn changes(voices: &[(ParticipantId, &Voice)]) -> Vec<(f64, ParticipantId)> {
    changes_every(TICK, voices)
}

fn ids<const N: usize>() -> [ParticipantId; N] {
    std::array::from_fn(|_| ParticipantId::next())
}

fn who(c: &[(f64, ParticipantId)]) -> Vec<ParticipantId> {
    c.iter().map(|(_, p)| *p).collect()
}

#[test]
fn a_steady_talker_is_elected_after_the_hold_and_silence_elects_nobody() {
    let [a, b] = ids();
    let talk = Voice::quiet(6.0).speak(1, -20.0, 1.0, 6.0);
    let c = changes(&[(a, &talk), (b, &Voice::quiet(6.0))]);
    println!("steady talker: {c:?}");
    assert_eq!(who(&c), vec![a]);
    assert!((2.5..=3.2).contains(&c[0].0), "elected 1.5 s after starting at 1 s: {c:?}");
    assert!(changes(&[(a, &Voice::quiet(6.0)), (b, &Voice::quiet(6.0))]).is_empty(), "silence elects nobody");
}

#[test]
fn slightly_louder_never_takes_over_clearly_louder_does() {
    let [a, b] = ids();
    // Both steady: 4 dB (below the 6 dB margin) for 10 s keeps a; 9 dB switches.
    let incumbent = Voice::quiet(14.0).steady(-26.0, 0.0, 14.0);
    let slightly = Voice::quiet(14.0).steady(-22.0, 3.0, 14.0);
    let clearly = Voice::quiet(14.0).steady(-17.0, 3.0, 14.0);
    assert_eq!(who(&changes(&[(a, &incumbent), (b, &slightly)])), vec![a]);
    let c = changes(&[(a, &incumbent), (b, &clearly)]);
    assert_eq!(who(&c), vec![a, b]);
    assert!((4.5..=4.8).contains(&c[1].0), "{c:?}");
    // Both talking over each other, b 4 dB louder on average, for 10 s: a keeps the floor.
    let a_talks = Voice::quiet(14.0).speak(2, -26.0, 0.0, 14.0);
    let b_talks = Voice::quiet(14.0).speak(3, -22.0, 3.0, 14.0);
    let c = changes(&[(a, &a_talks), (b, &b_talks)]);
    println!("two talking, one 4 dB louder: {c:?}");
    assert_eq!(who(&c), vec![a]);
    let b_shouts = Voice::quiet(14.0).speak(3, -12.0, 3.0, 14.0);
    let c = changes(&[(a, &a_talks), (b, &b_shouts)]);
    println!("two talking, one 14 dB louder: {c:?}");
    assert_eq!(who(&c), vec![a, b]);
    assert!(c[1].0 < 3.0 + 3.0, "{c:?}");
}

#[test]
fn hand_over_between_talkers_with_natural_pauses() {
    let [a, b] = ids();
    let a_talks = Voice::quiet(12.0).speak(4, -22.0, 0.0, 5.0);
    let b_talks = Voice::quiet(12.0).speak(5, -22.0, 5.0, 12.0);
    let c = changes(&[(a, &a_talks), (b, &b_talks)]);
    println!("hand-over at 5 s: {c:?}");
    assert_eq!(who(&c), vec![a, b]);
    let took = c[1].0 - 5.0;
    assert!((1.4..=2.5).contains(&took), "b took the floor {took:.1} s after starting: {c:?}");
    // The old speaker goes on murmuring ~10 dB below: b's pauses between words still do not
    // hold it back.
    let a_murmurs = a_talks.clone().speak(16, -33.0, 5.0, 12.0);
    let c = changes(&[(a, &a_murmurs), (b, &b_talks)]);
    println!("hand-over over a murmur: {c:?}");
    assert_eq!(who(&c), vec![a, b]);
    assert!(c[1].0 - 5.0 <= 2.5, "{c:?}");
    // Falling silent afterwards keeps the last speaker.
    let quiet_after = Voice::quiet(12.0).speak(6, -22.0, 0.0, 4.0);
    assert_eq!(who(&changes(&[(a, &quiet_after), (b, &Voice::quiet(12.0))])), vec![a]);
}

#[test]
fn a_pause_between_words_does_not_restart_the_hold() {
    let [a, b] = ids();
    let a_talks = Voice::quiet(10.0).steady(-30.0, 0.0, 4.0);
    for (what, dip) in [
        ("a 250 ms pause", Voice::quiet(10.0).steady(-20.0, 4.0, 10.0).steady(FLOOR, 4.8, 5.05)),
        ("300 ms without audio", Voice::quiet(10.0).steady(-20.0, 4.0, 10.0).gone(4.8, 5.1)),
    ] {
        let c = changes(&[(a, &a_talks), (b, &dip)]);
        println!("{what}: {c:?}");
        assert_eq!(who(&c), vec![a, b], "{what}");
        // A restarted hold would end at 5.05 + 1.5 s or later.
        assert!(c[1].0 <= 5.6, "{what}: the hold restarted: {c:?}");
    }
}

#[test]
fn coughs_and_short_words_do_not_switch() {
    let [a, b] = ids();
    let a_talks = Voice::quiet(12.0).speak(7, -30.0, 0.0, 12.0);
    // b coughs twice, loudly, 400 ms apart; later says a short "yes, sure" (0.9 s).
    let b_coughs = Voice::quiet(12.0)
        .steady(-5.0, 4.0, 4.4)
        .steady(-5.0, 4.8, 5.3)
        .steady(-12.0, 8.0, 8.4)
        .steady(-14.0, 8.55, 8.9);
    let c = changes(&[(a, &a_talks), (b, &b_coughs)]);
    println!("coughs and a short word: {c:?}");
    assert_eq!(who(&c), vec![a]);
    // b types: 50 ms clicks at -8 dBFS every 300 ms, for 8 s, while a talks on.
    let b_types = Voice::quiet(12.0).with(3.0, 11.0, |ms| Some(if ms % 300 < 50 { -8.0 } else { FLOOR }));
    let c = changes(&[(a, &a_talks), (b, &b_types)]);
    println!("typing: {c:?}");
    assert_eq!(who(&c), vec![a]);
}

#[test]
fn fast_alternation_keeps_the_first_speaker() {
    let [a, b] = ids();
    for turn in [0.4, 0.6, 0.9] {
        let mut a_turns = Voice::quiet(14.0).speak(8, -20.0, 0.0, 3.0);
        let mut b_turns = Voice::quiet(14.0);
        let mut t = 3.0;
        while t < 14.0 {
            b_turns = b_turns.speak(9 + (t * 10.0) as u64, -20.0, t, t + turn);
            a_turns = a_turns.speak(20 + (t * 10.0) as u64, -20.0, t + turn, t + 2.0 * turn);
            t += 2.0 * turn;
        }
        let c = changes(&[(a, &a_turns), (b, &b_turns)]);
        println!("turns of {turn} s: {c:?}");
        assert_eq!(who(&c), vec![a], "turns of {turn} s: one election, no flapping");
    }
}

#[test]
fn three_talkers_the_clearly_loudest_wins_then_hands_over() {
    let [a, b, c] = ids();
    let a_talks = Voice::quiet(16.0).speak(10, -24.0, 0.0, 4.0);
    // From 4 s b and c both talk; c is 8 dB louder than b; c stops at 9 s, b goes on.
    let b_talks = Voice::quiet(16.0).speak(11, -28.0, 4.0, 16.0);
    let c_talks = Voice::quiet(16.0).speak(12, -20.0, 4.0, 9.0);
    let got = changes(&[(a, &a_talks), (b, &b_talks), (c, &c_talks)]);
    println!("three talkers: {got:?}");
    assert_eq!(who(&got), vec![a, c, b]);
    assert!(got[1].0 < 4.0 + 2.5 && got[2].0 > 9.0 && got[2].0 < 9.0 + 2.5, "{got:?}");
}

#[test]
fn missing_readings_are_skipped_not_taken_as_silence() {
    let [a, b] = ids();
    // a's audio arrives in bursts: two ticks in three have none. b murmurs at -35.
    let bursty = Voice::quiet(10.0).steady(-20.0, 0.0, 10.0).with(2.0, 10.0, |ms| (ms % 300 >= 200).then_some(-20.0));
    let murmur = Voice::quiet(10.0).steady(-35.0, 2.0, 10.0);
    let c = changes(&[(a, &bursty), (b, &murmur)]);
    println!("bursty audio: {c:?}");
    assert_eq!(who(&c), vec![a], "gaps in a's readings are not silence");
    // But a speaker whose audio stops altogether counts as silent after a while.
    let stopped = Voice::quiet(10.0).steady(-20.0, 0.0, 3.0).gone(3.0, 10.0);
    let c = changes(&[(a, &stopped), (b, &murmur)]);
    assert_eq!(who(&c), vec![a, b], "{c:?}");
}

#[test]
fn a_quiet_talker_takes_over_from_a_silent_room() {
    let [a, b] = ids();
    // -47 dBFS is above silence (-50) but not 6 dB above it.
    let a_then_silent = Voice::quiet(10.0).speak(13, -20.0, 0.0, 3.0);
    let b_quietly = Voice::quiet(10.0).steady(-47.0, 4.0, 10.0);
    let c = changes(&[(a, &a_then_silent), (b, &b_quietly)]);
    println!("quiet talker after silence: {c:?}");
    assert_eq!(who(&c), vec![a, b]);
    assert_eq!(who(&changes(&[(a, &Voice::quiet(10.0)), (b, &b_quietly)])), vec![b], "from nobody");
}

#[test]
fn ties_go_to_the_first_joined_whatever_the_order_of_readings() {
    let [a, b] = ids();
    let same = Voice::quiet(5.0).steady(-20.0, 1.0, 5.0);
    assert_eq!(who(&changes(&[(a, &same), (b, &same)])), vec![a]);
    assert_eq!(who(&changes(&[(b, &same), (a, &same)])), vec![a]);
}

#[test]
fn timing_does_not_depend_on_the_tick_rate() {
    let [a, b] = ids();
    let a_talks = Voice::quiet(12.0).speak(14, -22.0, 0.0, 5.0);
    let b_talks = Voice::quiet(12.0).speak(15, -22.0, 5.0, 12.0);
    for tick in [TICK, TICK * 2] {
        let c = changes_every(tick, &[(a, &a_talks), (b, &b_talks)]);
        println!("every {tick:?}: {c:?}");
        assert_eq!(who(&c), vec![a, b]);
        assert!((6.4..=7.6).contains(&c[1].0), "{c:?}");
    }
}

#[test]
fn a_departed_speaker_is_replaced() {
    let [a, b] = ids();
    let mut d = SpeakerDetector::default();
    for i in 1..=30u32 {
        d.update(TICK * i, &[(a, Some(-15.0)), (b, Some(-25.0))]);
    }
    assert_eq!(d.current(), Some(a));
    d.remove(a);
    let mut changed = None;
    for i in 31..60u32 {
        changed = changed.or(d.update(TICK * i, &[(b, Some(-25.0))]));
    }
    assert_eq!(changed, Some(b));
}
