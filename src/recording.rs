//! Recordings of rooms: ids, states, file names, and the server-wide list the REST API shows
//! (it outlives the rooms). Pure except for reading file sizes; the media work is in
//! [`crate::media::recorder`] and the room task drives it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

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
    #[error("no recording {0} in this room")]
    NotFound(String),
    /// The recording already stopped.
    #[error("recording {0} is not running")]
    NotRunning(RecordingId),
    /// The requested file name is not acceptable.
    #[error("file name must be 1-100 characters of A-Z, a-z, 0-9, '.', '_' or '-', not starting with '.'")]
    InvalidName,
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
    /// The WebM file.
    pub path: PathBuf,
    /// Where it is in its life.
    pub state: RecordingState,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Seconds recorded so far (or in all, once stopped).
    pub duration_secs: f64,
    /// Size of the file on disk.
    pub bytes: u64,
    /// Why it failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One entry of the store.
#[derive(Debug)]
struct Entry {
    /// What is shown, but for duration and size.
    info: RecordingInfo,
    /// When it started and (once it stopped) ended.
    span: (Instant, Option<Instant>),
}

/// Every recording this server made, live or finished. Updated by room tasks, read by the API.
#[derive(Debug, Default)]
pub struct RecordingStore {
    /// Entries in creation order. Never held across `.await`.
    entries: Mutex<Vec<Entry>>,
}

impl RecordingStore {
    /// Records a new recording in state `Starting`.
    pub fn add(&self, id: RecordingId, room: RoomId, path: PathBuf) {
        let info = RecordingInfo {
            id,
            room,
            path,
            state: RecordingState::Starting,
            started_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            duration_secs: 0.0,
            bytes: 0,
            error: None,
        };
        self.entries.lock().unwrap().push(Entry { info, span: (Instant::now(), None) });
    }

    /// Moves a recording forward to `state` (never backward), with an error for `Failed`.
    pub fn advance(&self, id: RecordingId, state: RecordingState, error: Option<String>) {
        let mut entries = self.entries.lock().unwrap();
        if let Some(e) = entries.iter_mut().find(|e| e.info.id == id)
            && state > e.info.state
        {
            e.info.state = state;
            if !state.is_active() {
                e.span.1 = Some(Instant::now());
            }
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
        let entries = self.entries.lock().unwrap();
        entries
            .iter()
            .filter(|e| filter(&e.info))
            .map(|e| {
                let mut info = e.info.clone();
                info.duration_secs = e.span.1.unwrap_or_else(Instant::now).duration_since(e.span.0).as_secs_f64();
                info.bytes = std::fs::metadata(&info.path).map(|m| m.len()).unwrap_or(0);
                info
            })
            .collect()
    }
}

/// The file for a new recording of `room` in `dir`: the requested name (validated, `.webm`
/// added when it has no extension) or `<room>-<UTC start time>-<id>.webm`.
pub fn file_for(
    dir: &Path,
    room: &RoomId,
    id: RecordingId,
    requested: Option<&str>,
    now: SystemTime,
) -> Result<PathBuf, RecordingError> {
    let name = match requested {
        Some(name) => {
            let ok = (1..=100).contains(&name.len())
                && !name.starts_with('.')
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(RecordingError::InvalidName);
            }
            if Path::new(name).extension().is_some() { name.to_owned() } else { format!("{name}.webm") }
        }
        None => {
            let stamp: String = humantime::format_rfc3339_seconds(now)
                .to_string()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            format!("{room}-{stamp}-{id}.webm")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let room = RoomId::parse("team-a").unwrap();
        let id: RecordingId = "rec7".parse().unwrap();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        let p = file_for(Path::new("/rec"), &room, id, None, t).unwrap();
        assert_eq!(p, Path::new("/rec/team-a-20261118T110640Z-rec7.webm"));
        assert_eq!(file_for(Path::new("/rec"), &room, id, Some("standup"), t).unwrap(), Path::new("/rec/standup.webm"));
        assert_eq!(file_for(Path::new("/rec"), &room, id, Some("a.mkv"), t).unwrap(), Path::new("/rec/a.mkv"));
        for bad in ["", "../x", "a/b", ".hidden", "sp ace", &"n".repeat(101)] {
            assert_eq!(
                file_for(Path::new("/rec"), &room, id, Some(bad), t),
                Err(RecordingError::InvalidName),
                "{bad:?}"
            );
        }
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
