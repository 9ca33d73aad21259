//! Dropping the item a pad probe sees, without a GStreamer critical.
//!
//! gstreamer-rs 0.25 hands a probe the item itself and leaves the C probe info's data NULL
//! while the closure runs. A probe that returns `Drop` frees the item from Rust, and GStreamer
//! 1.22 then unrefs the NULL it got back wherever it does not check (a buffer arriving at a sink
//! pad, every event): "gst_mini_object_unref: assertion 'mini_object != NULL' failed" (fixed
//! upstream in 1.24.8). `Handled` with the item taken is a drop that GStreamer does not touch:
//! a buffer's push and an event's send both report success, as with `Drop`.

/// Consumes the buffer, buffer list or event `info` carries and tells GStreamer it was handled.
/// A query is not consumed (gstreamer-rs panics on a handled query it no longer holds): it is
/// dropped, which answers it false.
pub(super) fn discard(info: &mut gst::PadProbeInfo) -> gst::PadProbeReturn {
    if matches!(info.data, Some(gst::PadProbeData::Query(_))) {
        return gst::PadProbeReturn::Drop;
    }
    drop(info.data.take());
    gst::PadProbeReturn::Handled
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

    use gst::glib::LogLevels;
    use gst::prelude::*;

    use super::*;

    /// GLib's fatal mask, restored when dropped (also on a panic: `cargo test` shares the process).
    struct FatalCriticals(LogLevels);

    impl Drop for FatalCriticals {
        fn drop(&mut self) {
            gst::glib::log_set_always_fatal(self.0);
        }
    }

    /// A buffer probe on a sink pad and an event probe on a source pad discard what they see,
    /// and GLib aborts this test's process on any critical.
    #[test]
    fn discarding_logs_no_critical_and_nothing_passes() {
        gst::init().unwrap();
        let _fatal = FatalCriticals(gst::glib::log_set_always_fatal(LogLevels::LEVEL_CRITICAL));
        let pipeline = gst::parse::launch("fakesrc num-buffers=5 name=src ! identity name=id ! fakesink name=sink")
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let by_name = |n: &str| pipeline.by_name(n).unwrap();
        let (passed, latencies) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        by_name("id").static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, |_, info| discard(info));
        // Upstream: the sink's latency event stops at the identity's source pad.
        let discarded = latencies.clone();
        by_name("id").static_pad("src").unwrap().add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
            if matches!(info.event().map(|e| e.view()), Some(gst::EventView::Latency(_))) {
                discarded.fetch_add(1, Relaxed);
                return discard(info);
            }
            gst::PadProbeReturn::Ok
        });
        let seen = passed.clone();
        by_name("sink").static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            seen.fetch_add(1, Relaxed);
            gst::PadProbeReturn::Ok
        });
        pipeline.set_state(gst::State::Playing).unwrap();
        let latency = gst::event::Latency::new(gst::ClockTime::from_mseconds(20));
        assert!(by_name("sink").static_pad("sink").unwrap().push_event(latency), "reported as passed");
        let bus = pipeline.bus().unwrap();
        let msg =
            bus.timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Eos, gst::MessageType::Error]);
        assert!(matches!(msg.map(|m| m.type_()), Some(gst::MessageType::Eos)));
        pipeline.set_state(gst::State::Null).unwrap();
        // The pipeline sends its own when it goes to PLAYING, besides ours.
        assert!(latencies.load(Relaxed) >= 1, "the latency events reached the probe");
        assert_eq!(passed.load(Relaxed), 0, "every buffer was discarded");
    }
}
