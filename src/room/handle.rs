//! How the rest of the server reaches a room: a [`RoomHandle`] (an mpsc sender) carrying
//! [`RoomCommand`]s to the room's actor, with replies over oneshot channels and time limits.

use crate::media::Session;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use serde::Serialize;

use crate::ids::{ParticipantId, RoomId};
use crate::media::InboundRates;
use crate::protocol::{ErrorCode, Role, ServerMessage};
use crate::recording::{RecordingError, RecordingInfo};
use crate::signaling::PeerCommand;

use super::active_recordings::FINALIZE_LIMIT;

/// How long a caller outside the room (the REST API) waits for the room task to answer.
pub const REPLY_LIMIT: Duration = Duration::from_secs(3);
/// How long a client that offers waits for our answer: applying the offer, then ICE gathering
/// (host candidates take milliseconds; a STUN or TURN server's reply up to a few seconds).
pub const ANSWER_LIMIT: Duration = Duration::from_secs(5);
/// Closing finalizes recordings (up to [`FINALIZE_LIMIT`]) and stops the pipeline first.
pub const CLOSE_LIMIT: Duration = Duration::from_secs(FINALIZE_LIMIT.as_secs() + 3);

/// Where a room sends a participant's messages; dropping it closes their socket.
pub type Outbound = mpsc::UnboundedSender<ServerMessage>;

/// A join that succeeded.
#[derive(Debug)]
pub struct Joined {
    /// The new participant's id.
    pub id: ParticipantId,
    /// An agent's audio ends (none for a WebRTC participant).
    pub agent: Option<crate::media::AgentIo>,
}

/// Why a join failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JoinError {
    /// The room closed while the join was on its way; the registry retries with a new room.
    #[error("room closed")]
    Closed,
    /// The server is shutting down.
    #[error("server is shutting down")]
    ShuttingDown,
    /// The participant's media branch could not be built.
    #[error("media setup failed: {0}")]
    Media(String),
    /// The server has its maximum of rooms and this join would create another.
    #[error("the server has its maximum of {0} rooms")]
    ServerFull(usize),
    /// The room has its maximum of participants.
    #[error("the room has its maximum of {0} participants")]
    RoomFull(usize),
    /// The room runs on another node of the fleet, at this public URL: the caller redirects
    /// the client there (a `redirect` message, an HTTP `307`) rather than failing.
    #[error("the room runs on {0}")]
    Elsewhere(String),
    /// The fleet's registry is out of reach and the room does not run here.
    #[error(transparent)]
    FleetUnavailable(#[from] crate::fleet::FleetUnavailable),
}

impl JoinError {
    /// The code the client is told.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::ShuttingDown => ErrorCode::ServerShutdown,
            Self::ServerFull(_) => ErrorCode::ServerFull,
            Self::RoomFull(_) => ErrorCode::RoomFull,
            Self::FleetUnavailable(_) => ErrorCode::FleetUnavailable,
            // Callers answer it with a redirect, not an error; `internal_error` if one does not.
            Self::Elsewhere(_) => ErrorCode::InternalError,
            Self::Closed | Self::Media(_) => ErrorCode::InternalError,
        }
    }
}

