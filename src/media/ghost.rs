//! Ghost pads for request pads of elements inside bins (compositor, audiomixer, tee inputs
//! and outputs), so per-participant bins link to shared mixers across bin boundaries.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, anyhow};
use gst::prelude::*;

/// Requests a pad from `element` (a child of `bin`) and exposes it on `bin` as `name`.
/// The ghost pad is activated, so this works on a running bin.
pub fn request(bin: &gst::Bin, element: &gst::Element, template: &str, name: &str) -> anyhow::Result<gst::GhostPad> {
    let target =
        element.request_pad_simple(template).with_context(|| format!("requesting {template} on {}", element.name()))?;
    expose(bin, &target, name).inspect_err(|_| element.release_request_pad(&target))
}

/// Like [`request`] for a source pad (a tee output) whose downstream may fail on its own; see
/// [`expose_isolated`].
pub fn request_isolated(
    bin: &gst::Bin,
    element: &gst::Element,
    template: &str,
    name: &str,
    what: String,
) -> anyhow::Result<gst::GhostPad> {
    let target =
        element.request_pad_simple(template).with_context(|| format!("requesting {template} on {}", element.name()))?;
    expose_isolated(bin, &target, name, what).inspect_err(|_| element.release_request_pad(&target))
}

/// Exposes a source pad of a child of `bin` whose downstream (a shared mixer) may fail on its
/// own: a flow error from downstream is dropped here instead of travelling up into webrtcbin,
/// whose transport would stop on it and take the participant's whole receive path along. One
/// failing mixer input then costs only that input. `what` names the link in the log (one
/// warning per link).
///
/// That covers a sticky event downstream refuses too (a tee refuses a segment while its only
/// output is being released): a source pad pushing an event ignores a sticky one's failure,
/// and the ghost's next buffer, which would carry it again, is absorbed if it fails.
pub fn expose_isolated(bin: &gst::Bin, target: &gst::Pad, name: &str, what: String) -> anyhow::Result<gst::GhostPad> {
    let warned = AtomicBool::new(false);
    let ghost = gst::GhostPad::builder(target.direction())
        .name(name)
        .proxy_pad_chain_function(move |pad, parent, buffer| chain_absorbing(pad, parent, buffer, &warned, &what))
        .build();
    install(bin, &ghost, target)?;
    Ok(ghost)
}

/// Pushes `buffer` on through proxy pad `pad`. A flow error from downstream (anything but
/// flushing, not-linked and EOS, which upstream handles itself) becomes a dropped buffer,
/// logged once per pad (`warned`) as `what`; see [`expose_isolated`] for why.
pub fn chain_absorbing<P: IsA<gst::ProxyPad>>(
    pad: &P,
    parent: Option<&gst::Object>,
    buffer: gst::Buffer,
    warned: &AtomicBool,
    what: &str,
) -> Result<gst::FlowSuccess, gst::FlowError> {
    use gst::FlowError::{Eos, Flushing, NotLinked};
    let result = gst::ProxyPad::chain_default(pad, parent, buffer);
    absorb(result, &[Flushing, NotLinked, Eos], warned, |e| {
        let trail = pad.upcast_ref::<gst::ProxyPad>().internal().map(|ghost| flow_trail(ghost.upcast_ref()));
        let trail = trail.unwrap_or_default();
        tracing::warn!("{what}: downstream returned {e:?}; buffer dropped, the stream goes on ({trail})");
    })
}

/// What a link that isolates its upstream hands back of a push's `result`: the errors in
/// `passed` (those upstream handles itself) as they are, any other error as a success (the
/// buffer is lost), told through `warn` the first time (`warned`) only.
pub fn absorb(
    result: Result<gst::FlowSuccess, gst::FlowError>,
    passed: &[gst::FlowError],
    warned: &AtomicBool,
    warn: impl FnOnce(gst::FlowError),
) -> Result<gst::FlowSuccess, gst::FlowError> {
    match result {
        Err(e) if !passed.contains(&e) => {
            if !warned.swap(true, Ordering::Relaxed) {
                warn(e);
            }
            Ok(gst::FlowSuccess::Ok)
        }
        other => other,
    }
}

/// Where a flow error came from: each pad downstream of `from` whose last push did not return
/// `Ok`, with that result, as far as the chain of source pads goes (depth-limited).
/// Computed once per failing link, for the log.
pub fn flow_trail(from: &gst::Pad) -> String {
    const MAX: usize = 16;
    fn walk(pad: &gst::Pad, depth: usize, out: &mut Vec<String>) {
        // A source pad's own result holds what its last push met, sticky events included
        // (refused there, they never reach the peer's chain).
        let own = pad.last_flow_result();
        if own.is_err() && out.len() < MAX {
            out.push(format!("{}: {own:?}", pad.path_string()));
        }
        let Some(peer) = pad.peer() else { return };
        let last = peer.last_flow_result();
        if last.is_err() && out.len() < MAX {
            out.push(format!("{}: {last:?}", peer.path_string()));
        }
        if depth == 0 || out.len() >= MAX {
            return;
        }
        // Into a ghost pad's target, or through an element to its source pads.
        let next: Vec<gst::Pad> = match peer.downcast_ref::<gst::ProxyPad>().and_then(|p| p.internal()) {
            Some(internal) => vec![internal.upcast()],
            None => peer.parent_element().map(|e| e.src_pads()).unwrap_or_default(),
        };
        for pad in next {
            walk(&pad, depth - 1, out);
        }
    }
    let mut out = Vec::new();
    walk(from, 32, &mut out);
    match out.is_empty() {
        true => "no pad downstream holds an error".to_owned(),
        false => format!("failing downstream (first {MAX} at most): {}", out.join(", ")),
    }
}

