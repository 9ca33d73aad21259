//! Dropping the item a pad probe sees, without a GStreamer critical.
//!
//! gstreamer-rs 0.25 hands a probe the item itself and leaves the C probe info's data NULL
//! while the closure runs. A probe that returns `Drop` frees the item from Rust, and GStreamer
//! 1.22 then unrefs the NULL it got back wherever it does not check (a buffer arriving at a sink
//! pad, every event): "gst_mini_object_unref: assertion 'mini_object != NULL' failed" (fixed
//! upstream in 1.24.8). `Handled` with the item taken is a drop that GStreamer does not touch:
//! a buffer's push and an event's send both report success, as with `Drop`.

/// Consumes what `info` carries and tells GStreamer it was handled.
pub(super) fn discard(info: &mut gst::PadProbeInfo) -> gst::PadProbeReturn {
    drop(info.data.take());
    gst::PadProbeReturn::Handled
}

#[cfg(test)]
mod tests {
    use gst::prelude::*;

    use super::*;

    /// A buffer probe on a sink pad and an event probe on a source pad discard what they see,
    /// and GLib aborts this test's process on any critical (the `Drop` these replace logged one;
    /// the mask is restored after, for runners that share the process among tests).
    #[test]
    fn discarding_logs_no_critical_and_nothing_passes() {
        gst::init().unwrap();
        let fatal_before = gst::glib::log_set_always_fatal(gst::glib::LogLevels::LEVEL_CRITICAL);
        let pipeline = gst::parse::launch("fakesrc num-buffers=5 name=src ! identity name=id ! fakesink name=sink")
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let by_name = |n: &str| pipeline.by_name(n).unwrap();
        let passed = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        by_name("id").static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, |_, info| discard(info));
        // Upstream: the sink's latency event stops at the identity's source pad.
        by_name("id").static_pad("src").unwrap().add_probe(gst::PadProbeType::EVENT_UPSTREAM, |_, info| {
            if matches!(info.event().map(|e| e.view()), Some(gst::EventView::Latency(_))) {
                return discard(info);
            }
            gst::PadProbeReturn::Ok
        });
        let seen = passed.clone();
        by_name("sink").static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
        let sink = by_name("sink");
        pipeline.set_state(gst::State::Playing).unwrap();
        assert!(sink.send_event(gst::event::Latency::new(gst::ClockTime::from_mseconds(20))), "reported as passed");
        let bus = pipeline.bus().unwrap();
        let msg =
            bus.timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Eos, gst::MessageType::Error]);
        assert!(matches!(msg.map(|m| m.type_()), Some(gst::MessageType::Eos)));
        pipeline.set_state(gst::State::Null).unwrap();
        gst::glib::log_set_always_fatal(fatal_before);
        assert_eq!(passed.load(std::sync::atomic::Ordering::Relaxed), 0, "every buffer was discarded");
    }
}
