//! Recordings of rooms: ids, states, file names ([`files`]), and the server-wide list the REST API shows
//! (it outlives the rooms). Pure except for reading file sizes; the media work is in
//! [`crate::media::recorder`] and the room task drives it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::ids::RoomId;

mod files;

pub use files::{create_file, create_unique, file_for};

pub use tessera_protocol::RecordingId;

/// Where a recording is in its life; it only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RecordingState {
    /// Linked, waiting for its first keyframe.
    Starting,
    /// Writing.
    Running,
    /// EOS sent; the muxer is writing its index.
    Stopping,
    /// Finalized and closed.
    Done,
    /// Stopped by an error (the file holds what was written before it).
    Failed,
}

impl RecordingState {
    /// Whether the recording still writes or finalizes.
    pub fn is_active(self) -> bool {
        self < RecordingState::Done
    }
}

/// Why a recording operation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordingError {
    /// No such recording in this room.
    #[error("room {room} has no recording {id:?}")]
    NotFound {
        /// The room asked.
        room: RoomId,
        /// The id asked for, as given.
        id: String,
    },
    /// The recording already ended (it is still listed).
    #[error("recording {id} of room {room} has already ended ({state:?})")]
    NotRunning {
        /// Its room.
        room: RoomId,
        /// The recording.
        id: RecordingId,
        /// How it ended.
        state: RecordingState,
    },
    /// The requested file name is not acceptable; says why.
    #[error("{0}")]
    InvalidName(String),
    /// A file with that name exists; recordings never overwrite.
    #[error("{0} already exists")]
    Exists(PathBuf),
    /// The record directory or file cannot be written.
    #[error("cannot write {path}: {reason}")]
    Unwritable {
        /// The path tried.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// The server runs audio-only rooms (`--video false`); recordings hold the composite.
    #[error("this server runs audio-only rooms (--video false); recordings need the composite")]
    AudioOnly,
    /// The recording branch could not be built or finalized.
    #[error("recording failed: {0}")]
    Media(String),
    /// A limit refuses another recording (how many run at once, free disk space); says which.
    #[error("recording refused: {0}")]
    Refused(String),
}

