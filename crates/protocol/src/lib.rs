//! Tessera's wire protocol: what any client, bot or tool needs to talk to a Tessera server and
//! to read its composite, and nothing of the server itself.
//!
//! - [`ClientMessage`] / [`ServerMessage`] / [`ChannelMessage`]: the `/ws` signaling messages
//!   and the `tessera` DataChannel's events (`docs/protocol.md`), with their [`ErrorCode`]s.
//! - [`VideoConstraints`]: what a publisher's video is worth sending (its tile's size).
//! - [`agent`]: the `/agent` WebSocket's frames, for AI agents and bots.
//! - [`IceServer`]: the STUN/TURN servers (and TURN credentials) a `joined` message hands a
//!   client.
//! - [`ids`]: validated room names, participant and recording ids.
//! - [`layout`]: a room's layout setting ([`layout::LayoutSpec`]) and the pure geometry that
//!   turns it into tiles on the canvas, so a client can tell where each participant is.

#![deny(missing_docs)]

pub mod agent;
mod constraints;
mod error_code;
mod ice_server;
pub mod ids;
pub mod layout;
mod message;

pub use constraints::VideoConstraints;
pub use error_code::ErrorCode;
pub use ice_server::IceServer;
pub use ids::{InvalidId, ParticipantId, RecordingId, RoomId, validate_name};
pub use message::*;