/// Exposes an existing pad of a child of `bin` as a ghost pad named `name`.
pub fn expose(bin: &gst::Bin, target: &gst::Pad, name: &str) -> anyhow::Result<gst::GhostPad> {
    let ghost = gst::GhostPad::builder(target.direction()).name(name).build();
    install(bin, &ghost, target)?;
    Ok(ghost)
}

/// Adds `ghost` (built without a target) to `bin`, active, and only then points it at
/// `target`, so that nothing ever pushes into an inactive pad.
///
/// A ghost built with its target links that target to the ghost's internal pad at once, and
/// the internal pad stays inactive (flushing) until the ghost is activated. A running tee
/// whose new pad this is pushes into it in that window and fails the push, for every pad of
/// the tee; the queue feeding the tee then stops its thread for good (a queue pauses on any
/// result but `Ok`), and no receiver of that output got a packet again. It happened about
/// once in 20 joins under load (`receivers_join_a_busy_tee_without_stopping_it` hits it
/// within a few dozen).
pub(super) fn install(bin: &gst::Bin, ghost: &gst::GhostPad, target: &gst::Pad) -> anyhow::Result<()> {
    let name = ghost.name();
    ghost.set_active(true)?;
    bin.add_pad(ghost).map_err(|_| anyhow!("adding ghost pad {name} to {}", bin.name()))?;
    if let Err(e) = ghost.set_target(Some(target)) {
        let _ = ghost.set_active(false);
        let _ = bin.remove_pad(ghost);
        return Err(anyhow!("pointing ghost pad {name} at {}: {e}", target.name()));
    }
    Ok(())
}

