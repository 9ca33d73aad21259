//! Sessions the client offers (WHIP, WHEP): the server answers, with every candidate in the
//! answer, since these clients have no channel to trickle the server's candidates over.
//!
//! The client's offer is applied, webrtcbin answers within our codec preferences (whatever
//! payload types the client chose), the answer settles what the client is sent
//! ([`RoomMedia::link_egress`]), and it is handed out once ICE gathering completes.

use gst::glib;
use gst::prelude::*;
use gst_webrtc::WebRTCRTPTransceiverDirection as Direction;
use tessera_webrtc::codecs::Codec;
use tokio::sync::mpsc::UnboundedSender;

use super::peer::PeerBin;
use super::{MediaEvent, Notice, RoomMedia};
use crate::ids::ParticipantId;

/// Receive-only transceivers for a client that only sends (WHIP): video (when the room mixes
/// video) and audio, each accepting every codec Tessera decodes.
pub(super) fn receive_only(webrtc: &gst::Element, video: bool) -> anyhow::Result<()> {
    let kinds = [(video, &Codec::VIDEO[..]), (true, &Codec::AUDIO[..])];
    for (codecs, nack) in kinds.into_iter().filter(|(wanted, _)| *wanted).map(|(_, c)| (c, c[0].is_video())) {
        let caps = Codec::answer_caps(codecs);
        let transceiver =
            webrtc.emit_by_name::<gst_webrtc::WebRTCRTPTransceiver>("add-transceiver", &[&Direction::Recvonly, &caps]);
        transceiver.set_codec_preferences(Some(&caps));
        transceiver.set_property("do-nack", nack);
    }
    Ok(())
}

/// Reports the end of ICE gathering as [`MediaEvent::GatheringComplete`].
pub(super) fn report_gathering(webrtc: &gst::Element, id: ParticipantId, events: UnboundedSender<MediaEvent>) {
    webrtc.connect_notify(Some("ice-gathering-state"), move |webrtc, _| {
        let state = webrtc.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state");
        if state == gst_webrtc::WebRTCICEGatheringState::Complete {
            let _ = events.send(MediaEvent::GatheringComplete { peer: id });
        }
    });
}

fn promise_error(reply: Result<Option<&gst::StructureRef>, gst::PromiseError>) -> Option<String> {
    match reply {
        Ok(Some(s)) if s.has_field("error") => {
            Some(s.get::<glib::Error>("error").map(|e| e.to_string()).unwrap_or_else(|_| "rejected".into()))
        }
        Ok(_) => None,
        Err(e) => Some(format!("{e:?}")),
    }
}

/// `answer` without its `a=ssrc` lines. webrtcbin 1.22 writes an SSRC it picked before any RTP
/// reached the peer, not the one the shared payloader sends with, and a browser then takes the
/// stream for an unsignalled one that feeds no track: Chromium decoded a WHEP page's video but
/// its `<video>` stayed empty. Without them every m-line is matched by its payload type, as
/// the audio (which webrtcbin writes none for) already was.
fn without_ssrcs(answer: &gst_webrtc::WebRTCSessionDescription) -> gst_webrtc::WebRTCSessionDescription {
    let mut sdp = answer.sdp().to_owned();
    for media in sdp.medias_mut() {
        let at: Vec<u32> = media
            .attributes()
            .enumerate()
            .filter(|(_, a)| a.key() == "ssrc" || a.key() == "ssrc-group")
            .map(|(i, _)| i as u32)
            .collect();
        for i in at.into_iter().rev() {
            let _ = media.remove_attribute(i);
        }
    }
    gst_webrtc::WebRTCSessionDescription::new(answer.type_(), sdp)
}

impl PeerBin {
    /// Applies the client's offer and creates our answer; it arrives as
    /// [`MediaEvent::AnswerCreated`].
    pub fn answer(&self, id: ParticipantId, offer: gst_sdp::SDPMessage, events: UnboundedSender<MediaEvent>) {
        let Some(own) = &self.webrtc else { return };
        let offer = gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Offer, offer);
        let webrtc = own.downgrade();
        let applied = gst::Promise::with_change_func(move |reply| {
            if let Some(why) = promise_error(reply) {
                let _ =
                    events.send(MediaEvent::AnswerCreated { peer: id, answer: Err(format!("offer refused: {why}")) });
                return;
            }
            let Some(webrtc) = webrtc.upgrade() else { return };
            let created = gst::Promise::with_change_func(move |reply| {
                let answer = match reply {
                    Ok(Some(s)) => s
                        .get::<gst_webrtc::WebRTCSessionDescription>("answer")
                        .map_err(|_| promise_error(Ok(Some(s))).unwrap_or_else(|| "no answer".into())),
                    Ok(None) => Err("no answer".to_owned()),
                    Err(e) => Err(format!("{e:?}")),
                };
                let _ = events.send(MediaEvent::AnswerCreated { peer: id, answer });
            });
            webrtc.emit_by_name::<()>("create-answer", &[&None::<gst::Structure>, &created]);
        });
        own.emit_by_name::<()>("set-remote-description", &[&offer, &applied]);
    }

    /// Whether ICE gathering is complete.
    fn gathered(&self) -> bool {
        self.webrtc.as_ref().is_none_or(|w| {
            w.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state")
                == gst_webrtc::WebRTCICEGatheringState::Complete
        })
    }

    /// Our local description as SDP text (with the candidates gathered so far).
    fn local_sdp(&self) -> Option<String> {
        let local =
            self.webrtc.as_ref()?.property::<Option<gst_webrtc::WebRTCSessionDescription>>("local-description")?;
        local.sdp().as_text().ok()
    }
}

impl RoomMedia {
    /// Answers `peer`'s offer; the answer comes as [`Notice::Answer`].
    pub fn answer_offer(&mut self, peer: ParticipantId, offer: gst_sdp::SDPMessage) {
        if let Some(p) = self.peers.get(&peer) {
            p.bin.answer(peer, offer, self.events.clone());
        }
    }

    /// Our answer exists: feed the client what it settled on, apply it, and hand it out once
    /// every candidate is in it.
    pub(super) fn on_answer_created(
        &mut self,
        peer: ParticipantId,
        answer: Result<gst_webrtc::WebRTCSessionDescription, String>,
    ) -> Option<Notice> {
        // 1.22 writes a wrong fingerprint for our ECDSA certificate (see `dtls_cert`).
        let answer =
            answer.and_then(|a| tessera_webrtc::dtls_cert::with_certificate_fingerprint(&a).map_err(|e| e.to_string()));
        let answer = match answer {
            Ok(answer) => without_ssrcs(&answer),
            Err(why) => return Some(Notice::Answer { peer, sdp: Err(why) }),
        };
        if let Err(e) = self.link_egress(peer, answer.sdp()) {
            return Some(Notice::Answer { peer, sdp: Err(format!("{e:#}")) });
        }
        let p = self.peers.get_mut(&peer)?;
        p.bin.set_local_description(&answer);
        self.answering.insert(peer);
        if p.bin.gathered() { self.on_gathered(peer) } else { None }
    }

    /// ICE gathering completed for `peer`: its answer, if it waits for one, is ready.
    pub(super) fn on_gathered(&mut self, peer: ParticipantId) -> Option<Notice> {
        if !self.answering.remove(&peer) {
            return None;
        }
        let sdp = self.peers.get(&peer)?.bin.local_sdp().ok_or_else(|| "no local description".to_owned());
        Some(Notice::Answer { peer, sdp })
    }
}
