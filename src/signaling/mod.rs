//! The signaling handler: turns a client's text frames into steps for the socket glue.
//!
//! Pure: it knows nothing about sockets, rooms or GStreamer pipelines. The glue in
//! [`crate::http::ws`] feeds it frames and carries out the [`Step`]s it returns; every bad
//! input becomes an [`ServerMessage::Error`] for that client alone.

mod validate;

use std::time::Instant;

use crate::access::rate::Bucket;
use crate::ids::{ParticipantId, RoomId, validate_name};
use crate::protocol::{CaptionLine, ChatLine, ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, Role, ServerMessage};
use tessera_webrtc::mids::MLine;
pub use validate::{candidate_mline, check_candidate, decode, parse_answer, text as validate_text};

/// How often each kind of message may come on one socket: (per second, burst). Generous for
/// any client that follows the protocol (a browser sends one join, one answer and a dozen
/// candidates), tight for a script.
const RATES: [(Kind, f64, f64); 9] = [
    (Kind::Join, 1.0, 10.0),
    (Kind::Answer, 1.0, 3.0),
    (Kind::Ice, 20.0, 40.0),
    (Kind::Leave, 1.0, 2.0),
    (Kind::Mute, 5.0, 10.0),
    (Kind::SetLayout, 5.0, 10.0),
    (Kind::Invalid, 2.0, 10.0),
    (Kind::Chat, CHAT_RATE.0, CHAT_RATE.1),
    (Kind::Caption, CAPTION_RATE.0, CAPTION_RATE.1),
];

/// `chat` lines a participant (or agent) may send: (per second, burst). A person typing and a
/// bot answering are far below; every line goes to everyone.
pub const CHAT_RATE: (f64, f64) = (2.0, 10.0);
/// `caption`s: partial captions of live speech come several a second.
pub const CAPTION_RATE: (f64, f64) = (10.0, 20.0);

/// Messages refused for their rate before a socket that has not joined is closed (it has no
/// business sending more)...
pub const MAX_STRIKES: u32 = 50;
/// ...and before a joined one is: a participant's client may misbehave in a burst (a stuck
/// mute button) without losing the call, while a socket that does nothing else is shed.
pub const MAX_JOINED_STRIKES: u32 = 500;

/// A kind of client message, for its rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Join,
    Answer,
    Ice,
    Leave,
    Mute,
    SetLayout,
    Invalid,
    Chat,
    Caption,
}

impl Kind {
    fn of(msg: &ClientMessage) -> Self {
        match msg {
            ClientMessage::Join { .. } => Self::Join,
            ClientMessage::Answer { .. } => Self::Answer,
            ClientMessage::Ice { .. } => Self::Ice,
            ClientMessage::Leave => Self::Leave,
            ClientMessage::Mute { .. } => Self::Mute,
            ClientMessage::SetLayout { .. } => Self::SetLayout,
            ClientMessage::Chat(_) => Self::Chat,
            ClientMessage::Caption(_) => Self::Caption,
        }
    }
}

/// Why a client's message was refused. Each maps to one stable [`ErrorCode`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignalingError {
    /// Not JSON, or a binary frame.
    #[error("message is not valid JSON: {0}")]
    BadJson(String),
    /// A `type` the server does not know.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// Missing or wrong-typed fields.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// Anything but `join` before joining.
    #[error("join a room first")]
    NotJoined,
    /// A second `join` on this socket.
    #[error("this connection has already joined a room")]
    AlreadyJoined,
    /// Bad room name.
    #[error("room must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")]
    InvalidRoom,
    /// Bad display name.
    #[error("name must be 1-64 characters without control characters")]
    InvalidName,
    /// An SDP answer that does not parse or lacks what WebRTC needs.
    #[error("invalid SDP answer: {0}")]
    InvalidSdp(String),
    /// A layout that is not usable.
    #[error("invalid layout: {0}")]
    InvalidLayout(String),
    /// An ICE candidate line that is not `candidate:<foundation> <component> <transport> ...`.
    #[error("invalid ICE candidate: {0}")]
    InvalidCandidate(String),
    /// A frame over the size limit.
    #[error("message of {0} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge(usize),
    /// More messages of a kind than its rate allows.
    #[error("{0}")]
    RateLimited(String),
}