/// Releases the request pad behind `ghost` from `element`, then removes the ghost from `bin`.
/// Releasing the request pad first stops data (a tee deactivates the pad under its stream lock).
pub fn release(bin: &gst::Bin, element: &gst::Element, ghost: &gst::GhostPad) {
    if let Some(target) = ghost.target() {
        element.release_request_pad(&target);
    }
    let _ = ghost.set_target(None::<&gst::Pad>);
    let _ = ghost.set_active(false);
    let _ = bin.remove_pad(ghost);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Receivers come and go on a tee that a queue's thread feeds as fast as it can: no new
    /// pad may hand the tee a failure. (A ghost built with its target was linked to the tee
    /// while still inactive; a push in that window failed (the queue read `Error`), and the
    /// queue in front of the tee stopped its thread for good.)
    #[test]
    fn receivers_join_a_busy_tee_without_stopping_it() {
        use std::sync::Arc;
        gst::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let src = gst_app::AppSrc::builder()
            .caps(&gst::Caps::new_empty_simple("application/x-test"))
            .format(gst::Format::Time)
            .max_bytes(64)
            .block(true)
            .build();
        let bin = gst::Bin::builder().name("output").build();
        let queue = gst::ElementFactory::make("queue").build().unwrap();
        let tee = gst::ElementFactory::make("tee").property("allow-not-linked", true).build().unwrap();
        bin.add_many([&queue, &tee]).unwrap();
        queue.link(&tee).unwrap();
        expose(&bin, &queue.static_pad("sink").unwrap(), "sink").unwrap();
        pipeline.add_many([src.upcast_ref::<gst::Element>(), bin.upcast_ref()]).unwrap();
        src.link(&bin).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let pusher = {
            let (src, stop) = (src.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut pts = gst::ClockTime::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    let mut buffer = gst::Buffer::with_size(8).unwrap();
                    buffer.get_mut().unwrap().set_pts(pts);
                    pts += gst::ClockTime::from_useconds(1);
                    if src.push_buffer(buffer).is_err() {
                        break;
                    }
                }
            })
        };
        let queue_src = queue.static_pad("src").unwrap();
        let pushed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&pushed);
        tee.static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counter.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
        // The joins race buffers, not the stream's first sticky events (a segment refused by a
        // pad being released: `a_refused_sticky_event_does_not_stop_an_isolated_stream`).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while pushed.load(Ordering::Relaxed) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let mut failed = None;
        for n in 0..3000 {
            let sink = gst::ElementFactory::make("fakesink").property("async", false).build().unwrap();
            pipeline.add(&sink).unwrap();
            sink.sync_state_with_parent().unwrap();
            let pad = request(&bin, &tee, "src_%u", &format!("to_{n}")).unwrap();
            pad.link(&sink.static_pad("sink").unwrap()).unwrap();
            release(&bin, &tee, &pad);
            sink.set_state(gst::State::Null).unwrap();
            pipeline.remove(&sink).unwrap();
            if let Err(e) = queue_src.last_flow_result() {
                failed = Some((n, e));
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        pipeline.set_state(gst::State::Null).unwrap();
        pusher.join().unwrap();
        assert_eq!(failed, None, "the tee failed a push while receiver (n) joined: (n, result)");
        let pushed = pushed.load(Ordering::Relaxed);
        assert!(pushed > 3000, "only {pushed} buffers went through the tee: the joins were not raced");
    }

    /// A tee whose only output is being released (its pad already flushing) refuses the
    /// stream's segment. Through an isolated link the queue before it goes on, and once the
    /// tee has a working output again the segment and the buffers reach it.
    #[test]
    fn a_refused_sticky_event_does_not_stop_an_isolated_stream() {
        gst::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let src = gst_app::AppSrc::builder()
            .caps(&gst::Caps::new_empty_simple("application/x-test"))
            .format(gst::Format::Time)
            .build();
        let bin = gst::Bin::builder().name("output").build();
        let queue = gst::ElementFactory::make("queue").build().unwrap();
        bin.add(&queue).unwrap();
        expose(&bin, &queue.static_pad("sink").unwrap(), "sink").unwrap();
        let out = expose_isolated(&bin, &queue.static_pad("src").unwrap(), "src", "test fan-out".into()).unwrap();
        let tee = gst::ElementFactory::make("tee").property("allow-not-linked", true).build().unwrap();
        let sink = gst_app::AppSink::builder().sync(false).async_(false).build();
        pipeline.add_many([src.upcast_ref(), bin.upcast_ref(), &tee, sink.upcast_ref()]).unwrap();
        src.link(&bin).unwrap();
        out.link(&tee.static_pad("sink").unwrap()).unwrap();
        let tee_out = tee.request_pad_simple("src_%u").unwrap();
        tee_out.link(&sink.static_pad("sink").unwrap()).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        // The release's first step, as `tee` takes it: the pad stops accepting data and events.
        tee_out.set_active(false).unwrap();
        let push = |pts: u64| {
            let mut buffer = gst::Buffer::with_size(8).unwrap();
            buffer.get_mut().unwrap().set_pts(gst::ClockTime::from_mseconds(pts));
            src.push_buffer(buffer).unwrap();
        };
        push(0);
        let queue_src = queue.static_pad("src").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while out.last_flow_result().is_ok() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(out.last_flow_result().is_err(), "the tee never refused: the test raced nothing");
        assert_eq!(queue_src.last_flow_result(), Ok(gst::FlowSuccess::Ok), "the queue's thread stopped");
        tee_out.set_active(true).unwrap();
        push(20);
        let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(5));
        assert!(sample.is_some(), "nothing reached the tee's output once it worked again");
        assert_eq!(queue_src.last_flow_result(), Ok(gst::FlowSuccess::Ok));
        pipeline.set_state(gst::State::Null).unwrap();
    }

    /// A failing element downstream of an isolated link: the push upstream still succeeds,
    /// and the trail names the pad that failed.
    #[test]
    fn an_isolated_link_absorbs_a_downstream_error_and_names_it() {
        gst::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let src = gst_app::AppSrc::builder().caps(&gst::Caps::new_empty_simple("application/x-test")).build();
        let bin = gst::Bin::builder().name("upstream").build();
        let inner = gst::ElementFactory::make("identity").build().unwrap();
        bin.add(&inner).unwrap();
        expose(&bin, &inner.static_pad("sink").unwrap(), "in").unwrap();
        let out = expose_isolated(&bin, &inner.static_pad("src").unwrap(), "out", "test link".into()).unwrap();
        let failing = gst::ElementFactory::make("identity").name("failing").property("error-after", 3i32).build();
        let failing = failing.unwrap();
        let sink = gst::ElementFactory::make("fakesink").property("async", false).build().unwrap();
        pipeline.add_many([src.upcast_ref(), bin.upcast_ref(), &failing, &sink]).unwrap();
        src.link(&bin).unwrap();
        gst::Element::link_many([&failing, &sink]).unwrap();
        out.link(&failing.static_pad("sink").unwrap()).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        // The third buffer fails (identity passes later ones again); appsrc pushes from its own
        // task, so poll the trail until the failing pad holds its error.
        for _ in 0..3 {
            src.push_buffer(gst::Buffer::with_size(8).unwrap()).unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let trail = loop {
            let trail = flow_trail(out.upcast_ref());
            if trail.contains("failing") || std::time::Instant::now() > deadline {
                break trail;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(trail.contains("failing.GstPad:sink: Err(Error)"), "{trail}");
        // The appsrc's task saw no error: the link absorbed it.
        assert!(src.static_pad("src").unwrap().last_flow_result().is_ok(), "the error reached upstream");
        pipeline.set_state(gst::State::Null).unwrap();
    }
}
