//! Tessera's wire protocol: what any client, bot or tool needs to talk to a Tessera server and
//! to read its composite, and nothing of the server itself.
//!
//! - [`ClientMessage`] / [`ServerMessage`] / [`ChannelMessage`]: the `/ws` signaling messages
//!   and the `tessera` DataChannel's events (`docs/protocol.md`), with their [`ErrorCode`]s.
//! - [`ids`]: validated room names, participant and recording ids.
//! - [`layout`]: a room's layout setting ([`layout::LayoutSpec`]) and the pure geometry that
//!   turns it into tiles on the canvas, so a client can tell where each participant is.

#![deny(missing_docs)]

mod error_code;
pub mod ids;
pub mod layout;
mod message;

pub use error_code::ErrorCode;
pub use ids::{InvalidId, ParticipantId, RecordingId, RoomId, validate_name};
pub use message::*;