impl SignalingError {
    /// The stable code sent to the client.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadJson(_) => ErrorCode::BadJson,
            Self::UnknownType(_) => ErrorCode::UnknownType,
            Self::InvalidMessage(_) => ErrorCode::InvalidMessage,
            Self::NotJoined => ErrorCode::NotJoined,
            Self::AlreadyJoined => ErrorCode::AlreadyJoined,
            Self::InvalidRoom => ErrorCode::InvalidRoom,
            Self::InvalidName => ErrorCode::InvalidName,
            Self::InvalidSdp(_) => ErrorCode::InvalidSdp,
            Self::InvalidCandidate(_) => ErrorCode::InvalidCandidate,
            Self::InvalidLayout(_) => ErrorCode::InvalidLayout,
            Self::TooLarge(_) => ErrorCode::MessageTooLarge,
            Self::RateLimited(_) => ErrorCode::RateLimited,
        }
    }

    /// The error as a message for the client.
    pub fn to_message(&self) -> ServerMessage {
        ServerMessage::error(self.code(), self.to_string())
    }
}

/// A command for the participant's room, already validated.
#[derive(Debug)]
pub enum PeerCommand {
    /// Apply the client's SDP answer.
    Answer(gst_sdp::SDPMessage),
    /// Add a remote ICE candidate.
    Ice {
        /// The `candidate:` line.
        candidate: String,
        /// Its m-line, by mid or index (the room maps a mid to its index).
        mline: MLine,
    },
    /// Leave the room.
    Leave,
    /// Microphone or camera muted state.
    Mute {
        /// Microphone muted.
        audio: bool,
        /// Camera off.
        video: bool,
    },
    /// Change the layout (as a participant: never locks it).
    SetLayout(crate::layout::LayoutSpec),
    /// A chat line for everyone (validated text).
    Chat(String),
    /// A caption of this participant's speech.
    Caption {
        /// Validated text.
        text: String,
        /// No longer changes.
        is_final: bool,
    },
}

/// What the glue should do with one incoming frame.
#[derive(Debug)]
pub enum Step {
    /// Send this message to the client.
    Reply(ServerMessage),
    /// Join (or create) a room; report back with [`Session::joined`] or [`Session::join_failed`].
    Join {
        /// Validated room id.
        room: RoomId,
        /// Validated display name.
        name: String,
        /// Publisher or viewer.
        role: Role,
        /// The access token the client sent, not yet verified.
        token: Option<String>,
    },
    /// Forward to the joined room on behalf of `participant`.
    Room {
        /// The session's participant.
        participant: ParticipantId,
        /// What to do.
        command: PeerCommand,
    },
    /// Nothing to do.
    Nothing,
    /// Send this message, then close the connection (a client that kept exceeding the rates).
    Close(ServerMessage),
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Idle,
    Joining,
    Joined { room: RoomId, participant: ParticipantId },
    Left,
}

/// The signaling state of one WebSocket connection.
#[derive(Debug)]
pub struct Session {
    state: State,
    /// One bucket per [`Kind`], in [`RATES`] order.
    buckets: [Bucket; RATES.len()],
    /// ICE candidates received on this peer connection.
    candidates: u32,
    /// The most ICE candidates one peer connection may send.
    max_candidates: u32,
    /// Messages refused for their rate so far.
    strikes: u32,
}

impl Session {
    /// A session that has not joined yet, taking at most `max_candidates` ICE candidates.
    pub fn new(max_candidates: u32) -> Self {
        Self {
            state: State::Idle,
            buckets: RATES.map(|(_, per_sec, burst)| Bucket::new(per_sec, burst)),
            candidates: 0,
            max_candidates,
            strikes: 0,
        }
    }

    /// Refusals for rate this socket may collect before it is closed.
    fn max_strikes(&self) -> u32 {
        if self.membership().is_some() { MAX_JOINED_STRIKES } else { MAX_STRIKES }
    }

    /// Takes a token for `kind` at `now`, or says why not.
    fn rate(&mut self, kind: Kind, now: Instant) -> Result<(), SignalingError> {
        let i = RATES.iter().position(|(k, ..)| *k == kind).expect("every kind has a rate");
        if self.buckets[i].take(now) {
            return Ok(());
        }
        self.strikes += 1;
        let (_, per_sec, burst) = RATES[i];
        Err(SignalingError::RateLimited(format!(
            "too many {kind:?} messages (at most {burst} at once, then {per_sec} per second); this one was ignored"
        )))
    }

    /// The room and participant, once joined.
    pub fn membership(&self) -> Option<(&RoomId, ParticipantId)> {
        match &self.state {
            State::Joined { room, participant } => Some((room, *participant)),
            _ => None,
        }
    }

    /// Records a successful join.
    pub fn joined(&mut self, room: RoomId, participant: ParticipantId) {
        self.state = State::Joined { room, participant };
    }

    /// Records a failed join (the client may try again) and returns what to tell the client:
    /// `code` and `message`, as the room side classified the failure.
    pub fn join_failed(&mut self, code: ErrorCode, message: String) -> ServerMessage {
        self.state = State::Idle;
        ServerMessage::error(code, message)
    }

