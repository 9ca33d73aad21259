//! Identifiers: validated room names and server-assigned participant ids.
//!
//! Both are newtypes so a room name can never be passed where a participant id is expected, and
//! a `RoomId` that exists is always valid (`[A-Za-z0-9_-]`, 1–64 characters).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest room name accepted.
pub const MAX_ROOM_LEN: usize = 64;
/// Longest display name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A room's name, validated on construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(String);

impl RoomId {
    /// Validates `name` as a room id: 1–64 characters from `[A-Za-z0-9_-]`.
    pub fn parse(name: &str) -> Result<Self, InvalidId> {
        let ok_len = (1..=MAX_ROOM_LEN).contains(&name.len());
        let ok_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok_len && ok_chars { Ok(Self(name.to_owned())) } else { Err(InvalidId) }
    }

    /// The room name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RoomId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RoomId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(|_| serde::de::Error::custom("invalid room id"))
    }
}

/// The error for a string that is not a valid id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid identifier")]
pub struct InvalidId;

/// A participant's id, unique within the process; shown and sent as `p<n>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(u64);

impl ParticipantId {
    /// A fresh id, never handed out before in this process.
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

impl FromStr for ParticipantId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        s.strip_prefix('p').and_then(|n| n.parse().ok()).map(Self).ok_or(InvalidId)
    }
}

impl Serialize for ParticipantId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ParticipantId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|_| serde::de::Error::custom("invalid participant id"))
    }
}

/// Characters that draw nothing though they are not format characters: the combining grapheme
/// joiner, Hangul fillers, the braille blank.
const BLANKS: [char; 6] = ['\u{034F}', '\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}', '\u{2800}'];

/// Validates a display name and returns it trimmed and in Unicode NFC: 1–64 characters, none
/// of them a control, format (zero-width, bidi override, soft hyphen), line or paragraph
/// separator, surrogate or blank filler character, so a name cannot hide characters that make
/// it differ from the name it shows. (Look-alike letters from other scripts are not refused.)
pub fn validate_name(name: &str) -> Result<String, InvalidId> {
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    use unicode_normalization::UnicodeNormalization;
    let name: String = name.trim().nfc().collect();
    let chars = name.chars().count();
    let hidden = |c: char| {
        BLANKS.contains(&c)
            || matches!(
                get_general_category(c),
                G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator | G::Surrogate
            )
    };
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(hidden) {
        return Err(InvalidId);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids() {
        assert!(RoomId::parse("a").is_ok());
        assert!(RoomId::parse("Team_room-42").is_ok());
        assert!(RoomId::parse(&"x".repeat(64)).is_ok());
        assert!(RoomId::parse(&"x".repeat(65)).is_err());
        assert!(RoomId::parse("").is_err());
        assert!(RoomId::parse("has space").is_err());
        assert!(RoomId::parse("slash/").is_err());
        assert!(RoomId::parse("é").is_err());
    }

    #[test]
    fn participant_ids_round_trip() {
        let id = ParticipantId::next();
        assert_eq!(id.to_string().parse::<ParticipantId>(), Ok(id));
        assert_ne!(ParticipantId::next(), id);
        assert!("q1".parse::<ParticipantId>().is_err());
        assert!("p".parse::<ParticipantId>().is_err());
    }

    #[test]
    fn names() {
        assert_eq!(validate_name("  Ada  ").unwrap(), "Ada");
        assert!(validate_name("李小龍 🎉").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"n".repeat(65)).is_err());
        assert!(validate_name("bell\u{7}").is_err());
        // Zero-width space and joiner, bidi override and isolate, BOM, soft hyphen, line separator.
        for hidden in [
            "Ali\u{200B}ce",
            "Ali\u{200D}ce",
            "\u{202E}ecilA",
            "\u{2066}Alice",
            "\u{FEFF}Alice",
            "Al\u{AD}ice",
            "A\u{2028}b",
            "Ali\u{3164}ce",
            "Al\u{34F}ice",
        ] {
            assert!(validate_name(hidden).is_err(), "{hidden:?}");
        }
        // NFC: "e" + combining acute is stored as the one-character "é".
        assert_eq!(validate_name("Rene\u{301}").unwrap(), "Ren\u{E9}");
        assert!(validate_name("Zoë 👩🏽").is_ok());
    }
}

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
