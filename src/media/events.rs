//! How a room's media reacts to GStreamer: callback events, bus messages, new receive streams.

use gst::prelude::*;
use tokio::sync::mpsc::UnboundedSender;

use super::ingress::{self, Decoded};
use super::room_media::VideoInput;
use super::size_guard::SizeRule;
use super::{MediaEvent, Notice, RoomMedia};
use crate::ids::ParticipantId;
use crate::layout::Size;
use crate::protocol::Role;

impl RoomMedia {
    /// Handles a callback's event; returns what the room task must do, if anything.
    pub fn handle(&mut self, event: MediaEvent) -> Option<Notice> {
        match event {
            MediaEvent::OfferCreated { peer, offer } => Some(match offer {
                Ok(offer) => Notice::Offer { peer, offer },
                Err(reason) => Notice::Failed { peer, reason: format!("creating offer: {reason}") },
            }),
            MediaEvent::RemoteDescription { peer, result } => {
                result.err().map(|reason| Notice::AnswerRejected { peer, reason })
            }
            MediaEvent::LocalCandidate { peer, mline, candidate } => {
                let candidate = match self.config.ice.announce_ip {
                    Some(ip) => tessera_webrtc::ice::announce_host(&candidate, ip),
                    None => candidate,
                };
                // Candidates come only after our offer became the local description, whose
                // mids the peer keeps; without one, the peer is already gone.
                let mid = self.peers.get(&peer)?.bin.mid(mline)?;
                Some(Notice::Candidate { peer, mline, mid, candidate })
            }
            MediaEvent::IncomingStream { peer, pad } => {
                let result = self.attach_stream(peer, &pad);
                // A peer already removed released its pads then.
                if let Some(p) = self.peers.get(&peer) {
                    p.bin.release(&pad);
                }
                match result {
                    Ok(true) => Some(Notice::VideoFlowing { peer }),
                    Ok(false) => None,
                    Err(e) => Some(Notice::Failed { peer, reason: format!("{e:#}") }),
                }
            }
            MediaEvent::ConnectionState { peer, state } => {
                use gst_webrtc::WebRTCPeerConnectionState as S;
                tracing::debug!(participant = %peer, ?state, "connection state");
                match state {
                    S::Connected => {
                        let p = self.peers.get(&peer)?;
                        p.bin.request_keyframe();
                        Some(Notice::Connected { peer })
                    }
                    S::Failed => Some(Notice::Failed { peer, reason: "ICE/DTLS connection failed".into() }),
                    _ => None,
                }
            }
            MediaEvent::RecordingRunning { id } => {
                self.restore_keyframe_interval();
                Some(Notice::RecordingRunning { id })
            }
            MediaEvent::RecordingFinished { id } => Some(Notice::RecordingFinished { id }),
            MediaEvent::ChannelOpen { peer } => Some(Notice::ChannelOpen { peer }),
            MediaEvent::FirstRtcp { peer } => {
                // The keyframe asked for at `Connected` can reach a peer before it listens:
                // aiortc routes RTP to its receivers only after its own DTLS handshake
                // completed, which is after ours, and drops what came earlier. Its VP8
                // decoder then skips every frame without an error, so it never asks for a
                // keyframe (browsers and GStreamer do) and saw nothing until the periodic
                // keyframe (1 in 4 joins, up to 10 s). Its first RTCP proves it listens.
                self.peers.get(&peer)?.bin.request_keyframe();
                None
            }
            MediaEvent::VideoSize { peer, size, par } => Some(Notice::VideoSize { peer, size, par }),
            MediaEvent::AnswerCreated { peer, answer } => self.on_answer_created(peer, answer),
            MediaEvent::GatheringComplete { peer } => self.on_gathered(peer),
        }
    }