    /// Handles a frame of `len` bytes that the transport refused to read in full.
    pub fn on_oversized(&mut self, len: usize) -> Step {
        Step::Reply(SignalingError::TooLarge(len).to_message())
    }

    /// Handles a binary frame of `len` bytes that arrived at `now`: the protocol is JSON text
    /// only, and such frames count against the rate of malformed input.
    pub fn on_binary(&mut self, len: usize, now: Instant) -> Step {
        let error = if len > MAX_MESSAGE_BYTES {
            SignalingError::TooLarge(len)
        } else {
            SignalingError::BadJson("binary frames are not accepted; send JSON text".into())
        };
        let result = self.rate(Kind::Invalid, now).and(Err(error));
        self.answer(result)
    }

    /// Handles one text frame that arrived at `now`.
    pub fn on_text(&mut self, text: &str, now: Instant) -> Step {
        let result = self.step(text, now);
        self.answer(result)
    }

    /// The step for a frame's outcome: a refusal is a reply, or closes a socket over its strikes.
    fn answer(&mut self, result: Result<Step, SignalingError>) -> Step {
        match result {
            Ok(step) => step,
            Err(e) if self.strikes >= self.max_strikes() => Step::Close(ServerMessage::error(
                e.code(),
                format!("{e}; closing after {} messages over the rate", self.max_strikes()),
            )),
            Err(e) => Step::Reply(e.to_message()),
        }
    }

    fn step(&mut self, text: &str, now: Instant) -> Result<Step, SignalingError> {
        if text.len() > MAX_MESSAGE_BYTES {
            self.rate(Kind::Invalid, now)?;
            return Err(SignalingError::TooLarge(text.len()));
        }
        let msg = match decode(text) {
            Ok(msg) => msg,
            Err(e) => {
                self.rate(Kind::Invalid, now)?;
                return Err(e);
            }
        };
        self.rate(Kind::of(&msg), now)?;
        match (&self.state, msg) {
            (State::Idle, ClientMessage::Join { role: Role::Agent, .. }) => {
                Err(SignalingError::InvalidMessage("agents join at /agent (docs/agents.md)".into()))
            }
            (State::Idle, ClientMessage::Join { room, name, role, token }) => {
                let room = RoomId::parse(&room).map_err(|_| SignalingError::InvalidRoom)?;
                let name = validate_name(&name).map_err(|_| SignalingError::InvalidName)?;
                self.state = State::Joining;
                Ok(Step::Join { room, name, role, token })
            }
            (State::Left, ClientMessage::Join { .. }) => Err(SignalingError::AlreadyJoined),
            (State::Idle | State::Left, _) => Err(SignalingError::NotJoined),
            (State::Joining | State::Joined { .. }, ClientMessage::Join { .. }) => Err(SignalingError::AlreadyJoined),
            (State::Joining, _) => Err(SignalingError::NotJoined),
            (State::Joined { participant, .. }, msg) => {
                let participant = *participant;
                let command = match msg {
                    ClientMessage::Answer { sdp } => PeerCommand::Answer(parse_answer(&sdp)?),
                    ClientMessage::Ice { candidate, .. } if candidate.trim().is_empty() => {
                        return Ok(Step::Nothing);
                    }
                    ClientMessage::Ice { candidate, sdp_mid, sdp_m_line_index } => {
                        check_candidate(&candidate)?;
                        let mline = candidate_mline(sdp_mid, sdp_m_line_index)?;
                        self.candidates += 1;
                        if self.candidates > self.max_candidates {
                            self.strikes += 1;
                            return Err(SignalingError::RateLimited(format!(
                                "at most {} ICE candidates per connection; this one was ignored",
                                self.max_candidates
                            )));
                        }
                        PeerCommand::Ice { candidate, mline }
                    }
                    ClientMessage::Leave => {
                        self.state = State::Left;
                        PeerCommand::Leave
                    }
                    ClientMessage::Mute { audio, video } => PeerCommand::Mute { audio, video },
                    ClientMessage::SetLayout { mut layout } => {
                        layout.validate().map_err(|e| SignalingError::InvalidLayout(e.to_string()))?;
                        layout.locked = false; // only administrators lock layouts
                        PeerCommand::SetLayout(layout)
                    }
                    ClientMessage::Chat(ChatLine { text }) => PeerCommand::Chat(validate_text(text)?),
                    ClientMessage::Caption(CaptionLine { text, is_final }) => {
                        PeerCommand::Caption { text: validate_text(text)?, is_final }
                    }
                    ClientMessage::Join { .. } => unreachable!("matched above"),
                };
                Ok(Step::Room { participant, command })
            }
        }
    }
}

#[cfg(test)]
mod tests;
