//! Snapshots of the composite for agents: a JPEG branch on the video mix's raw tee
//! (pipelines/snapshot.txt), attached while some agent holds a receiver and detached at the
//! room's next tick after the last one let go, so a room no agent looks at encodes no JPEG.

use bytes::Bytes;
use gst::prelude::*;
use tokio::sync::watch;

use super::room_media::{RoomMedia, stop_in};
use crate::pipelines::SNAPSHOT;

/// The newest JPEG of the composite (none before the first).
pub type Snapshots = watch::Receiver<Option<Bytes>>;

/// The attached branch.
#[derive(Debug)]
pub(super) struct SnapshotBranch {
    /// `queue ! videorate ! jpegenc ! appsink`, a child of the pipeline.
    bin: gst::Bin,
    /// The video mix's raw output feeding it.
    feed: gst::GhostPad,
    /// Where each JPEG goes.
    tx: watch::Sender<Option<Bytes>>,
}

impl RoomMedia {
    /// A receiver of the composite's JPEGs (the branch is attached if it was not); none in an
    /// audio-only room or if the branch cannot be built.
    pub fn snapshots(&mut self) -> Option<Snapshots> {
        if let Some(branch) = &self.snapshots {
            return Some(branch.tx.subscribe());
        }
        let video = self.video.as_ref()?;
        match attach(&self.pipeline, video) {
            Ok(branch) => {
                let rx = branch.tx.subscribe();
                tracing::info!("snapshots on");
                self.snapshots = Some(branch);
                Some(rx)
            }
            Err(e) => {
                tracing::warn!("no snapshots: {e:#}");
                None
            }
        }
    }

    /// Detaches the branch once no agent holds a receiver.
    pub fn drop_idle_snapshots(&mut self) {
        if self.snapshots.as_ref().is_some_and(|b| b.tx.receiver_count() == 0) {
            let branch = self.snapshots.take().expect("checked");
            if let Some(video) = &self.video {
                video.remove_raw_output(&branch.feed);
            }
            stop_in(&self.pipeline, branch.bin.upcast_ref());
            tracing::info!("snapshots off: nobody looks");
        }
    }
}

fn attach(pipeline: &gst::Pipeline, video: &super::mixer::VideoMix) -> anyhow::Result<SnapshotBranch> {
    let bin = super::mixer::parse_fragment(SNAPSHOT, false)?;
    bin.set_property("name", "snapshots");
    let queue = bin.by_name("queue").ok_or_else(|| anyhow::anyhow!("snapshot fragment has no queue"))?;
    let sink = bin.by_name("sink").and_then(|s| s.downcast::<gst_app::AppSink>().ok());
    let sink = sink.ok_or_else(|| anyhow::anyhow!("snapshot fragment has no appsink"))?;
    let (tx, _) = watch::channel(None);
    let out = tx.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                    out.send_replace(Some(Bytes::copy_from_slice(&map)));
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let input = super::ghost::expose(&bin, &queue.static_pad("sink").expect("queues take input"), "sink")?;
    pipeline.add(&bin)?;
    // A tee branch: started first, then linked.
    let feed = bin.sync_state_with_parent().map_err(anyhow::Error::from).and_then(|_| {
        let feed = video.add_raw_output("snapshots")?;
        feed.link(&input).inspect_err(|_| video.remove_raw_output(&feed))?;
        Ok(feed)
    });
    match feed {
        Ok(feed) => Ok(SnapshotBranch { bin, feed, tx }),
        Err(e) => {
            stop_in(pipeline, bin.upcast_ref());
            Err(e)
        }
    }
}
