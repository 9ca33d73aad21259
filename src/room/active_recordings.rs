//! The room task's recordings: start, stop (EOS, then a finalized file), failures that stop
//! only the recording (a write error, no first keyframe in time, no finalization in time),
//! auto-recording, and finishing every recording when the room ends.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use super::actor::RoomActor;
use crate::media::MediaEvent;
use crate::media::Notice;
use crate::protocol::ServerMessage;
use crate::recording::{self, RecordingError, RecordingId, RecordingInfo, RecordingState};

/// How long a stopping recording may take to finalize before it is given up. Shutdown waits
/// for it and must still exit within 5 s (see `lib.rs`); finalizing normally takes milliseconds.
pub(crate) const FINALIZE_LIMIT: Duration = Duration::from_secs(3);
/// How long a new recording may wait for its first keyframe (forced when it starts, so it
/// normally comes within a frame or two) before it fails.
pub(crate) const START_LIMIT: Duration = Duration::from_secs(5);

type Reply = oneshot::Sender<Result<RecordingInfo, RecordingError>>;

/// A recording the room is writing or finalizing.
pub(super) struct Active {
    /// When it started.
    since: Instant,
    /// Whether its first keyframe arrived (it is writing).
    running: bool,
    /// When EOS was sent, once stopping.
    stopping_since: Option<Instant>,
    /// Who waits for the finalized file.
    waiters: Vec<Reply>,
}

impl Active {
    fn new(since: Instant) -> Self {
        Self { since, running: false, stopping_since: None, waiters: Vec::new() }
    }

    /// Why the recording must be given up at `now`, if it must: it never got its first
    /// keyframe, or it did not finalize in time.
    fn overdue(&self, now: Instant) -> Option<String> {
        match self.stopping_since {
            Some(t) if now.saturating_duration_since(t) > FINALIZE_LIMIT => {
                Some(format!("did not finalize within {FINALIZE_LIMIT:?}"))
            }
            None if !self.running && now.saturating_duration_since(self.since) > START_LIMIT => {
                Some(format!("no keyframe from the composite's encoder within {START_LIMIT:?} of the start"))
            }
            _ => None,
        }
    }
}

/// The room's recordings, by id.
pub(super) type ActiveRecordings = BTreeMap<RecordingId, Active>;

/// How much recording the server allows (`[recording]`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordingLimits {
    /// Recordings at once, server-wide.
    pub max_active: usize,
    /// Longest recording.
    pub max_duration: Duration,
    /// Free MiB the disk must keep.
    pub min_free_mib: u64,
}

impl From<&crate::config::RecordingSettings> for RecordingLimits {
    fn from(settings: &crate::config::RecordingSettings) -> Self {
        Self {
            max_active: settings.max_active,
            max_duration: settings.max_duration(),
            min_free_mib: settings.min_free_disk_mb,
        }
    }
}

/// The refusal for `running` recordings at the cap.
fn too_many(running: usize) -> String {
    format!("{running} recordings are running, the most this server allows")
}

impl RoomActor {
    /// Why another recording may not start now for their number, if it may not (checked again
    /// when it is added to the store).
    fn too_many_recordings(&self) -> Option<String> {
        let running = self.store.active();
        (running >= self.recording_limits.max_active).then(|| too_many(running))
    }

    /// Why another recording may not start now for the disk, if it may not.
    fn too_little_disk(&self) -> Option<String> {
        let limits = &self.recording_limits;
        match recording::free_mib(&self.record_dir) {
            Some(free) if free < limits.min_free_mib => Some(format!(
                "{free} MiB free on the recordings' disk, below the {} MiB it must keep",
                limits.min_free_mib
            )),
            _ => None,
        }
    }

    /// Starts a recording of the composite and the full mix; tells everyone.
    pub(super) fn start_recording(&mut self, name: Option<&str>) -> Result<RecordingInfo, RecordingError> {
        if !self.media.mixes_video() {
            return Err(RecordingError::AudioOnly);
        }
        if let Some(why) = self.too_many_recordings() {
            warn!(room = %self.id, "recording refused: {why}");
            return Err(RecordingError::Refused(why));
        }
        let id = RecordingId::next();
        let path = recording::file_for(&self.record_dir, &self.id, id, name, SystemTime::now())?;
        // A requested name that exists is the caller's conflict; a server-made name steps aside.
        let created = match name {
            Some(_) => recording::create_file(&path).map(|()| path.clone()),
            None => recording::create_unique(&path),
        };
        let (path, progress) = match created {
            // Checked once the file could be created: an unwritable directory says so first.
            Ok(path) if let Some(why) = self.too_little_disk() => {
                let _ = std::fs::remove_file(&path); // still empty
                warn!(room = %self.id, "recording refused: {why}");
                return Err(RecordingError::Refused(why));
            }
            Ok(path) => {
                match self.store.add_within(self.recording_limits.max_active, id, self.id.clone(), path.clone()) {
                    Ok(progress) => (path, progress),
                    Err(running) => {
                        let _ = std::fs::remove_file(&path); // still empty
                        return Err(RecordingError::Refused(too_many(running)));
                    }
                }
            }
            Err(e @ RecordingError::Exists(_)) if name.is_some() => return Err(e),
            Err(e) => {
                // Listed as failed, with the reason, like a disk that fills up later.
                error!(room = %self.id, recording = %id, "recording failed: {e}");
                self.store.add(id, self.id.clone(), path);
                self.advance_recording(id, RecordingState::Failed, Some(e.to_string()));
                return Err(e);
            }
        };
        if let Err(e) = self.media.start_recording(id, &path, progress) {
            error!(room = %self.id, recording = %id, "cannot start recording: {e}");
            self.advance_recording(id, RecordingState::Failed, Some(e.to_string()));
            let _ = std::fs::remove_file(&path); // still empty
            return Err(RecordingError::Media(e.to_string()));
        }
        self.recordings.insert(id, Active::new(Instant::now()));
        info!(room = %self.id, recording = %id, path = %path.display(), "recording started");
        self.broadcast(&ServerMessage::RecordingStarted { recording_id: id });
        Ok(self.store.get(id).expect("just added"))
    }

