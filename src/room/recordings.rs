//! The room task's recordings: start, stop (EOS, then a finalized file), failures that stop
//! only the recording, auto-recording, and finishing every recording when the room ends.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use super::task::Room;
use crate::media::MediaEvent;
use crate::media::Notice;
use crate::protocol::ServerMessage;
use crate::recording::{self, RecordingError, RecordingId, RecordingInfo, RecordingState};

/// How long a stopping recording may take to finalize before it is given up. Shutdown waits
/// for it and must still exit within 5 s (see `lib.rs`); finalizing normally takes milliseconds.
pub(crate) const FINALIZE_LIMIT: Duration = Duration::from_secs(3);

type Reply = oneshot::Sender<Result<RecordingInfo, RecordingError>>;

/// A recording the room is writing or finalizing.
#[derive(Default)]
pub(super) struct Active {
    /// When EOS was sent, once stopping.
    stopping_since: Option<Instant>,
    /// Who waits for the finalized file.
    waiters: Vec<Reply>,
}

/// The room's recordings, by id.
pub(super) type Recordings = BTreeMap<RecordingId, Active>;

impl Room {
    /// Starts a recording of the composite and the full mix; tells everyone.
    pub(super) fn start_recording(&mut self, name: Option<&str>) -> Result<RecordingInfo, RecordingError> {
        if !self.media.mixes_video() {
            return Err(RecordingError::AudioOnly);
        }
        let id = RecordingId::next();
        let path = recording::file_for(&self.record_dir, &self.id, id, name, SystemTime::now())?;
        match recording::create_file(&path) {
            Ok(()) => self.store.add(id, self.id.clone(), path.clone()),
            Err(e @ RecordingError::Unwritable { .. }) => {
                // Listed as failed, with the reason, like a disk that fills up later.
                error!(room = %self.id, recording = %id, "recording failed: {e}");
                self.store.add(id, self.id.clone(), path);
                self.store.advance(id, RecordingState::Failed, Some(e.to_string()));
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        if let Err(e) = self.media.start_recording(id, &path) {
            error!(room = %self.id, recording = %id, "cannot start recording: {e}");
            self.store.advance(id, RecordingState::Failed, Some(e.to_string()));
            let _ = std::fs::remove_file(&path); // still empty
            return Err(RecordingError::Media(e.to_string()));
        }
        self.recordings.insert(id, Active::default());
        info!(room = %self.id, recording = %id, path = %path.display(), "recording started");
        self.broadcast(&ServerMessage::RecordingStarted { recording_id: id });
        Ok(self.store.get(id).expect("just added"))
    }

    /// Stops a recording; `reply` gets the finalized recording.
    pub(super) fn stop_recording(&mut self, id: &str, reply: Reply) {
        let found = id.parse::<RecordingId>().ok().filter(|id| self.recordings.contains_key(id));
        let Some(id) = found else {
            let _ = reply.send(Err(RecordingError::NotFound(id.to_owned())));
            return;
        };
        self.begin_stop(id);
        self.recordings.get_mut(&id).expect("present").waiters.push(reply);
    }

    /// Sends EOS through a recording unless it is already stopping.
    fn begin_stop(&mut self, id: RecordingId) {
        let Some(active) = self.recordings.get_mut(&id) else { return };
        if active.stopping_since.is_none() {
            active.stopping_since = Some(Instant::now());
            self.media.stop_recording(id);
            self.store.advance(id, RecordingState::Stopping, None);
        }
    }

    /// Handles the media layer's recording notices; false for other notices.
    pub(super) fn on_recording_notice(&mut self, notice: &Notice) -> bool {
        match notice {
            Notice::RecordingRunning { id } => self.store.advance(*id, RecordingState::Running, None),
            Notice::RecordingFinished { id } => self.end_recording(*id, None),
            Notice::RecordingFailed { id, reason } => self.end_recording(*id, Some(reason.clone())),
            _ => return false,
        }
        true
    }

    /// Removes a finished or failed recording's branch and answers whoever waits for it.
    fn end_recording(&mut self, id: RecordingId, error: Option<String>) {
        let Some(active) = self.recordings.remove(&id) else { return };
        self.media.drop_recording(id);
        let state = if error.is_some() { RecordingState::Failed } else { RecordingState::Done };
        self.store.advance(id, state, error.clone());
        let info = self.store.get(id).expect("recorded");
        match &error {
            None => {
                info!(room = %self.id, recording = %id, secs = info.duration_secs, bytes = info.bytes, "recording finalized")
            }
            Some(why) => error!(room = %self.id, recording = %id, "recording failed: {why}"),
        }
        self.broadcast(&ServerMessage::RecordingStopped { recording_id: id });
        for waiter in active.waiters {
            let _ = waiter.send(match &error {
                None => Ok(info.clone()),
                Some(why) => Err(RecordingError::Media(why.clone())),
            });
        }
    }

    /// Gives up on recordings that did not finalize in time (keeping a graph dump).
    pub(super) fn check_recordings(&mut self) {
        let stuck: Vec<RecordingId> = self
            .recordings
            .iter()
            .filter(|(_, a)| a.stopping_since.is_some_and(|t| t.elapsed() > FINALIZE_LIMIT))
            .map(|(id, _)| *id)
            .collect();
        for id in stuck {
            warn!(room = %self.id, recording = %id, "recording did not finalize within {FINALIZE_LIMIT:?}");
            self.media.dump_graph(&format!("tessera-recording-{id}-stuck"));
            self.end_recording(id, Some(format!("did not finalize within {FINALIZE_LIMIT:?}")));
        }
    }

    /// Tells a newcomer about the recordings in progress.
    pub(super) fn recordings_in_progress(&self) -> Vec<ServerMessage> {
        self.recordings
            .iter()
            .filter(|(_, a)| a.stopping_since.is_none())
            .map(|(id, _)| ServerMessage::RecordingStarted { recording_id: *id })
            .collect()
    }

    /// Stops every recording and waits (bounded) until their files are finalized: the room is
    /// ending, by its last leave, a close, or shutdown.
    pub(super) async fn finish_recordings(&mut self, events: &mut mpsc::UnboundedReceiver<MediaEvent>) {
        let ids: Vec<RecordingId> = self.recordings.keys().copied().collect();
        for id in &ids {
            self.begin_stop(*id);
        }
        let deadline = tokio::time::Instant::now() + FINALIZE_LIMIT;
        while !self.recordings.is_empty() {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(event)) => {
                    if let Some(notice) = self.media.handle(event) {
                        self.on_recording_notice(&notice);
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        for id in self.recordings.keys().copied().collect::<Vec<_>>() {
            self.end_recording(id, Some("did not finalize before the room ended".into()));
        }
    }
}
