//! Letting GStreamer objects go safely: every element in NULL before the last reference goes,
//! and that last reference on a thread that is none of the pipeline's own.

use gst::prelude::*;

/// Sets `element` and everything inside it to NULL, and checks that every one got there.
///
/// A bin's change to NULL skips children in locked state and walks only the children it has.
/// `webrtcbin` keeps its DataChannel's `sctpenc`/`sctpdec` locked until DTLS connects, then
/// unlocks them and syncs them to its own state from its `pc` thread
/// (`_sctp_check_dtls_state_task`, 1.22.0). If DTLS connects while the bin goes down, they start
/// after the bin passed them and stay PLAYING with their pad tasks; dropping the bin then
/// blocks forever in `gst_task_join`. `webrtcbin`'s own change to NULL stops its `pc` thread,
/// so a second pass over the children catches them. A pad task that outlives its element's
/// change to NULL (see [`crate::sctp`] for one) is reported, and its element kept alive.
pub fn stop(element: &gst::Element) -> Result<(), String> {
    let mut problems = Vec::new();
    if let Err(e) = element.set_state(gst::State::Null) {
        problems.push(format!("{}: set_state(NULL) failed: {e}", element.name()));
    }
    if let Some(bin) = element.downcast_ref::<gst::Bin>() {
        for child in bin.iterate_recurse().into_iter().flatten() {
            if child.current_state() != gst::State::Null {
                tracing::debug!(element = %child.name(), "left running by its bin's change to NULL; stopping it");
                if let Err(e) = child.set_state(gst::State::Null) {
                    problems.push(format!("{}: set_state(NULL) failed: {e}", child.name()));
                }
            }
        }
    }
    keep_elements_with_running_tasks(element, &mut problems);
    match element.current_state() {
        gst::State::Null if problems.is_empty() => Ok(()),
        gst::State::Null => Err(problems.join("; ")),
        other => {
            problems.push(format!("{} is {other:?} after set_state(NULL)", element.name()));
            Err(problems.join("; "))
        }
    }
}

/// Pads of `element` and everything inside it whose task is still started.
pub fn started_tasks(element: &gst::Element) -> Vec<gst::Pad> {
    let mut all = vec![element.clone()];
    if let Some(bin) = element.downcast_ref::<gst::Bin>() {
        all.extend(bin.iterate_recurse().into_iter().flatten());
    }
    all.iter().flat_map(|e| e.pads()).filter(|p| p.task_state() == gst::TaskState::Started).collect()
}

/// An element in NULL can still have a pad task running: `sctpenc` starts its task even when
/// it fails to start (see [`crate::sctp`]), and only stops it on PAUSED→READY. Whoever lets
/// such an element go blocks in `gst_task_join` for good, so each one found is kept alive
/// instead, for the life of the process: a leak reported as a problem, not a hung thread.
fn keep_elements_with_running_tasks(element: &gst::Element, problems: &mut Vec<String>) {
    for pad in started_tasks(element) {
        let Some(owner) = pad.parent_element() else { continue };
        problems.push(format!(
            "{}:{} still runs its task in {:?}; the element is kept (leaked) so that nothing blocks joining it",
            owner.name(),
            pad.name(),
            owner.current_state()
        ));
        std::mem::forget(owner);
    }
}

/// Stops `pipeline` and lets it go on a thread of its own, named `teardown-{name}`, then calls
/// `done` with how the stop went. For owners that live on an async runtime (the test peer):
/// a change to NULL joins streaming threads and may take a while, and the last reference to a
/// pipeline must go after it is in NULL, on a thread that is none of its own.
/// `parts` are other references into the pipeline, let go after it stopped.
pub fn retire(
    name: &str,
    pipeline: gst::Pipeline,
    parts: Vec<gst::Object>,
    done: impl FnOnce(Result<(), String>) + Send + 'static,
) {
    let work = move || {
        let result = stop(pipeline.upcast_ref());
        drop(parts);
        let weak = pipeline.downgrade();
        drop(pipeline);
        if let Some(pipeline) = weak.upgrade() {
            tracing::warn!(pipeline = %pipeline.name(), refs = pipeline.ref_count() - 1, "still referenced after teardown");
        }
        done(result);
    };
    let spawned = std::thread::Builder::new().name(format!("teardown-{name}")).spawn(work);
    if let Err(e) = spawned {
        tracing::error!("cannot start a teardown thread ({e}): the pipeline was dropped without stopping");
    }
}
