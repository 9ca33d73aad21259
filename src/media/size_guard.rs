//! The size a publisher's video may have: at most the configured size (either orientation),
//! changing at most a few times a second. Checked on the depayloader's caps, which change only
//! on a keyframe of a new size, so a refused stream never reaches its decoder (no 16383x16383
//! frame is ever allocated) and the check costs nothing per buffer.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use gst::prelude::*;

use crate::layout::Size;

/// The rule, from `[limits]`.
#[derive(Debug, Clone, Copy)]
pub struct SizeRule {
    /// Largest size, either orientation.
    pub max: Size,
    /// Size changes allowed within one second.
    pub changes_per_sec: u32,
}

/// One stream's sizes so far.
#[derive(Debug)]
pub struct SizeGuard {
    rule: SizeRule,
    last: Option<Size>,
    changes: VecDeque<Instant>,
}

impl SizeGuard {
    /// A guard for a stream that has not announced a size yet.
    pub fn new(rule: SizeRule) -> Self {
        Self { rule, last: None, changes: VecDeque::new() }
    }

    /// Checks a size announced at `now`; `Err` says why the stream must go.
    pub fn check(&mut self, size: Size, now: Instant) -> Result<(), String> {
        let max = self.rule.max;
        let (long, short) = (size.width.max(size.height), size.width.min(size.height));
        if long > max.width.max(max.height) || short > max.width.min(max.height) {
            return Err(format!(
                "video of {}x{} exceeds the {}x{} limit",
                size.width, size.height, max.width, max.height
            ));
        }
        if self.last.replace(size).is_some_and(|last| last != size) {
            while self.changes.front().is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(1)) {
                self.changes.pop_front();
            }
            self.changes.push_back(now);
            if self.changes.len() > self.rule.changes_per_sec as usize {
                return Err(format!("video changed size more than {} times in a second", self.rule.changes_per_sec));
            }
        }
        Ok(())
    }
}

/// Guards the encoded video leaving `depay`: a caps event over the rule is dropped, the
/// depayloader posts an error (which removes that publisher with `media_error`, the room goes
/// on) and nothing more passes to the decoder.
pub fn guard(depay: &gst::Element, rule: SizeRule) {
    let src = depay.static_pad("src").expect("depayloaders have a src pad");
    let sizes = std::sync::Mutex::new(SizeGuard::new(rule));
    src.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |pad, info| {
        let Some(gst::PadProbeData::Event(event)) = &info.data else { return gst::PadProbeReturn::Ok };
        let gst::EventView::Caps(caps) = event.view() else { return gst::PadProbeReturn::Ok };
        let Some(s) = caps.caps().structure(0) else { return gst::PadProbeReturn::Ok };
        let (Ok(w), Ok(h)) = (s.get::<i32>("width"), s.get::<i32>("height")) else { return gst::PadProbeReturn::Ok };
        let size = Size::new(w.max(0) as u32, h.max(0) as u32);
        let verdict = sizes.lock().unwrap().check(size, Instant::now());
        let Err(why) = verdict else { return gst::PadProbeReturn::Ok };
        // From now on nothing reaches the decoder; the publisher is being removed.
        pad.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, |_, info| {
            super::discard::discard(info)
        });
        if let Some(element) = pad.parent_element() {
            gst::element_error!(element, gst::StreamError::Format, ("{}", why));
        }
        super::discard::discard(info)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: SizeRule = SizeRule { max: Size::new(1920, 1080), changes_per_sec: 3 };

    #[test]
    fn sizes_within_the_limit_in_either_orientation() {
        let t0 = Instant::now();
        let mut g = SizeGuard::new(RULE);
        assert!(g.check(Size::new(1920, 1080), t0).is_ok());
        assert!(SizeGuard::new(RULE).check(Size::new(1080, 1920), t0).is_ok(), "a phone held upright");
        assert!(SizeGuard::new(RULE).check(Size::new(1920, 1088), t0).is_err());
        assert!(SizeGuard::new(RULE).check(Size::new(16383, 16383), t0).is_err());
        assert!(SizeGuard::new(RULE).check(Size::new(2000, 200), t0).is_err(), "too long a side");
    }

    #[test]
    fn a_few_changes_a_second_and_no_more() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut g = SizeGuard::new(RULE);
        let sizes = [Size::new(640, 360), Size::new(320, 180)];
        assert!(g.check(sizes[0], at(0)).is_ok());
        assert!(g.check(sizes[0], at(10)).is_ok(), "the same size again is no change");
        for i in 1..=3 {
            assert!(g.check(sizes[i % 2], at(i as u64 * 100)).is_ok(), "change {i}");
        }
        assert!(g.check(sizes[0], at(400)).is_err(), "a fourth change within the second");
        // Congestion control stepping down and up every second or so is fine.
        let mut g = SizeGuard::new(RULE);
        assert!((0..50).all(|i| g.check(sizes[i % 2], at(i as u64 * 700)).is_ok()));
    }
}