/// Free space on the file system holding `dir` (or its nearest existing ancestor), MiB.
pub fn free_mib(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|d| !d.as_os_str().is_empty() && d.exists()).unwrap_or(Path::new("."));
    let path = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stat` a properly sized out-parameter.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some(stat.f_bavail.saturating_mul(stat.f_frsize) / (1024 * 1024))
}

/// A recording as the REST API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingInfo {
    /// Id.
    pub id: RecordingId,
    /// The room recorded.
    pub room: RoomId,
    /// The WebM file, as the server opened it (relative paths are relative to the server's
    /// working directory).
    pub path: PathBuf,
    /// Where it is in its life.
    pub state: RecordingState,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Media written so far (or in all, once stopped): the last written running time minus
    /// the first, in seconds; the file's duration.
    pub duration_secs: f64,
    /// Size of the file on disk.
    pub bytes: u64,
    /// Encoded video frames that never reached the file because the disk could not keep up
    /// (lost in the recorder's queue, or undecodable without them until the next keyframe).
    pub dropped_video_frames: u64,
    /// Encoded 20 ms audio frames lost the same way.
    pub dropped_audio_frames: u64,
    /// Why it failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a recording branch has written so far; updated from its streaming threads, read by
/// the listing. Running times in nanoseconds.
#[derive(Debug)]
pub struct RecordingProgress {
    /// Running time of the first buffer written (`u64::MAX` until then).
    first: AtomicU64,
    /// End running time of the last buffer written.
    last: AtomicU64,
    /// Video frames lost to a slow disk.
    dropped_video: AtomicU64,
    /// Audio frames lost to a slow disk.
    dropped_audio: AtomicU64,
}

impl Default for RecordingProgress {
    fn default() -> Self {
        Self {
            first: AtomicU64::new(u64::MAX),
            last: AtomicU64::new(0),
            dropped_video: AtomicU64::new(0),
            dropped_audio: AtomicU64::new(0),
        }
    }
}

impl RecordingProgress {
    /// A buffer spanning running times `start..end` (ns) went to the muxer.
    pub fn written(&self, start: u64, end: u64) {
        self.first.fetch_min(start, Ordering::Relaxed);
        self.last.fetch_max(end.max(start), Ordering::Relaxed);
    }

    /// The media duration written so far: last end minus first start.
    pub fn duration(&self) -> Duration {
        let first = self.first.load(Ordering::Relaxed);
        let last = self.last.load(Ordering::Relaxed);
        Duration::from_nanos(last.saturating_sub(first))
    }

    /// One video frame lost; returns the total.
    pub fn drop_video(&self) -> u64 {
        self.dropped_video.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// One audio frame lost; returns the total.
    pub fn drop_audio(&self) -> u64 {
        self.dropped_audio.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Frames lost so far: (video, audio).
    pub fn dropped(&self) -> (u64, u64) {
        (self.dropped_video.load(Ordering::Relaxed), self.dropped_audio.load(Ordering::Relaxed))
    }
}

/// One entry of the store.
#[derive(Debug)]
struct Entry {
    /// What is shown, but for duration, size and drops.
    info: RecordingInfo,
    /// What the branch has written.
    progress: Arc<RecordingProgress>,
}

/// Finished recordings kept in the list; older finished ones are forgotten (their files stay).
const KEEP_FINISHED: usize = 1000;

/// Every recording this server made, live or finished. Updated by room tasks, read by the API.
#[derive(Debug, Default)]
pub struct RecordingStore {
    /// Entries in creation order. Never held across `.await` or file-system calls.
    entries: Mutex<Vec<Entry>>,
}

impl RecordingStore {
    /// Recordings writing or finalizing, in every room.
    pub fn active(&self) -> usize {
        self.entries.lock().unwrap().iter().filter(|e| e.info.state.is_active()).count()
    }

    /// Records a new recording in state `Starting`; its branch reports into the returned
    /// progress.
    pub fn add(&self, id: RecordingId, room: RoomId, path: PathBuf) -> Arc<RecordingProgress> {
        Self::insert(&mut self.entries.lock().unwrap(), id, room, path)
    }

    /// [`RecordingStore::add`], unless `max` recordings are active already (then `Err` with
    /// their number): counted and added under one lock, so rooms starting recordings at the
    /// same moment cannot pass the cap together.
    pub fn add_within(
        &self,
        max: usize,
        id: RecordingId,
        room: RoomId,
        path: PathBuf,
    ) -> Result<Arc<RecordingProgress>, usize> {
        let mut entries = self.entries.lock().unwrap();
        let active = entries.iter().filter(|e| e.info.state.is_active()).count();
        if active >= max {
            return Err(active);
        }
        Ok(Self::insert(&mut entries, id, room, path))
    }

    fn insert(entries: &mut Vec<Entry>, id: RecordingId, room: RoomId, path: PathBuf) -> Arc<RecordingProgress> {
        let info = RecordingInfo {
            id,
            room,
            path,
            state: RecordingState::Starting,
            started_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            duration_secs: 0.0,
            bytes: 0,
            dropped_video_frames: 0,
            dropped_audio_frames: 0,
            error: None,
        };
        let progress = Arc::new(RecordingProgress::default());
        entries.push(Entry { info, progress: progress.clone() });
        let finished = entries.iter().filter(|e| !e.info.state.is_active()).count();
        if finished > KEEP_FINISHED {
            let mut excess = finished - KEEP_FINISHED;
            entries.retain(|e| {
                let forget = excess > 0 && !e.info.state.is_active();
                excess -= usize::from(forget);
                !forget
            });
        }
        progress
    }

    /// Moves a recording forward to `state` (never backward), with an error for `Failed`;
    /// whether it moved.
    pub fn advance(&self, id: RecordingId, state: RecordingState, error: Option<String>) -> bool {
        let mut entries = self.entries.lock().unwrap();
        if let Some(e) = entries.iter_mut().find(|e| e.info.id == id)
            && state > e.info.state
        {
            e.info.state = state;
            if error.is_some() {
                e.info.error = error;
            }
            return true;
        }
        false
    }

    /// One recording, with its current duration and size.
    pub fn get(&self, id: RecordingId) -> Option<RecordingInfo> {
        self.list(|i| i.id == id).pop()
    }

    /// Recordings matching `filter`, oldest first, with current durations and sizes.
    pub fn list(&self, filter: impl Fn(&RecordingInfo) -> bool) -> Vec<RecordingInfo> {
        let found: Vec<(RecordingInfo, Arc<RecordingProgress>)> = {
            let entries = self.entries.lock().unwrap();
            entries.iter().filter(|e| filter(&e.info)).map(|e| (e.info.clone(), e.progress.clone())).collect()
        };
        found
            .into_iter()
            .map(|(mut info, progress)| {
                info.duration_secs = progress.duration().as_secs_f64();
                (info.dropped_video_frames, info.dropped_audio_frames) = progress.dropped();
                info.bytes = std::fs::metadata(&info.path).map(|m| m.len()).unwrap_or(0);
                info
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_is_the_media_written() {
        let p = RecordingProgress::default();
        assert_eq!(p.duration(), Duration::ZERO, "nothing written yet");
        p.written(5_000_000_000, 5_020_000_000);
        p.written(4_990_000_000, 5_023_000_000);
        p.written(9_000_000_000, 9_033_000_000);
        assert_eq!(p.duration(), Duration::from_millis(4043));
        assert_eq!((p.drop_video(), p.drop_video(), p.drop_audio()), (1, 2, 1));
        assert_eq!(p.dropped(), (2, 1));
    }

    #[test]
    fn states_only_move_forward() {
        let store = RecordingStore::default();
        let id = RecordingId::next();
        store.add(id, RoomId::parse("r").unwrap(), "/nonexistent/x.webm".into());
        store.advance(id, RecordingState::Running, None);
        store.advance(id, RecordingState::Starting, None);
        assert_eq!(store.get(id).unwrap().state, RecordingState::Running);
        store.advance(id, RecordingState::Failed, Some("disk full".into()));
        store.advance(id, RecordingState::Done, None);
        let info = store.get(id).unwrap();
        assert_eq!((info.state, info.error.as_deref()), (RecordingState::Failed, Some("disk full")));
        assert!(!info.state.is_active());
    }
}
