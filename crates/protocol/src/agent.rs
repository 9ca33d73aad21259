//! The `/agent` WebSocket protocol: what an AI agent or bot sends and receives besides the
//! signaling messages (`docs/agents.md`).
//!
//! Binary frames carry audio both ways: 20 ms of 16-bit little-endian mono PCM at the rate the
//! agent chose. Text frames carry JSON: [`AgentMessage`]s from the agent; from the server the
//! [`crate::ServerMessage`]s a participant gets, the `participants` event of the DataChannel and
//! [`SnapshotHeader`]s.

use serde::{Deserialize, Serialize};

/// Milliseconds of audio in one binary frame, both ways.
pub const FRAME_MS: u32 = 20;
/// The sample rates an agent may choose (`rate=`); the first is the default.
pub const AGENT_RATES: [u32; 3] = [16_000, 24_000, 48_000];
/// The most snapshots a second an agent may ask for with `frames=`.
pub const MAX_FRAMES_PER_SECOND: u32 = 5;

/// Bytes in one 20 ms frame at `rate` (640 at 16 kHz).
pub const fn frame_bytes(rate: u32) -> usize {
    (rate / 1000 * FRAME_MS) as usize * 2
}

/// A text message from an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum AgentMessage {
    /// A chat line for everyone.
    Chat(crate::ChatLine),
    /// A caption of what the agent says.
    Caption(crate::CaptionLine),
    /// Drop the audio queued and not yet played (barge-in).
    ClearAudio,
    /// Send one JPEG of the composite.
    Snapshot,
    /// The next binary frame is a JPEG or PNG to show as the agent's tile.
    Image,
    /// Leave the room; the server then closes the socket.
    Leave,
}

impl AgentMessage {
    /// The `type` tags an agent may send.
    pub const TYPES: [&'static str; 6] = ["chat", "caption", "clearAudio", "snapshot", "image", "leave"];
}

/// The text frame sent right before each snapshot's JPEG binary frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotHeader {
    /// Always `snapshot`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `image/jpeg`.
    pub format: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes in the binary frame that follows.
    pub bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_messages() {
        assert_eq!(frame_bytes(16_000), 640);
        assert_eq!(frame_bytes(24_000), 960);
        assert_eq!(frame_bytes(48_000), 1920);
        let m: AgentMessage = serde_json::from_str(r#"{"type":"caption","text":"hi","final":true}"#).unwrap();
        assert_eq!(m, AgentMessage::Caption(crate::CaptionLine { text: "hi".into(), is_final: true }));
        let m: AgentMessage = serde_json::from_str(r#"{"type":"clearAudio"}"#).unwrap();
        assert_eq!(m, AgentMessage::ClearAudio);
        for t in AgentMessage::TYPES {
            let json = format!(r#"{{"type":"{t}","text":"x","final":false}}"#);
            assert!(serde_json::from_str::<AgentMessage>(&json).is_ok(), "{t}");
        }
    }
}
