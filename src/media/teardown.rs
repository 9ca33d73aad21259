//! The end of a room's pipeline, measured: it goes to NULL, then its last reference goes and it
//! is freed. Counts the room pipelines alive in this process (for `GET /api/stats`) with a weak
//! reference notification, so a pipeline kept alive by a forgotten reference shows up there.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use serde::Serialize;

/// A room pipeline must be freed within this long of the room ending.
pub const FREE_LIMIT: Duration = Duration::from_secs(5);

static BUILT: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);
static LAST: Mutex<Option<Teardown>> = Mutex::new(None);

/// How one room's pipeline ended.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Teardown {
    /// The room.
    pub room: String,
    /// Milliseconds from the room's end (its last participant gone) to the pipeline in NULL.
    pub null_ms: f64,
    /// Milliseconds from the room's end to the pipeline freed; `None` if it was still
    /// referenced after [`FREE_LIMIT`].
    pub freed_ms: Option<f64>,
}

/// Room pipelines built and not yet freed, in this process.
pub fn live_room_pipelines() -> u64 {
    BUILT.load(Ordering::SeqCst) - FREED.load(Ordering::SeqCst)
}

/// The last room pipeline teardown, if any room has ended.
pub fn last_teardown() -> Option<Teardown> {
    LAST.lock().unwrap().clone()
}

/// Counts `pipeline` as live until GObject disposes of it.
pub(super) fn track(pipeline: &gst::Pipeline) {
    BUILT.fetch_add(1, Ordering::SeqCst);
    // The notification stays registered when the handle is dropped.
    let _ = pipeline.add_weak_ref_notify(|| {
        FREED.fetch_add(1, Ordering::SeqCst);
    });
}

/// Sets `pipeline` to NULL (a change to NULL never goes async), checking that it got there.
pub(super) fn to_null(pipeline: &gst::Pipeline) -> Result<(), String> {
    tessera_webrtc::teardown::stop(pipeline.upcast_ref())
}

/// Waits until the pipeline behind `weak` is freed, up to [`FREE_LIMIT`] after `ended`; records
/// and logs the figures. A pipeline still referenced then is logged as an error with a graph
/// dump (written when `GST_DEBUG_DUMP_DOT_DIR` is set).
pub async fn await_freed(room: &str, weak: glib::WeakRef<gst::Pipeline>, ended: Instant, null_at: Duration) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    while weak.upgrade().is_some() && ended.elapsed() < FREE_LIMIT {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let freed_ms = match weak.upgrade() {
        None => Some(ms(ended.elapsed())),
        Some(pipeline) => {
            tracing::error!(
                room,
                refs = pipeline.ref_count() - 1,
                "room pipeline still referenced {FREE_LIMIT:?} after the room ended"
            );
            pipeline.debug_to_dot_file_with_ts(gst::DebugGraphDetails::all(), "tessera-room-not-freed");
            None
        }
    };
    super::memory::release_memory();
    let figures = Teardown { room: room.to_owned(), null_ms: ms(null_at), freed_ms };
    if let Some(freed) = freed_ms {
        tracing::info!(
            room,
            null_ms = format!("{:.1}", figures.null_ms),
            freed_ms = format!("{freed:.1}"),
            "room pipeline in NULL and freed"
        );
    }
    *LAST.lock().unwrap() = Some(figures);
}
