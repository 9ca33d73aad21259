//! Where the mixers place a publisher's decoded audio: on its own timestamps, wherever they
//! move (lip-sync steps, clock drift).

use gst::prelude::*;

/// How far (ms) a publisher's audio timestamps may move from a contiguous stream before the
/// mixers follow them (when two buffers in a row confirm the move).
const TOLERANCE_MS: i64 = 4;

/// Makes the mixers follow the timestamps of this publisher's audio wherever they move, as the
/// compositor follows its video's, so that its audio stays with its video.
///
/// `audiomixer` places each input's buffers back to back and ignores a timestamp that moved
/// by less than its alignment threshold (40 ms) for good, and by more for `discont-wait`
/// (1 s), so that jitter never makes it skip or repeat audio. But a stream's timestamps move
/// on purpose, and the compositor follows the video's at once:
/// - When RTCP sender reports arrive, rtpbin lines up audio and video by changing one jitter
///   buffer's `ts-offset`, a step of up to a few hundred ms; the jitter buffer flags the first
///   packet after it `RESYNC` (depayloader and decoder drop that flag).
/// - The jitter buffer maps the sender's timing onto ours from the packets' arrival: it starts
///   from the first packet and moves towards the least delay it has seen, slowly (over ~10 s
///   at a publisher's start, measured 12 ms for its audio and 25 ms for its video), and for as
///   long as the sender's clock drifts against ours.
///
/// Not followed, these put up to 150 ms between a flash and its beep in a publisher's first
/// seconds, and up to 57 ms later on (`tests/scenarios/recording_av_sync.rs`). Marking a decoded buffer `DISCONT`
/// makes every mixer resync this one input at once (inserting or dropping the few ms moved).
/// That is done for the packet after each `RESYNC` one (rtpbin sets `ts-offset` on several
/// streams in turn, and one packet may leave between two settings with an offset that is gone
/// the next moment), and for a buffer that, like its predecessor, lies more than
/// [`TOLERANCE_MS`] off where the mixers expect it, and by about the same amount. The jitter
/// buffer's timestamps are smoothed (logged: a steady drift of 1–4 ms between resyncs, no
/// jitter), and a lone odd timestamp is never followed. The packets and their decoded buffers
/// pass on one streaming thread, in order.
pub(super) fn follow_timestamp_steps(rtp: &gst::Pad, decoded: &gst::GhostPad) {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let stepped = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stepped.clone();
    let after_resync = AtomicBool::new(false);
    rtp.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if info.buffer().is_some_and(|b| b.flags().contains(gst::BufferFlags::RESYNC)) {
            after_resync.store(true, Relaxed);
        } else if after_resync.swap(false, Relaxed) {
            flag.store(true, Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
    let follow = std::sync::Mutex::new(Follow::default());
    decoded.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let Some(buffer) = info.buffer_mut() else { return gst::PadProbeReturn::Ok };
        let (Some(pts), Some(duration)) = (buffer.pts(), buffer.duration()) else { return gst::PadProbeReturn::Ok };
        if follow.lock().unwrap().resync(pts, duration, stepped.swap(false, Relaxed)) {
            buffer.make_mut().set_flags(gst::BufferFlags::DISCONT);
        }
        gst::PadProbeReturn::Ok
    });
}

/// Where the mixers place a stream: back to back since its last resync.
#[derive(Debug, Default)]
struct Follow {
    /// Where the mixers expect the next buffer.
    expected: Option<gst::ClockTime>,
    /// How far (ns) the previous buffer lay off where it was expected.
    previous_off: i64,
}

