//! What goes into the room's rules and what comes out: [`Input`]s with their time, [`Output`]s
//! in order, and why a room ends.

use std::time::SystemTime;

#[cfg(doc)]
use super::IDLE_LIMIT;
use super::{Muted, StagePlan};
use crate::ids::{ParticipantId, RecordingId};
use crate::layout::{LayoutSpec, Size};
use crate::media::InboundSnapshot;
use crate::protocol::{ErrorCode, IceServer, ParticipantInfo, Role, ServerMessage};

/// Something that happened, for the rules to act on.
#[derive(Debug, Clone)]
pub enum Input {
    /// A participant whose media branch is built joins.
    Admit {
        /// Their new id.
        id: ParticipantId,
        /// Display name (validated).
        name: String,
        /// Publisher or viewer.
        role: Role,
        /// May change the layout with `setLayout`.
        may_set_layout: bool,
        /// Wall-clock time of the join, for the REST API.
        at: SystemTime,
        /// Recordings running now, which the newcomer is told of.
        recordings: Vec<RecordingId>,
        /// TURN servers and the credentials minted for this join, for their `joined`.
        ice_servers: Vec<IceServer>,
    },
    /// A participant said `leave`.
    Leave(ParticipantId),
    /// A participant's socket closed without `leave`.
    Gone(ParticipantId),
    /// An administrator removes a participant.
    Kick(ParticipantId),
    /// A participant's `mute`.
    Mute {
        /// Who.
        id: ParticipantId,
        /// Their microphone and camera.
        muted: Muted,
    },
    /// A participant's `setLayout`.
    LayoutRequest {
        /// Who asks.
        id: ParticipantId,
        /// The layout, validated.
        layout: LayoutSpec,
    },
    /// A participant's `chat` line (validated).
    Chat {
        /// Who wrote it.
        id: ParticipantId,
        /// The text.
        text: String,
    },
    /// A participant's `caption` (validated).
    Caption {
        /// Whose speech.
        id: ParticipantId,
        /// The text.
        text: String,
        /// No longer changes.
        is_final: bool,
    },
    /// An administrator sets the layout (and may lock it).
    SetLayout(LayoutSpec),
    /// Everyone leaves, told `code` (`room_closed` or `server_shutdown`).
    Close(ErrorCode),
    /// A participant's media failed; they are removed and told why.
    MediaFailed {
        /// Who.
        id: ParticipantId,
        /// Why.
        reason: String,
    },
    /// A participant's peer connection is up.
    Connected(ParticipantId),
    /// A publisher's video decoder is linked: their video can be shown.
    VideoFlowing(ParticipantId),
    /// A publisher's decoded video (re)negotiated its size.
    VideoSize {
        /// Whose video.
        id: ParticipantId,
        /// Width and height.
        size: Size,
        /// Pixel aspect ratio.
        par: (u32, u32),
    },
    /// A participant's DataChannel opened: they get the room's state on it.
    ChannelOpen(ParticipantId),
    /// Once a second: what everyone sent us so far.
    Tick {
        /// Each participant's inbound counters.
        inbound: Vec<(ParticipantId, InboundSnapshot)>,
    },
    /// Every 100 ms: each publisher's audio level (dBFS; none when no audio came) and their
    /// video so far.
    StageTick {
        /// Levels since the last stage tick.
        levels: Vec<(ParticipantId, Option<f64>)>,
        /// Video decoded and received so far.
        video: Vec<(ParticipantId, crate::media::VideoProgress)>,
    },
}

/// What the actor must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send `msg` to participant `to`.
    Send {
        /// The recipient.
        to: ParticipantId,
        /// The message.
        msg: ServerMessage,
    },
    /// Send `text` on `to`'s `tessera` DataChannel.
    Channel {
        /// The recipient.
        to: ParticipantId,
        /// A JSON `ChannelMessage`.
        text: String,
    },
    /// `id` is out: close their socket once it has sent what is queued, and remove their media.
    Remove {
        /// Who.
        id: ParticipantId,
        /// Why, for the log.
        why: String,
        /// Why, as metrics and webhooks report it.
        reason: LeaveReason,
        /// Who they were (name and role, for metrics and webhooks).
        info: ParticipantInfo,
    },
    /// Show this on the composite.
    Stage(StagePlan),
}

/// Why a participant left, as `/metrics` and webhooks report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// They said `leave`, or their socket closed.
    Left,
    /// An administrator removed them.
    Kicked,
    /// Their media never connected, or stopped.
    Timeout,
    /// Their media failed (or never decoded).
    Error,
    /// The room was closed (by an administrator, a failure or shutdown).
    Closed,
}

impl LeaveReason {
    /// Every reason.
    pub const ALL: [Self; 5] = [Self::Left, Self::Kicked, Self::Timeout, Self::Error, Self::Closed];

    /// The reason as a label and in webhook bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Kicked => "kicked",
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Closed => "closed",
        }
    }
}

/// Why a room ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Its last participant left.
    Empty,
    /// Nobody joined within [`IDLE_LIMIT`].
    NeverJoined,
}
