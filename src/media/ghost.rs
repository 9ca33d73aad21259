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
                tracing::warn!("{what}: downstream returned {e:?}; buffer dropped, the stream goes on");
            }
            Ok(gst::FlowSuccess::Ok)
        }
        other => other,
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
