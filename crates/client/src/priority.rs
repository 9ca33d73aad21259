//! A peer standing in for a client on another machine: its streaming threads can run at a
//! lower priority, so that on one shared machine it does not take the CPU of the server under
//! test (`tessera-bench loadgen --crowd-nice`).

use gst::prelude::*;

/// A pipeline named `name` whose streaming threads run at `nice`. Each streaming thread
/// announces itself with a `stream-status` message of type `enter`, posted from that thread
/// before it does any work, so the bus's sync handler renices the thread it runs on. Every
/// peer sets it, 0 included: GStreamer's threads come from one pool, and a thread a crowd peer
/// lowered may serve the probe next. (Raising a thread's priority back takes root or
/// `CAP_SYS_NICE`; without it such a thread stays lower, which can only make the probe's
/// figures worse, and is logged.)
pub(crate) fn pipeline(name: &str, nice: i32) -> gst::Pipeline {
    let pipeline = gst::Pipeline::builder().name(name).build();
    let bus = pipeline.bus().expect("a pipeline has a bus");
    bus.set_sync_handler(move |_, message| match message.view() {
        gst::MessageView::StreamStatus(status) if status.get().0 == gst::StreamStatusType::Enter => {
            renice_this_thread(nice);
            gst::BusSyncReply::Drop
        }
        _ => gst::BusSyncReply::Pass,
    });
    pipeline
}

/// Sets the nice value of the calling thread (Linux schedules threads one by one).
fn renice_this_thread(nice: i32) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    // SAFETY: gettid, getpriority and setpriority take plain integers and only read or change
    // this thread's priority.
    let (tid, now) =
        unsafe { (libc::gettid() as libc::id_t, libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t)) };
    if now == nice {
        return;
    }
    // SAFETY: as above.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) } != 0
        && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        let e = std::io::Error::last_os_error();
        tracing::warn!("a streaming thread stays at nice {now} instead of {nice}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use gst::prelude::*;

    /// The nice value of this process's thread named `name` (`/proc/self/task/*/stat`).
    fn nice_of(name: &str) -> Option<i32> {
        std::fs::read_dir("/proc/self/task").ok()?.flatten().find_map(|task| {
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            (comm.trim() == name).then_some(())?;
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            // Fields after the command name, from field 3 (state) on: nice is field 19.
            stat.rsplit_once(')')?.1.split_whitespace().nth(16)?.parse().ok()
        })
    }

    #[test]
    fn streaming_threads_run_at_the_nice_value_and_nothing_else_does() {
        gst::init().unwrap();
        for (nice, prefix) in [(7, "low"), (0, "same")] {
            let pipeline = super::pipeline(&format!("{prefix}-peer"), nice);
            let src = gst::ElementFactory::make("audiotestsrc").name(format!("{prefix}src")).build().unwrap();
            let queue = gst::ElementFactory::make("queue").name(format!("{prefix}q")).build().unwrap();
            let sink = gst::ElementFactory::make("fakesink").property("sync", true).build().unwrap();
            pipeline.add_many([&src, &queue, &sink]).unwrap();
            gst::Element::link_many([&src, &queue, &sink]).unwrap();
            pipeline.set_state(gst::State::Playing).unwrap();
            let (src_thread, queue_thread) = (format!("{prefix}src:src"), format!("{prefix}q:src"));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while (nice_of(&src_thread).is_none() || nice_of(&queue_thread).is_none())
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            assert_eq!(nice_of(&src_thread), Some(nice), "{src_thread}");
            assert_eq!(nice_of(&queue_thread), Some(nice), "{queue_thread}");
            pipeline.set_state(gst::State::Null).unwrap();
        }
        // SAFETY: reads this thread's priority.
        let mine = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        assert_eq!(mine, 0, "the thread that built the pipelines stays as it was");
    }
}