    /// Builds the decoder for a new receive pad and links it into the mixers; true when it is
    /// a publisher's video, now an input of the composite.
    fn attach_stream(&mut self, id: ParticipantId, pad: &gst::Pad) -> anyhow::Result<bool> {
        let Some(peer) = self.peers.get(&id) else { return Ok(false) };
        let kind = ingress::classify(pad);
        let wanted = match kind {
            Ok(codec) if codec.is_video() => peer.video.is_none() && self.video.is_some(),
            Ok(_) => peer.audio.is_none(),
            Err(ref what) if peer.role == Role::Publisher => anyhow::bail!("{id} sent {what}"),
            Err(_) => false,
        };
        if peer.role == Role::Viewer || !wanted {
            // A viewer sending media, or a second stream of a kind: accept and discard it.
            let sink = gst::ElementFactory::make("fakesink").name(format!("discard-{id}-{}", pad.name())).build()?;
            sink.set_property("async", false);
            peer.bin.bin.add(&sink)?;
            sink.sync_state_with_parent()?;
            pad.link(&sink.static_pad("sink").unwrap())?;
            return Ok(false);
        }
        if kind.as_ref().is_ok_and(|c| c.is_video()) {
            peer.bin.inbound.watch_video_rtp(pad);
        }
        let limits = &self.config.limits;
        let sizes = SizeRule { max: limits.max_video_size.0, changes_per_sec: limits.video_size_changes };
        match ingress::build(&peer.bin.bin, id, pad, kind.expect("classified above"), sizes)? {
            Decoded::Video { src } => {
                let video = self.video.as_ref().expect("video is wanted only with a compositor");
                watch_video_size(&src, id, self.events.clone());
                peer.bin.inbound.watch_frames(&src);
                let input = video.add_input(id)?;
                if let Err(e) = src.link(&input) {
                    video.remove_input(&input);
                    return Err(e.into());
                }
                self.peers.get_mut(&id).unwrap().video = Some(VideoInput { pad: input });
                // Hidden until the room's rules place it.
                self.show_stage();
                tracing::info!(participant = %id, "video flowing");
                Ok(true)
            }
            Decoded::Audio { tee } => {
                peer.bin.inbound.watch_levels(&tee.static_pad("sink").unwrap());
                self.add_audio_source(id, tee)?;
                tracing::info!(participant = %id, "audio flowing");
                Ok(false)
            }
        }
    }

    /// Handles a bus message. Errors inside a participant's branch fail only that participant.
    pub fn handle_bus(&self, msg: &gst::Message) -> Option<Notice> {
        use gst::MessageView;
        match msg.view() {
            MessageView::Error(err) => {
                let source = msg.src().map(|s| s.path_string().to_string()).unwrap_or_default();
                if let Some(id) = msg.src().and_then(owning_recording) {
                    let detail =
                        err.debug().map(|d| format!(" ({})", d.lines().last().unwrap_or_default())).unwrap_or_default();
                    return Some(Notice::RecordingFailed { id, reason: format!("{}{detail}", err.error()) });
                }
                match msg.src().and_then(owning_participant) {
                    Some(peer) => Some(participant_error(msg, err, peer)),
                    None => {
                        // A shared element (compositor, encoder, tee) failed: the composite is
                        // gone for everyone. Keep the graph for diagnosis (written when
                        // GST_DEBUG_DUMP_DOT_DIR is set) and let the room end.
                        tracing::error!(%source, "room pipeline error: {} ({:?})", err.error(), err.debug());
                        self.pipeline.debug_to_dot_file_with_ts(gst::DebugGraphDetails::all(), "tessera-room-failed");
                        Some(Notice::RoomFailed { reason: format!("{}: {}", source, err.error()) })
                    }
                }
            }
            MessageView::Warning(w) => {
                let source = msg.src().map(|s| s.path_string().to_string()).unwrap_or_default();
                tracing::debug!(%source, "pipeline warning: {}", w.error());
                None
            }
            MessageView::Latency(_) => {
                let started = std::time::Instant::now();
                let _ = self.latency.recalculate(&self.pipeline);
                let source = msg.src().map(|s| s.path_string());
                tracing::debug!(source = ?source, took = ?started.elapsed(), "latency recalculated");
                None
            }
            _ => None,
        }
    }
}