/// A command for a room task.
#[derive(Debug)]
pub enum RoomCommand {
    /// Add a participant; the reply carries its id.
    Join {
        /// Display name (validated).
        name: String,
        /// Publisher or viewer.
        role: Role,
        /// May change the layout with `setLayout`.
        may_set_layout: bool,
        /// The participant's message channel.
        outbound: Outbound,
        /// How its media session is negotiated.
        session: Session,
        /// Gets the new participant's id (and an agent's audio ends), or why not.
        reply: oneshot::Sender<Result<Joined, JoinError>>,
    },
    /// A client's offer (WHIP, WHEP); the reply carries our answer with every candidate.
    Offer {
        /// From whom.
        participant: ParticipantId,
        /// The offer.
        sdp: gst_sdp::SDPMessage,
        /// Our answer, or why there is none.
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// A validated signaling command from a participant.
    Peer {
        /// From whom.
        participant: ParticipantId,
        /// What.
        command: PeerCommand,
    },
    /// The participant's socket closed without `leave`.
    Gone {
        /// Who.
        participant: ParticipantId,
    },
    /// Report the room's state.
    Info {
        /// Gets the report.
        reply: oneshot::Sender<RoomInfo>,
    },
    /// Remove a participant (they get `error`/`kicked`); the reply says whether they were here.
    Kick {
        /// Who.
        participant: ParticipantId,
        /// True when the participant was in the room.
        reply: oneshot::Sender<bool>,
    },
    /// Start recording the room into a new file (the requested name, or a generated one).
    StartRecording {
        /// Requested file name.
        name: Option<String>,
        /// The new recording, or why not.
        reply: oneshot::Sender<Result<RecordingInfo, RecordingError>>,
    },
    /// Stop a recording; the reply comes once the file is finalized (or failed to be).
    StopRecording {
        /// The recording's id as given.
        id: String,
        /// The finished recording, or why not.
        reply: oneshot::Sender<Result<RecordingInfo, RecordingError>>,
    },
    /// Set the layout (an administrator: may lock it); replies with the layout applied.
    SetLayout {
        /// The new layout, already validated.
        layout: crate::layout::LayoutSpec,
        /// The layout in force afterwards.
        reply: oneshot::Sender<crate::layout::LayoutSpec>,
    },
    /// Show a picture on an agent's tile.
    TileImage {
        /// Whose tile.
        participant: ParticipantId,
        /// The decoded picture.
        image: std::sync::Arc<crate::draw::Image>,
    },
    /// A receiver of the composite's JPEGs (none in an audio-only room).
    Snapshots {
        /// Gets the receiver.
        reply: oneshot::Sender<Option<crate::media::Snapshots>>,
    },
    /// Remove everyone, telling them `code`, and end the room.
    Close {
        /// Why: `room_closed` (an administrator) or `server_shutdown`.
        code: ErrorCode,
        /// Completed when the room has closed and its pipeline stopped.
        reply: oneshot::Sender<()>,
    },
}

/// A room as the REST API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomInfo {
    /// The room's id.
    pub id: RoomId,
    /// When the room was created (RFC 3339).
    pub created_at: String,
    /// Seconds since creation.
    pub uptime_secs: f64,
    /// Everyone in the room, in join order.
    pub participants: Vec<ParticipantStatus>,
    /// Elements in the room's pipeline, recursively (for leak checks).
    pub pipeline_elements: usize,
    /// The pipeline's elements by factory and its mixers' inputs.
    pub pipeline: crate::media::PipelineInventory,
    /// The layout in force.
    pub layout: crate::layout::LayoutSpec,
    /// The active speaker.
    pub speaker: Option<ParticipantId>,
}

/// A participant as the REST API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantStatus {
    /// Id.
    pub id: ParticipantId,
    /// Display name.
    pub name: String,
    /// Publisher or viewer.
    pub role: Role,
    /// When they joined (RFC 3339).
    pub joined_at: String,
    /// What they send us, averaged over the last second.
    pub inbound: InboundRates,
    /// The size of their video as the server decodes it (`null` before the first frame, and
    /// for viewers and agents).
    pub video_size: Option<crate::layout::Size>,
    /// The video constraints they were last told (publishers; `null` before they connected).
    pub video_constraints: Option<crate::protocol::VideoConstraints>,
}

/// A cheap, cloneable way to reach a room task.
#[derive(Debug, Clone)]
pub struct RoomHandle {
    /// The room's id.
    pub(super) id: RoomId,
    /// Distinguishes this room task from a later one with the same name.
    pub(super) uid: u64,
    /// The actor's command queue.
    pub(super) tx: mpsc::Sender<RoomCommand>,
}

impl RoomHandle {
    /// The room's id.
    pub fn id(&self) -> &RoomId {
        &self.id
    }

    /// The instance number of the room task behind this handle.
    pub fn uid(&self) -> u64 {
        self.uid
    }

    /// True once the room task has stopped taking commands.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Asks the room to add a participant.
    pub async fn join(
        &self,
        name: String,
        role: Role,
        may_set_layout: bool,
        outbound: Outbound,
        session: Session,
    ) -> Result<Joined, JoinError> {
        let (reply, rx) = oneshot::channel();
        let cmd = RoomCommand::Join { name, role, may_set_layout, outbound, session, reply };
        self.tx.send(cmd).await.map_err(|_| JoinError::Closed)?;
        rx.await.map_err(|_| JoinError::Closed)?
    }

    /// Forwards a participant's signaling command; a closed room drops it.
    pub async fn peer(&self, participant: ParticipantId, command: PeerCommand) {
        let _ = self.tx.send(RoomCommand::Peer { participant, command }).await;
    }

    /// Hands a client's offer to the room and waits (at most [`ANSWER_LIMIT`]) for our
    /// answer, which carries every candidate.
    pub async fn offer(&self, participant: ParticipantId, sdp: gst_sdp::SDPMessage) -> Result<String, String> {
        let answer = self.call(ANSWER_LIMIT, |reply| RoomCommand::Offer { participant, sdp, reply }).await;
        answer.map_err(|e| e.to_string())?
    }

