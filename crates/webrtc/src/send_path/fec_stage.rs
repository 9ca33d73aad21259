//! `webrtcbin`'s FEC stage (`rtpulpfecenc ! rtpredenc` in a bin), taken out of a stream's path
//! when neither encoder was negotiated.

use gst::prelude::*;

/// `rtpulpfecenc`'s payload type when ULPFEC is not in use.
const NO_ULPFEC_PT: u32 = 255;
/// `rtpredenc`'s payload type when RED is not in use (it then passes packets through).
const NO_RED_PT: i32 = 0;

/// If `bin` is a FEC stage, has it bypassed once `webrtcbin` has linked it, if unused.
pub(super) fn bypass_once_linked_if_unused(bin: &gst::Bin) {
    let Some(src) = bin.static_pad("src") else { return };
    if child(bin, "rtpulpfecenc").is_none() {
        return;
    }
    // `webrtcbin` links the stage's input first, then its output.
    let stage = bin.downgrade();
    src.connect_linked(move |src, downstream| {
        if let Some(stage) = stage.upgrade() {
            bypass(&stage, src, downstream);
        }
    });
}

/// The child of `bin` made by `factory`.
fn child(bin: &gst::Bin, factory: &str) -> Option<gst::Element> {
    bin.iterate_elements().into_iter().flatten().find(|e| e.factory().is_some_and(|f| f.name() == factory))
}

/// Whether `stage`'s encoders were told to leave packets as they are.
fn unused(stage: &gst::Bin) -> bool {
    let ulpfec = child(stage, "rtpulpfecenc").map(|e| e.property::<u32>("pt"));
    let red = child(stage, "rtpredenc").map(|e| e.property::<i32>("pt"));
    ulpfec == Some(NO_ULPFEC_PT) && red.is_none_or(|pt| pt == NO_RED_PT)
}

/// Links what feeds `stage` straight to `downstream`, which its output `src` was just linked to.
fn bypass(stage: &gst::Bin, src: &gst::Pad, downstream: &gst::Pad) {
    if !unused(stage) {
        tracing::info!(stage = %stage.name(), "ULPFEC or RED negotiated: the FEC stage stays");
        return;
    }
    let sink = stage.static_pad("sink").expect("the FEC stage has an input");
    let Some(upstream) = sink.peer() else {
        tracing::warn!(stage = %stage.name(), "the FEC stage's output was linked before its input; it stays");
        return;
    };
    let relinked = src
        .unlink(downstream)
        .and_then(|_| upstream.unlink(&sink))
        .map_err(anyhow::Error::from)
        .and_then(|_| upstream.link(downstream).map(drop).map_err(anyhow::Error::from));
    if let Err(e) = relinked {
        // Whatever is left unlinked, `webrtcbin` would send nothing on this stream: put the
        // stage back rather than lose the stream.
        tracing::warn!(stage = %stage.name(), "could not bypass the FEC stage ({e}); it stays");
        let _ = upstream.unlink(downstream);
        let _ = upstream.link(&sink);
        let _ = src.link(downstream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds `clocksync ! <stage> ! identity` the way `webrtcbin` does, in a bin watched by
    /// [`super::super::streamline`], with the stage's payload types set to `ulpfec_pt` and `red_pt`:
    /// what the `clocksync` feeds.
    fn fed_by_clocksync(ulpfec_pt: u32, red_pt: i32) -> (gst::Element, gst::Element) {
        gst::init().unwrap();
        let bin = gst::Bin::new();
        super::super::streamline(bin.upcast_ref());
        let stage = gst::Bin::new();
        let fec = gst::ElementFactory::make("rtpulpfecenc").property("pt", ulpfec_pt).build().unwrap();
        let red = gst::ElementFactory::make("rtpredenc").property("pt", red_pt).build().unwrap();
        stage.add_many([&fec, &red]).unwrap();
        fec.link(&red).unwrap();
        stage.add_pad(&gst::GhostPad::with_target(&fec.static_pad("sink").unwrap()).unwrap()).unwrap();
        let src = gst::GhostPad::builder_with_target(&red.static_pad("src").unwrap()).unwrap().name("src").build();
        stage.add_pad(&src).unwrap();
        let clocksync = gst::ElementFactory::make("clocksync").build().unwrap();
        let after = gst::ElementFactory::make("identity").build().unwrap();
        bin.add_many([&clocksync, stage.upcast_ref(), &after]).unwrap();
        clocksync.link(&stage).unwrap();
        stage.link(&after).unwrap();
        let fed = clocksync.static_pad("src").unwrap().peer().and_then(|p| p.parent_element()).unwrap();
        (fed, after)
    }

    #[test]
    fn an_unused_stage_is_bypassed_and_a_negotiated_one_stays() {
        let (fed, after) = fed_by_clocksync(NO_ULPFEC_PT, NO_RED_PT);
        assert_eq!(fed, after, "an unused FEC stage was left in the path");
        for (ulpfec_pt, red_pt) in [(NO_ULPFEC_PT, 63), (100, NO_RED_PT)] {
            let (fed, _) = fed_by_clocksync(ulpfec_pt, red_pt);
            assert!(fed.is::<gst::Bin>(), "a negotiated stage was bypassed (ulpfec {ulpfec_pt}, red {red_pt})");
        }
    }
}