impl Follow {
    /// Whether the mixers must resync at the buffer `pts..pts + duration`: `stepped` (after a
    /// lip-sync step), or a confirmed move.
    fn resync(&mut self, pts: gst::ClockTime, duration: gst::ClockTime, stepped: bool) -> bool {
        let expected = self.expected.unwrap_or(pts);
        let off = pts.nseconds() as i64 - expected.nseconds() as i64;
        let tolerance = TOLERANCE_MS * 1_000_000;
        let confirmed = off.abs() > tolerance
            && self.previous_off.abs() > tolerance
            && off.signum() == self.previous_off.signum()
            && (off - self.previous_off).abs() < tolerance;
        let resync = stepped || confirmed;
        self.expected = Some(if resync { pts } else { expected } + duration);
        self.previous_off = if resync { 0 } else { off };
        resync
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: gst::ClockTime = gst::ClockTime::MSECOND;

    /// Feeds 10 ms buffers whose timestamps move by `step(i)` ms each; returns the indices
    /// resynced and the largest distance (ms) between a buffer and where it was mixed.
    fn run(n: u64, start: u64, step: impl Fn(u64) -> f64, stepped: impl Fn(u64) -> bool) -> (Vec<u64>, f64) {
        let mut f = Follow::default();
        let (mut pts, mut mixed, mut resyncs, mut worst) = (start as f64, start as f64, Vec::new(), 0f64);
        for i in 0..n {
            pts += 10.0 + step(i);
            mixed += 10.0;
            let t = gst::ClockTime::from_nseconds((pts * 1e6) as u64);
            if f.resync(t, 10 * MS, stepped(i)) {
                resyncs.push(i);
                mixed = pts;
            }
            worst = worst.max((pts - mixed).abs());
        }
        (resyncs, worst)
    }

    #[test]
    fn a_moving_stream_is_followed_within_the_tolerance() {
        // The jitter buffer maps 100 ms earlier over 40 buffers, as measured after a burst.
        let (resyncs, worst) = run(300, 1000, |i| if (10..50).contains(&i) { -2.5 } else { 0.0 }, |_| false);
        assert!((10..=20).contains(&resyncs.len()), "{resyncs:?}");
        assert!(worst <= 2.0 * TOLERANCE_MS as f64, "mixed up to {worst} ms off");
    }

    #[test]
    fn jitter_within_the_tolerance_is_not_followed() {
        // Timestamps up to 3.5 ms either side of a steady line, as the jitter buffer never
        // leaves its smoothed ones.
        let jitter = [0.0, 3.5, -3.5, 2.0, -1.0, 3.5, 3.4, -3.5, -3.4, 0.5];
        let (resyncs, _) = run(1000, 1000, |i| jitter[(i % 10) as usize] - jitter[((i + 9) % 10) as usize], |_| false);
        assert_eq!(resyncs, Vec::<u64>::new());
    }

    #[test]
    fn a_lone_odd_timestamp_is_not_followed() {
        // One buffer 778 ms off (rtpbin between two ts-offset settings), the rest in line.
        let (resyncs, _) = run(
            100,
            1000,
            |i| match i {
                20 => 778.0,
                21 => -778.0,
                _ => 0.0,
            },
            |_| false,
        );
        assert_eq!(resyncs, Vec::<u64>::new());
    }

    #[test]
    fn slow_drift_and_lip_sync_steps_are_followed() {
        // 200 s of 10 ms buffers: drifting 2.6 ms a second for 10 s (a publisher's start, as
        // measured), then by 50 ppm (clocks apart), an unflagged 8 ms move at 30 s, and a 27 ms
        // lip-sync step at 45 s, flagged on the packet after it.
        let step = |i| match i {
            0..1000 => 0.026,
            3000 => 8.0,
            4500 => 27.0,
            _ => 0.0005,
        };
        let (resyncs, worst) = run(20_000, 1000, step, |i| i == 4501);
        println!("resynced at {resyncs:?}, mixed up to {worst:.1} ms off");
        assert!(resyncs.iter().filter(|i| **i < 1000).count() >= 5, "the start's drift is followed: {resyncs:?}");
        assert!(resyncs.contains(&3001) && resyncs.contains(&4501), "{resyncs:?}");
        assert!(resyncs.iter().any(|i| *i > 4501), "clock drift is followed: {resyncs:?}");
        // Apart from the one buffer of each step, within the tolerance and one buffer's drift.
        let (_, drift_only) = run(20_000, 1000, |i| if i < 1000 { 0.026 } else { 0.0005 }, |_| false);
        assert!(drift_only <= TOLERANCE_MS as f64 + 0.1, "{drift_only}");
        assert!(worst < 27.0 + TOLERANCE_MS as f64, "{worst}");
    }
}
