//! Keeps the composite on time when the room's thread falls behind: frames already too late
//! when they leave the compositor make it skip ahead instead of queueing.
//!
//! The compositor and the VP8 encoder share one thread. A live compositor makes the frame for
//! time T once T plus one frame plus its latency has passed on the clock; when the thread is
//! busier than that for a while (a burst of joins, a machine that is short of CPU), each next
//! frame starts late, and nothing ever makes up for it: the room keeps the delay for good
//! (`make bench` read 560 ms at 25 publishers on 2 cores, against 50 at 16). GStreamer's way
//! to drop what is late is QoS: told how late a frame was, the video aggregator skips every
//! frame that is due before then (its inputs are still consumed, nothing is composited or
//! encoded), and the next frame it makes is on time again. A viewer sees one longer frame
//! instead of a delay that stays.
//!
//! A probe on the compositor's output compares each frame's due time with the clock, a few
//! nanoseconds of work per composite frame, and sends the QoS event when a frame is more than
//! [`SKIP_AFTER`] late.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gst::prelude::*;

/// How late a frame may leave the compositor before it skips ahead: two frames at 30 fps.
/// Below that, it is jitter the thread catches up with by itself.
pub(super) const SKIP_AFTER: gst::ClockTime = gst::ClockTime::from_mseconds(66);

/// Frames the compositor was told to skip, and how often.
#[derive(Debug, Default)]
pub struct LateFrames {
    /// Times the compositor was found late and told to skip ahead.
    pub skips: AtomicU64,
    /// When a skip was last logged (running time, nanoseconds).
    logged_at: AtomicU64,
}

/// At most one log line per this long.
const LOG_EVERY: gst::ClockTime = gst::ClockTime::from_seconds(5);

/// Watches `compositor`'s output and makes it skip what is late; `latency` is how long after
/// a frame's end the compositor makes it (its upstream latency plus its own).
pub(super) fn keep_on_time(compositor: &gst::Element, latency: gst::ClockTime) -> Arc<LateFrames> {
    let late = Arc::new(LateFrames::default());
    let Some(src) = compositor.static_pad("src") else { return late };
    let weak = compositor.downgrade();
    let counts = late.clone();
    src.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let (Some(buffer), Some(compositor)) = (info.buffer(), weak.upgrade()) else {
            return gst::PadProbeReturn::Ok;
        };
        let (Some(pts), Some(clock), Some(base)) = (buffer.pts(), compositor.clock(), compositor.base_time()) else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(segment) = pad.sticky_event::<gst::event::Segment>(0) else { return gst::PadProbeReturn::Ok };
        let Some(segment) = segment.segment().downcast_ref::<gst::ClockTime>() else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(start) = segment.to_running_time(pts) else { return gst::PadProbeReturn::Ok };
        let due = start + buffer.duration().unwrap_or(gst::ClockTime::ZERO) + latency;
        let now = clock.time().checked_sub(base).unwrap_or(gst::ClockTime::ZERO);
        let Some(lateness) = now.checked_sub(due) else { return gst::PadProbeReturn::Ok };
        if lateness > SKIP_AFTER {
            counts.skips.fetch_add(1, Ordering::Relaxed);
            // Live: every frame starting before `start + lateness` is dropped.
            let diff = i64::try_from(lateness.nseconds()).unwrap_or(i64::MAX);
            let qos = gst::event::Qos::new(gst::QOSType::Underflow, 1.0, diff, start);
            let logged = gst::ClockTime::from_nseconds(counts.logged_at.load(Ordering::Relaxed));
            if logged == gst::ClockTime::ZERO || now > logged + LOG_EVERY {
                counts.logged_at.store(now.nseconds().max(1), Ordering::Relaxed);
                let skips = counts.skips.load(Ordering::Relaxed);
                tracing::info!(lateness_ms = lateness.mseconds(), skips, "composite late: skipping ahead");
            }
            pad.send_event(qos);
        }
        gst::PadProbeReturn::Ok
    });
    late
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// How late each frame left a live compositor (ms past its due time) whose thread needs
    /// 32 of every 33 ms (a saturated machine) and stalls for 400 ms at frame 30, with or
    /// without [`keep_on_time`]; and how often it skipped.
    fn lateness_after_a_stall(guarded: bool) -> (Vec<i64>, u64) {
        gst::init().unwrap();
        let pipeline = gst::parse::launch(
            "videotestsrc is-live=true ! video/x-raw,width=64,height=36,framerate=30/1 \
             ! compositor name=c latency=0 ! fakesink sync=false",
        )
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let compositor = pipeline.by_name("c").unwrap();
        // The live source's one frame is the compositor's latency.
        let latency = gst::ClockTime::from_nseconds(1_000_000_000 / 30);
        let late = guarded.then(|| keep_on_time(&compositor, latency));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (record, weak) = (seen.clone(), compositor.downgrade());
        compositor.static_pad("src").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let (Some(buffer), Some(c)) = (info.buffer(), weak.upgrade()) else { return gst::PadProbeReturn::Ok };
            let (Some(pts), Some(clock), Some(base)) = (buffer.pts(), c.clock(), c.base_time()) else {
                return gst::PadProbeReturn::Ok;
            };
            let due = pts + buffer.duration().unwrap_or_default() + latency;
            let now = clock.time() - base;
            let mut seen = record.lock().unwrap();
            seen.push((now.nseconds() as i64 - due.nseconds() as i64) / 1_000_000);
            let stall = if seen.len() == 30 { 400 } else { 32 };
            drop(seen);
            std::thread::sleep(Duration::from_millis(stall));
            gst::PadProbeReturn::Ok
        });
        pipeline.set_state(gst::State::Playing).unwrap();
        while seen.lock().unwrap().len() < 90 {
            std::thread::sleep(Duration::from_millis(20));
        }
        pipeline.set_state(gst::State::Null).unwrap();
        let skips = late.map_or(0, |l| l.skips.load(Ordering::Relaxed));
        let seen = seen.lock().unwrap().clone();
        (seen, skips)
    }

    #[test]
    fn a_stalled_composite_skips_back_to_its_time() {
        // Without the guard the stall stays in every later frame: the check below can fail.
        let (unguarded, _) = lateness_after_a_stall(false);
        let tail = &unguarded[unguarded.len() - 20..];
        assert!(tail.iter().all(|&ms| ms > 200), "the stall did not last without the guard: {unguarded:?}");
        let (guarded, skips) = lateness_after_a_stall(true);
        let tail = &guarded[guarded.len() - 20..];
        assert!(skips >= 1, "never skipped: {guarded:?}");
        assert!(tail.iter().all(|&ms| ms < SKIP_AFTER.mseconds() as i64), "still late after the stall: {guarded:?}");
    }
}
