//! Rooms. A room exists from its first join until its last participant leaves; one actor
//! thread owns it.
//!
//! - [`core`]: the room's rules, pure: inputs (commands, media notices, ticks) with their time
//!   in, messages and media operations out. Unit-tested on a fake clock.
//! - `actor`: the room's thread: it owns the pipeline ([`crate::media::RoomMedia`]), the
//!   participants' sockets and the recordings, feeds the core and carries out its outputs.
//! - [`RoomHandle`]: how everyone else reaches a room (an mpsc sender); the actor is the only
//!   code that touches its participants and pipeline.

mod active_recordings;
mod actor;
pub mod core;
mod end;
mod handle;
mod notices;
mod reports;
mod watchdog;

pub(crate) use active_recordings::FINALIZE_LIMIT;
pub(crate) use actor::{OnClose, spawn};
pub use handle::*;
