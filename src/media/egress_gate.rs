//! The pad a receiver is fed through: a ghost of its `webrtcbin` sink pad that drops what
//! comes before the connection is up and never hands a failure back to the shared tee.
//!
//! Receivers of one output share its tee, and a tee pushes to its pads one after another in
//! the output's own thread (the `fanout` queue in [`super::egress`]). A thread per receiver
//! (a leaky queue each) cost two wake-ups per packet and receiver, about a quarter of a
//! viewer's CPU (docs/architecture.md, "What a viewer costs"). Without it, a push must never
//! wait on the receiver, and it does not once the connection is up: the send path (RTP
//! session, RTX store, SRTP, `nicesink`) sends on a non-blocking socket, dropping a packet
//! the kernel will not take. Before that it does wait: webrtcbin holds the RTP of a
//! transport until its DTLS handshake is done. So the gate drops everything until the
//! peer connection is `connected` (which includes DTLS), then forwards; the room asks the
//! encoder for a keyframe at that moment anyway. Sticky events (caps, segment) pass, so the
//! first forwarded buffer finds its caps already set.
//!
//! Any flow error of one receiver (flushing while it is torn down, an error from its
//! transport) becomes a dropped buffer: a tee stops pushing to the rest at the first pad
//! that fails, so passing it up would cost everyone that packet.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gst::prelude::*;
use tessera_webrtc::send_path::Shortcut;

/// Whether a peer's outgoing streams flow: closed until its connection is first up.
#[derive(Debug, Default)]
pub(super) struct Gate {
    open: AtomicBool,
}

impl Gate {
    /// Lets the streams through from now on.
    pub(super) fn open(&self) {
        self.open.store(true, Ordering::Release);
    }

    fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }
}

/// The queue before an output's tee, whose thread (`fanout:src`) pushes to every receiver
/// so the encoder's does not wait on their sends. When the fan-out falls 300 ms behind (a
/// starved CPU: no receiver can make it wait) it holds the encoder rather than drop: a
/// packet lost before the tee is lost for every receiver, and no RTX store has it, so each
/// decoder would stall until the next keyframe (seen as 0 fps seconds at 30 viewers on an
/// overloaded machine); held, the composite skips frames cleanly instead.
///
/// It comes in a bin whose output absorbs flow errors (`ghost::expose_isolated`): a queue
/// whose push fails stops its thread for good, and every receiver of the output with it.
/// The gates below keep a receiver's own errors from the tee; the tee itself used to fail a
/// push while a receiver's pad was added (a ghost pad linked before it was active,
/// `ghost::install`, about once in 20 joins under load: a viewer then got no video at all).
/// That is fixed at its cause; the isolation stays so that any failure still unknown costs
/// one frame, logged with the pads that failed, instead of the output.
pub(super) fn fanout_queue(what: &str) -> anyhow::Result<gst::Bin> {
    let queue = gst::ElementFactory::make("queue")
        .name("fanout")
        .property("max-size-buffers", 0u32)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", 300_000_000u64)
        .build()?;
    let bin = gst::Bin::builder().name("fanout-bin").build();
    bin.add(&queue)?;
    super::ghost::expose(&bin, &queue.static_pad("sink").expect("queues take input"), "sink")?;
    let src = queue.static_pad("src").expect("queues have output");
    super::ghost::expose_isolated(&bin, &src, "src", format!("the fan-out of {what}"))?;
    Ok(bin)
}

/// What came of pushing into a receiver, as the tee sees it: dropped or delivered, both fine.
fn settle(
    result: Result<gst::FlowSuccess, gst::FlowError>,
    warned: &AtomicBool,
    what: &str,
) -> Result<gst::FlowSuccess, gst::FlowError> {
    match result {
        Err(gst::FlowError::Flushing | gst::FlowError::NotLinked | gst::FlowError::Eos) => Ok(gst::FlowSuccess::Ok),
        other => super::ghost::absorb(other, &[], warned, |e| {
            tracing::warn!("{what}: the receiver returned {e:?}; its packets are dropped, the others' go on");
        }),
    }
}