/// What an error inside a participant's branch means for them.
fn participant_error(msg: &gst::Message, err: &gst::message::Error, peer: ParticipantId) -> Notice {
    let source = msg.src().map(|s| s.path_string().to_string()).unwrap_or_default();
    if msg.src().is_some_and(is_sctp_encoder) {
        // Its association ends in error when the peer aborts it (a page closing its peer
        // connection as it leaves) or stops answering: the peer is gone, nothing failed here.
        tracing::info!(%source, participant = %peer, "the peer's SCTP association ended: {:?}", err.debug());
        return Notice::Closed { peer };
    }
    tracing::warn!(%source, participant = %peer, "participant media error: {} ({:?})", err.error(), err.debug());
    Notice::Failed { peer, reason: err.error().to_string() }
}

/// Whether `object` is a `webrtcbin`'s SCTP encoder, whose only error is its association's end.
fn is_sctp_encoder(object: &gst::Object) -> bool {
    object.downcast_ref::<gst::Element>().and_then(|e| e.factory()).is_some_and(|f| f.name() == "sctpenc")
}

/// The recording whose bin (`recorder-recN`) contains `object`, if any.
fn owning_recording(object: &gst::Object) -> Option<crate::recording::RecordingId> {
    let mut cur = Some(object.clone());
    while let Some(obj) = cur {
        if let Some(id) = obj.name().strip_prefix("recorder-") {
            return id.parse().ok();
        }
        cur = obj.parent();
    }
    None
}

/// The participant whose bin (`peer-pN` or `mixminus-pN`) contains `object`, if any.
fn owning_participant(object: &gst::Object) -> Option<ParticipantId> {
    let mut cur = Some(object.clone());
    while let Some(obj) = cur {
        let name = obj.name();
        if let Some(id) = name.strip_prefix("peer-").or_else(|| name.strip_prefix("mixminus-")) {
            return id.parse().ok();
        }
        cur = obj.parent();
    }
    None
}

/// Reports the decoded video's size whenever its caps change, for aspect-correct tiles.
fn watch_video_size(pad: &impl IsA<gst::Pad>, peer: ParticipantId, events: UnboundedSender<MediaEvent>) {
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(gst::PadProbeData::Event(ev)) = &info.data
            && let gst::EventView::Caps(caps) = ev.view()
            && let Ok(vi) = gst_video::VideoInfo::from_caps(caps.caps())
        {
            let par = vi.par();
            let size = Size::new(vi.width(), vi.height());
            let _ = events.send(MediaEvent::VideoSize { peer, size, par: (par.numer() as u32, par.denom() as u32) });
        }
        gst::PadProbeReturn::Ok
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error from each of a participant's elements, as its bus message says.
    fn error_from(factory: &str) -> Notice {
        gst::init().unwrap();
        let bin = gst::Bin::with_name("peer-p3");
        let element = gst::ElementFactory::make(factory).build().unwrap();
        bin.add(&element).unwrap();
        let msg = gst::message::Error::builder(gst::ResourceError::Write, "Could not write to resource.")
            .src(&element)
            .debug("SCTP association went into error state")
            .build();
        let gst::MessageView::Error(err) = msg.view() else { unreachable!() };
        participant_error(&msg, err, owning_participant(msg.src().unwrap()).unwrap())
    }

    #[test]
    fn an_ended_sctp_association_is_a_departure_and_other_errors_are_failures() {
        assert!(matches!(error_from("sctpenc"), Notice::Closed { peer } if peer.to_string() == "p3"));
        let failed = error_from("vp8dec");
        assert!(
            matches!(&failed, Notice::Failed { peer, reason } if peer.to_string() == "p3" && reason.contains("write")),
            "{failed:?}"
        );
    }
}
