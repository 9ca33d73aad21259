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
pub fn expose_isolated(bin: &gst::Bin, target: &gst::Pad, name: &str, what: String) -> anyhow::Result<gst::GhostPad> {
    let warned = AtomicBool::new(false);
    let ghost = gst::GhostPad::builder_with_target(target)?
        .name(name)
        .proxy_pad_chain_function(move |pad, parent, buffer| chain_absorbing(pad, parent, buffer, &warned, &what))
        .build();
    ghost.set_active(true)?;
    bin.add_pad(&ghost).map_err(|_| anyhow!("adding ghost pad {name} to {}", bin.name()))?;
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
    match gst::ProxyPad::chain_default(pad, parent, buffer) {
        Err(e) if !matches!(e, Flushing | NotLinked | Eos) => {
            if !warned.swap(true, Ordering::Relaxed) {
                let trail = pad.upcast_ref::<gst::ProxyPad>().internal().map(|ghost| flow_trail(ghost.upcast_ref()));
                let trail = trail.unwrap_or_default();
                tracing::warn!("{what}: downstream returned {e:?}; buffer dropped, the stream goes on ({trail})");
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
    let ghost = gst::GhostPad::builder_with_target(target)?.name(name).build();
    ghost.set_active(true)?;
    bin.add_pad(&ghost).map_err(|_| anyhow!("adding ghost pad {name} to {}", bin.name()))?;
    Ok(ghost)
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
