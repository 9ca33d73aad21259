//! The end of a room task: commands still queued are refused, and the pipeline is stopped and
//! let go (the room task then waits until it is freed, see [`crate::media::teardown`]).

use std::time::{Duration, Instant};

use gst::glib;
use tokio::sync::mpsc;
use tracing::error;

use super::actor::RoomActor;
use super::{JoinError, RoomCommand};
use crate::ids::RoomId;
use crate::recording::RecordingError;

/// Answers every command still queued on a closed room: joins are retried by the registry in a
/// new room, everything else learns the room is gone.
pub(super) fn refuse_queued(rx: &mut mpsc::Receiver<RoomCommand>) {
    while let Ok(cmd) = rx.try_recv() {
        match cmd {
            RoomCommand::Join { reply, .. } => drop(reply.send(Err(JoinError::Closed))),
            RoomCommand::Kick { reply, .. } => drop(reply.send(false)),
            RoomCommand::Offer { reply, .. } => drop(reply.send(Err("the room closed".into()))),
            RoomCommand::Close { reply, .. } => drop(reply.send(())),
            RoomCommand::StartRecording { reply, .. } | RoomCommand::StopRecording { reply, .. } => {
                drop(reply.send(Err(RecordingError::Media("the room closed".into()))))
            }
            RoomCommand::Info { .. }
            | RoomCommand::Peer { .. }
            | RoomCommand::Gone { .. }
            | RoomCommand::SetLayout { .. }
            | RoomCommand::Snapshots { .. }
            | RoomCommand::TileImage { .. } => {}
        }
    }
}

/// Sets the room's pipeline to NULL (checked) and drops the room with everything it held.
/// Returns a weak reference to the pipeline and how long after `ended` it reached NULL.
pub(super) fn stop(room: RoomActor, id: &RoomId, ended: Instant) -> (glib::WeakRef<gst::Pipeline>, Duration) {
    let pipeline = room.media.pipeline_ref();
    if let Err(e) = room.media.stop_pipeline() {
        error!(room = %id, "room pipeline did not stop: {e}");
    }
    let null_at = ended.elapsed();
    drop(room);
    (pipeline, null_at)
}
