//! Recording file names: the checks on a requested name, the server's own names, and creating
//! the file without ever overwriting one.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{RecordingError, RecordingId};
use crate::ids::RoomId;

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
    let (mut candidate, mut n) = (path.to_owned(), 1);
    loop {
        match create_file(&candidate) {
            Err(RecordingError::Exists(_)) if n < 9 => {
                n += 1;
                candidate = path.with_file_name(format!("{stem}-{n}.webm"));
            }
            other => return other.map(|()| candidate),
        }
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
