//! SCTP association ids that no two live `webrtcbin`s of this process share.
//!
//! The `sctp` plugin keeps its associations in one table per process, keyed by a 16-bit id,
//! and an `sctpenc`/`sctpdec` pair finds its association there by id. `webrtcbin` (1.22.0,
//! `webrtcsctptransport.c`) draws that id at random, so a new peer's DataChannel can draw the
//! id of one still open. Its `sctpdec` then fails to start ("Association already in use"),
//! and its `sctpenc` fails the same way but starts its source pad's task anyway
//! (`gst_sctp_enc_change_state` starts it after READY→PAUSED whatever the outcome). Nothing
//! ever stops that task: the element only stops it on PAUSED→READY, where it never got. The
//! element goes to NULL with the task waiting on its empty queue, and whoever drops the last
//! reference to it blocks in `gst_task_join` for good: a room thread, in the benchmark's churn
//! (with a handful of peers per process, a few joins in ten thousand draw a live id).
//!
//! [`assign_association_ids`] replaces the random id with one from [`AssociationIds`]: ids in
//! turn, skipping any still held, held until the `webrtcbin` is finalized.

use std::collections::BTreeSet;
use std::sync::Mutex;

use gst::prelude::*;

/// Ids `sctpenc`/`sctpdec` accept (`sctp-association-id`, 0..=65535).
const IDS: u32 = 1 << 16;

/// Association ids in use, handed out in turn so an id just let go is the last one reused.
#[derive(Debug, Default)]
pub struct AssociationIds {
    held: BTreeSet<u16>,
    next: u16,
}

impl AssociationIds {
    /// The next id not held, now held; `None` when all 65536 are.
    pub fn take(&mut self) -> Option<u16> {
        let free = (0..IDS).map(|i| self.next.wrapping_add(i as u16)).find(|id| !self.held.contains(id))?;
        self.held.insert(free);
        self.next = free.wrapping_add(1);
        Some(free)
    }

    /// Lets `id` go.
    pub fn release(&mut self, id: u16) {
        self.held.remove(&id);
    }
}

static PROCESS_IDS: Mutex<AssociationIds> = Mutex::new(AssociationIds { held: BTreeSet::new(), next: 0 });

fn process_ids() -> std::sync::MutexGuard<'static, AssociationIds> {
    PROCESS_IDS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether `id` is held for a `webrtcbin` of this process that is not yet finalized.
pub fn is_held(id: u32) -> bool {
    u16::try_from(id).is_ok_and(|id| process_ids().held.contains(&id))
}

/// Gives `webrtc`'s DataChannel transport an association id of its own, held until `webrtc`
/// is finalized. `webrtcbin` adds its `sctpdec` and `sctpenc` (locked, in NULL) when it first
/// needs a DataChannel; they read the id only when they start, after DTLS connects.
pub fn assign_association_ids(webrtc: &gst::Element) {
    let Some(bin) = webrtc.downcast_ref::<gst::Bin>() else { return };
    let Some(id) = process_ids().take() else {
        tracing::warn!(webrtc = %webrtc.name(), "every SCTP association id is held; webrtcbin draws its own");
        return;
    };
    bin.connect_element_added(move |_, element| {
        let factory = element.factory().map(|f| f.name());
        if matches!(factory.as_deref(), Some("sctpenc" | "sctpdec")) {
            element.set_property("sctp-association-id", u32::from(id));
        }
    });
    // The notification stays registered when the handle is dropped.
    let _ = webrtc.add_weak_ref_notify(move || process_ids().release(id));
}

/// The `sctp-association-id` of each of `webrtc`'s DataChannel elements, once it has them.
pub fn association_ids(webrtc: &gst::Element) -> Vec<(String, u32)> {
    let Some(bin) = webrtc.downcast_ref::<gst::Bin>() else { return Vec::new() };
    bin.iterate_elements()
        .into_iter()
        .flatten()
        .filter(|e| e.find_property("sctp-association-id").is_some())
        .map(|e| (e.name().to_string(), e.property::<u32>("sctp-association-id")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_handed_out_in_turn_skipping_those_held() {
        let mut ids = AssociationIds::default();
        assert_eq!((ids.take(), ids.take(), ids.take()), (Some(0), Some(1), Some(2)));
        ids.release(1);
        assert_eq!(ids.take(), Some(3), "an id let go is reused last");
        ids.next = u16::MAX;
        assert_eq!((ids.take(), ids.take()), (Some(u16::MAX), Some(1)), "wraps past those held");
    }

    #[test]
    fn all_ids_held_is_none() {
        let mut ids = AssociationIds::default();
        for _ in 0..IDS {
            assert!(ids.take().is_some());
        }
        assert_eq!(ids.take(), None);
        ids.release(7);
        assert_eq!(ids.take(), Some(7));
    }
}