    /// Reports that a participant's socket is gone.
    pub async fn gone(&self, participant: ParticipantId) {
        let _ = self.tx.send(RoomCommand::Gone { participant }).await;
    }

    /// The room's state.
    pub async fn info(&self) -> Result<RoomInfo, CallError> {
        self.call(REPLY_LIMIT, |reply| RoomCommand::Info { reply }).await
    }

    /// Removes a participant; `Ok(false)` when they were not in the room.
    pub async fn kick(&self, participant: ParticipantId) -> Result<bool, CallError> {
        self.call(REPLY_LIMIT, |reply| RoomCommand::Kick { participant, reply }).await
    }

    /// A receiver of the composite's JPEGs, for an agent; `None` in an audio-only room. The
    /// room encodes them while someone holds one.
    pub async fn snapshots(&self) -> Option<crate::media::Snapshots> {
        self.call(REPLY_LIMIT, |reply| RoomCommand::Snapshots { reply }).await.ok().flatten()
    }

    /// Shows `image` on `participant`'s tile (an agent's picture).
    pub async fn tile_image(&self, participant: ParticipantId, image: std::sync::Arc<crate::draw::Image>) {
        let _ = self.tx.send(RoomCommand::TileImage { participant, image }).await;
    }

    /// Starts recording the room.
    pub async fn start_recording(&self, name: Option<String>) -> Result<RecordingInfo, RecordingError> {
        let (reply, rx) = oneshot::channel();
        let closed = || RecordingError::Media("the room closed".into());
        self.tx.send(RoomCommand::StartRecording { name, reply }).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    /// Stops a recording and waits until its file is finalized.
    pub async fn stop_recording(&self, id: String) -> Result<RecordingInfo, RecordingError> {
        let (reply, rx) = oneshot::channel();
        let closed = || RecordingError::Media("the room closed".into());
        self.tx.send(RoomCommand::StopRecording { id, reply }).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    /// Sets the room's layout (as an administrator); returns the layout applied.
    pub async fn set_layout(&self, layout: crate::layout::LayoutSpec) -> Result<crate::layout::LayoutSpec, CallError> {
        self.call(REPLY_LIMIT, |reply| RoomCommand::SetLayout { layout, reply }).await
    }

    /// Closes the room (everyone gets `room_closed`) and waits until its pipeline stopped.
    pub async fn close(&self) -> Result<(), CallError> {
        self.call(CLOSE_LIMIT, |reply| RoomCommand::Close { code: ErrorCode::RoomClosed, reply }).await
    }

    /// Shuts the room down (everyone gets `server_shutdown`) and waits until it has closed.
    pub async fn shutdown(&self) {
        let _ = self.call(CLOSE_LIMIT, |reply| RoomCommand::Close { code: ErrorCode::ServerShutdown, reply }).await;
    }

    /// Sends a command and waits for its reply, at most `limit` for both: a stuck room task
    /// (a GStreamer call that never returns) must not hang its callers.
    async fn call<T>(
        &self,
        limit: Duration,
        command: impl FnOnce(oneshot::Sender<T>) -> RoomCommand,
    ) -> Result<T, CallError> {
        let (reply, rx) = oneshot::channel();
        let exchange = async {
            self.tx.send(command(reply)).await.map_err(|_| CallError::Closed)?;
            rx.await.map_err(|_| CallError::Closed)
        };
        tokio::time::timeout(limit, exchange).await.map_err(|_| CallError::Unresponsive(limit))?
    }
}

/// Why a call into a room task got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The room closed meanwhile.
    #[error("the room closed")]
    Closed,
    /// The room task did not answer in time.
    #[error("the room did not answer within {0:?}")]
    Unresponsive(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stuck_room_does_not_hang_its_callers() {
        let (tx, rx) = mpsc::channel(1);
        let handle = RoomHandle { id: RoomId::parse("stuck").unwrap(), uid: 1, tx };
        // Nobody reads `rx`: the room task is stuck.
        let limit = Duration::from_millis(50);
        let got = handle.call(limit, |reply| RoomCommand::Kick { participant: ParticipantId::next(), reply }).await;
        assert_eq!(got, Err(CallError::Unresponsive(limit)));
        // The channel is full now; sending times out the same way.
        let got = handle.call(limit, |reply| RoomCommand::Info { reply }).await;
        assert!(matches!(got, Err(CallError::Unresponsive(_))), "{got:?}");
        drop(rx);
        assert!(matches!(handle.info().await, Err(CallError::Closed)));
    }
}
