//! Recordings of rooms: ids, states, file names, and the server-wide list the REST API shows
//! (it outlives the rooms). Pure except for reading file sizes; the media work is in
//! [`crate::media::recorder`] and the room task drives it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::RoomId;

/// A recording's id, shown as `rec<n>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordingId(u64);

impl RecordingId {
    /// A fresh id.
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for RecordingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rec{}", self.0)
    }
}

impl FromStr for RecordingId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        s.strip_prefix("rec").and_then(|n| n.parse().ok()).map(Self).ok_or(())
    }
}

impl Serialize for RecordingId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordingId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(|_| serde::de::Error::custom("invalid recording id"))
    }
}

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
    /// Records a new recording in state `Starting`; its branch reports into the returned
    /// progress.
    pub fn add(&self, id: RecordingId, room: RoomId, path: PathBuf) -> Arc<RecordingProgress> {
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
        let mut entries = self.entries.lock().unwrap();
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

    /// Moves a recording forward to `state` (never backward), with an error for `Failed`.
    pub fn advance(&self, id: RecordingId, state: RecordingState, error: Option<String>) {
        let mut entries = self.entries.lock().unwrap();
        if let Some(e) = entries.iter_mut().find(|e| e.info.id == id)
            && state > e.info.state
        {
            e.info.state = state;
            if error.is_some() {
                e.info.error = error;
            }
        }
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

/// Extensions a requested file name may carry (both are Matroska; `.webm` is added when a name
/// has none).
const EXTENSIONS: [&str; 2] = ["webm", "mkv"];

/// Checks a requested file name and gives it its extension: `[A-Za-z0-9._-]`, 1 to 100
/// characters, not starting with `.` (hidden) or `-` (it would read as an option to ffmpeg
/// and shell tools), ending in `.webm` or `.mkv` (`.webm` added when there is no extension).
pub fn checked_name(name: &str) -> Result<String, RecordingError> {
    let invalid = |why: &str| Err(RecordingError::InvalidName(format!("file name {name:?}: {why}")));
    if !(1..=100).contains(&name.len()) {
        return invalid("must be 1 to 100 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return invalid("only A-Z, a-z, 0-9, '.', '_' and '-' are allowed (no directories)");
    }
    if name.starts_with(['.', '-']) {
        return invalid("must not start with '.' or '-'");
    }
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        None => Ok(format!("{name}.webm")),
        Some(ext) if EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) => Ok(name.to_owned()),
        Some(ext) => invalid(&format!("the file is WebM (Matroska): end it in .webm or .mkv, not .{ext}")),
    }
}

/// The file for a new recording of `room` in `dir`: the requested name (see [`checked_name`])
/// or `<room>-<UTC start time>-<id>.webm` (with a leading `_` for a room id starting with `-`).
pub fn file_for(
    dir: &Path,
    room: &RoomId,
    id: RecordingId,
    requested: Option<&str>,
    now: SystemTime,
) -> Result<PathBuf, RecordingError> {
    let name = match requested {
        Some(name) => checked_name(name)?,
        None => {
            let stamp: String = humantime::format_rfc3339_seconds(now)
                .to_string()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            let lead = if room.as_str().starts_with('-') { "_" } else { "" };
            format!("{lead}{room}-{stamp}-{id}.webm")
        }
    };
    Ok(dir.join(name))
}

/// Creates `path` for writing, refusing to overwrite; the recorder then writes into it.
pub fn create_file(path: &Path) -> Result<(), RecordingError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| RecordingError::Unwritable { path: dir.to_owned(), reason: e.to_string() })?;
    }
    match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(RecordingError::Exists(path.to_owned())),
        Err(e) => Err(RecordingError::Unwritable { path: path.to_owned(), reason: e.to_string() }),
    }
}

/// Creates a server-named file: `path`, or if that exists (ids restart with the process, so a
/// restart within the same second can repeat a name) `<stem>-2.webm` up to `-9`.
pub fn create_unique(path: &Path) -> Result<PathBuf, RecordingError> {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut candidate = path.to_owned();
    for n in 2..=10 {
        match create_file(&candidate) {
            Err(RecordingError::Exists(_)) if n <= 9 => candidate = path.with_file_name(format!("{stem}-{n}.webm")),
            other => return other.map(|()| candidate),
        }
    }
    unreachable!("the loop returns by its last attempt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let room = RoomId::parse("team-a").unwrap();
        let id: RecordingId = "rec7".parse().unwrap();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        let dir = Path::new("/rec");
        let p = file_for(dir, &room, id, None, t).unwrap();
        assert_eq!(p, Path::new("/rec/team-a-20261118T110640Z-rec7.webm"));
        let dash = RoomId::parse("-rf").unwrap();
        assert_eq!(file_for(dir, &dash, id, None, t).unwrap(), Path::new("/rec/_-rf-20261118T110640Z-rec7.webm"));
        for (asked, got) in [
            ("standup", "standup.webm"),
            ("a.mkv", "a.mkv"),
            ("b.webm", "b.webm"),
            ("C.WEBM", "C.WEBM"),
            ("v1.2_final-cut.webm", "v1.2_final-cut.webm"),
        ] {
            assert_eq!(file_for(dir, &room, id, Some(asked), t).unwrap(), dir.join(got), "{asked:?}");
        }
        let long = "n".repeat(101);
        for bad in ["", "../x", "a/b", "/etc/passwd", ".hidden", "-rf", "--help.webm", "sp ace", "é.webm", &long] {
            let e = file_for(dir, &room, id, Some(bad), t).unwrap_err();
            assert!(matches!(e, RecordingError::InvalidName(_)), "{bad:?}: {e:?}");
        }
        for bad_ext in ["x.mp4", "x.txt", "standup.part2", "x.webm.sh"] {
            let e = file_for(dir, &room, id, Some(bad_ext), t).unwrap_err().to_string();
            assert!(e.contains(".webm or .mkv"), "{bad_ext:?}: {e}");
        }
    }

    #[test]
    fn server_names_step_aside_instead_of_overwriting() {
        let dir = std::env::temp_dir().join(format!("tessera-unique-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("room-20260101T000000Z-rec1.webm");
        assert_eq!(create_unique(&path).unwrap(), path);
        assert_eq!(create_unique(&path).unwrap(), dir.join("room-20260101T000000Z-rec1-2.webm"));
        assert_eq!(create_unique(&path).unwrap(), dir.join("room-20260101T000000Z-rec1-3.webm"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

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

    #[test]
    fn files_are_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("tessera-rec-{}", std::process::id()));
        let path = dir.join("once.webm");
        let _ = std::fs::remove_file(&path);
        create_file(&path).unwrap();
        assert_eq!(create_file(&path), Err(RecordingError::Exists(path.clone())));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(create_file(Path::new("/proc/nope/x.webm")), Err(RecordingError::Unwritable { .. })));
    }
}