/// Exposes `target` (a `webrtcbin` sink pad, child of `bin`) as the sink ghost pad `name`,
/// forwarding buffers only while `gate` is open, straight into the RTP session when the
/// input chain would pass them on unchanged ([`tessera_webrtc::send_path::Shortcut`]); `what`
/// names it in the log.
pub(super) fn expose(
    bin: &gst::Bin,
    target: &gst::Pad,
    name: &str,
    gate: &Arc<Gate>,
    what: String,
) -> anyhow::Result<gst::GhostPad> {
    let what = Arc::new(what);
    let warned = Arc::new(AtomicBool::new(false));
    let (gate_list, what_list, warned_list) = (Arc::clone(gate), Arc::clone(&what), Arc::clone(&warned));
    let gate = Arc::clone(gate);
    let (what_event, warned_event) = (Arc::clone(&what), Arc::clone(&warned));
    let shortcut = Arc::new(Shortcut::new(target));
    let shortcut_list = Arc::clone(&shortcut);
    let ghost = gst::GhostPad::builder(target.direction())
        .name(name)
        .event_function(move |pad, parent, event| {
            // A refused sticky event (caps, segment) would fail the tee's push to this pad, and
            // with it the push to every receiver after it: accepted here, it fails this
            // receiver's buffers alone (then dropped in `settle`).
            let kind = event.type_();
            if !gst::Pad::event_default(pad, parent, event) && !warned_event.swap(true, Ordering::Relaxed) {
                tracing::warn!("{what_event}: the receiver refused {kind:?}; its packets will be dropped");
            }
            true
        })
        .chain_function(move |pad, parent, buffer| {
            if !gate.is_open() {
                return Ok(gst::FlowSuccess::Ok);
            }
            let result = shortcut.chain(buffer).or_else(|buffer| gst::ProxyPad::chain_default(pad, parent, buffer));
            settle(result, &warned, &what)
        })
        .chain_list_function(move |pad, parent, list| {
            if !gate_list.is_open() {
                return Ok(gst::FlowSuccess::Ok);
            }
            let result =
                shortcut_list.chain_list(list).or_else(|list| gst::ProxyPad::chain_list_default(pad, parent, list));
            settle(result, &warned_list, &what_list)
        })
        .build();
    super::ghost::install(bin, &ghost, target)?;
    Ok(ghost)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `appsrc ! tee` feeding two receivers through gates: a closed gate drops, an open one
    /// forwards, and a receiver that fails costs the other nothing.
    #[test]
    fn a_closed_or_failing_receiver_costs_the_others_nothing() {
        gst::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let src = gst_app::AppSrc::builder().caps(&gst::Caps::new_empty_simple("application/x-test")).build();
        let tee = gst::ElementFactory::make("tee").build().unwrap();
        pipeline.add_many([src.upcast_ref(), &tee]).unwrap();
        src.link(&tee).unwrap();
        let receiver = |n: usize| {
            let bin = gst::Bin::builder().name(format!("receiver-{n}")).build();
            let sink = gst_app::AppSink::builder().sync(false).async_(false).build();
            bin.add(&sink).unwrap();
            let gate = Arc::new(Gate::default());
            let pad = expose(&bin, &sink.static_pad("sink").unwrap(), "in", &gate, format!("receiver {n}")).unwrap();
            pipeline.add(&bin).unwrap();
            tee.request_pad_simple("src_%u").unwrap().link(&pad).unwrap();
            (sink, gate)
        };
        let (closed, closed_gate) = receiver(0);
        let (open, open_gate) = receiver(1);
        open_gate.open();
        pipeline.set_state(gst::State::Playing).unwrap();
        let push = || src.push_buffer(gst::Buffer::with_size(8).unwrap()).unwrap();
        push();
        let timeout = gst::ClockTime::from_seconds(5);
        assert!(open.try_pull_sample(timeout).is_some(), "an open gate forwards");
        assert!(closed.try_pull_sample(gst::ClockTime::from_mseconds(200)).is_none(), "a closed gate drops");
        // The closed receiver opens, then fails (its sink flushing, as a webrtcbin being torn
        // down is): the receiver after it on the tee still gets every buffer.
        closed_gate.open();
        closed.set_locked_state(true);
        closed.set_state(gst::State::Null).unwrap();
        for _ in 0..3 {
            push();
            assert!(open.try_pull_sample(timeout).is_some(), "a failing receiver stopped the tee");
        }
        pipeline.set_state(gst::State::Null).unwrap();
    }
}