    /// Stops a recording; `reply` gets the finalized recording. One that already ended is a
    /// conflict (it is still listed); an id this room never had is not found.
    pub(super) fn stop_recording(&mut self, asked: &str, reply: Reply) {
        let not_found = || RecordingError::NotFound { room: self.id.clone(), id: asked.to_owned() };
        let Ok(id) = asked.parse::<RecordingId>() else {
            let _ = reply.send(Err(not_found()));
            return;
        };
        if !self.recordings.contains_key(&id) {
            let ended = self.store.get(id).filter(|r| r.room == self.id);
            let _ = reply.send(Err(match ended {
                Some(r) => RecordingError::NotRunning { room: self.id.clone(), id, state: r.state },
                None => not_found(),
            }));
            return;
        }
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
            Notice::RecordingRunning { id } => {
                if let Some(active) = self.recordings.get_mut(id) {
                    active.running = true;
                    let after_ms = active.since.elapsed().as_millis() as u64;
                    info!(room = %self.id, recording = %id, after_ms, "recording writes from its first keyframe");
                }
                self.advance_recording(*id, RecordingState::Running, None)
            }
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
        self.advance_recording(id, state, error.clone());
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

    /// Gives up on recordings that never started writing or did not finalize in time (keeping
    /// a graph dump).
    pub(super) fn check_recordings(&mut self) {
        let now = Instant::now();
        // Recordings that reached the longest allowed, or whose disk is nearly full, are
        // stopped and finalized (a playable file), not failed.
        let limits = self.recording_limits;
        let low_disk = !self.recordings.is_empty()
            && recording::free_mib(&self.record_dir).is_some_and(|free| free < limits.min_free_mib);
        let ending: Vec<RecordingId> = self
            .recordings
            .iter()
            .filter(|(_, a)| a.stopping_since.is_none())
            .filter(|(_, a)| low_disk || now.saturating_duration_since(a.since) >= limits.max_duration)
            .map(|(id, _)| *id)
            .collect();
        for id in ending {
            let why =
                if low_disk { "the disk fell below its free-space minimum" } else { "it reached its maximum duration" };
            warn!(room = %self.id, recording = %id, "stopping the recording: {why}");
            self.begin_stop(id);
        }
        let overdue: Vec<(RecordingId, String)> =
            self.recordings.iter().filter_map(|(id, a)| a.overdue(now).map(|why| (*id, why))).collect();
        for (id, why) in overdue {
            warn!(room = %self.id, recording = %id, "recording {why}");
            self.media.dump_graph(&format!("tessera-recording-{id}-stuck"));
            self.end_recording(id, Some(why));
        }
    }

    /// Tells a newcomer about the recordings in progress.
    pub(super) fn recordings_in_progress(&self) -> Vec<RecordingId> {
        self.recordings.iter().filter(|(_, a)| a.stopping_since.is_none()).map(|(id, _)| *id).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_without_keyframe_or_finalization_is_given_up() {
        let t0 = Instant::now();
        let mut a = Active::new(t0);
        assert_eq!(a.overdue(t0 + START_LIMIT), None, "still within its start limit");
        let late = a.overdue(t0 + START_LIMIT + Duration::from_millis(1)).expect("no keyframe in time");
        assert!(late.contains("no keyframe"), "{late}");
        a.running = true;
        assert_eq!(a.overdue(t0 + Duration::from_secs(3600)), None, "a running recording has no limit");
        a.stopping_since = Some(t0 + Duration::from_secs(10));
        assert_eq!(a.overdue(t0 + Duration::from_secs(10) + FINALIZE_LIMIT), None);
        let stuck = a.overdue(t0 + Duration::from_secs(11) + FINALIZE_LIMIT).expect("did not finalize");
        assert!(stuck.contains("finalize"), "{stuck}");
        // Stopped while still starting: the finalize limit applies, not the start limit.
        let mut b = Active::new(t0);
        b.stopping_since = Some(t0 + START_LIMIT - Duration::from_secs(1));
        assert_eq!(b.overdue(t0 + START_LIMIT + Duration::from_secs(1)), None);
    }
}
