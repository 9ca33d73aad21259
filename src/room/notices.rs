//! The room actor's answers to what its media layer reports: offers and answers to send,
//! candidates, failures, and the media facts the rules need.

use std::ops::ControlFlow;

use tracing::{error, warn};

use super::actor::{Ending, RoomActor};
use super::core::Input;
use crate::media::Notice;
use crate::protocol::{ErrorCode, ServerMessage};

impl RoomActor {
    /// Carries out what the media layer reported.
    pub(super) fn on_notice(&mut self, notice: Notice) -> ControlFlow<Ending> {
        if self.on_recording_notice(&notice) {
            return ControlFlow::Continue(());
        }
        match notice {
            Notice::Answer { peer, sdp } => {
                let failed = sdp.as_ref().err().cloned();
                if let Some(reply) = self.answers.remove(&peer) {
                    let _ = reply.send(sdp);
                }
                if let Some(reason) = failed {
                    self.feed(Input::MediaFailed { id: peer, reason });
                }
            }
            Notice::Offer { peer, offer } => {
                let Ok(sdp) = offer.sdp().as_text() else {
                    self.feed(Input::MediaFailed { id: peer, reason: "offer not serializable".into() });
                    return ControlFlow::Continue(());
                };
                // The offer must reach the client before our candidates, which start flowing
                // once the local description is set.
                self.send(peer, ServerMessage::Offer { sdp });
                self.media.set_local_description(peer, &offer);
            }
            Notice::Candidate { peer, mline, mid, candidate } => {
                self.send(peer, ServerMessage::Ice { candidate, sdp_mid: mid, sdp_m_line_index: mline });
            }
            Notice::AnswerRejected { peer, reason } => {
                warn!(room = %self.id, participant = %peer, "answer rejected: {reason}");
                self.send(peer, ServerMessage::error(ErrorCode::InvalidSdp, format!("answer rejected: {reason}")));
            }
            Notice::Failed { peer, reason } => {
                if self.core.contains(peer) {
                    error!(room = %self.id, participant = %peer, "media failed: {reason}");
                    self.feed(Input::MediaFailed { id: peer, reason });
                }
            }
            Notice::Closed { peer } => self.feed(Input::Gone(peer)),
            Notice::ChannelOpen { peer } => self.feed(Input::ChannelOpen(peer)),
            Notice::Connected { peer } => self.feed(Input::Connected(peer)),
            Notice::VideoFlowing { peer } => self.feed(Input::VideoFlowing(peer)),
            Notice::VideoSize { peer, size, par } => self.feed(Input::VideoSize { id: peer, size, par }),
            Notice::RoomFailed { reason } => {
                error!(room = %self.id, "room failed: {reason}");
                self.feed(Input::Close(ErrorCode::InternalError));
                return ControlFlow::Break(Ending::Failed);
            }
            Notice::RecordingRunning { .. } | Notice::RecordingFinished { .. } | Notice::RecordingFailed { .. } => {}
        }
        ControlFlow::Continue(())
    }
}
