//! The test peer's GStreamer side: a `webrtcbin` that publishes test sources and decodes what
//! it receives into appsinks.

use std::mem::ManuallyDrop;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use gst::prelude::*;
use tokio::sync::{mpsc, oneshot, watch};

use super::constraints::Follower;
use super::{PeerOptions, Received, sources};
use tessera_protocol::VideoConstraints;
use tessera_protocol::layout::Size;
use tessera_protocol::{ClientMessage, Role};
use tessera_webrtc::codecs::{Codec, MIX_AUDIO_CAPS};
use tessera_webrtc::dtls_cert;
use tessera_webrtc::webrtcbin as webrtc;

/// The test peer's receive jitter-buffer latency, ms.
pub const JITTER_MS: u32 = 50;

/// The test peer's pipeline. Dropping it stops the pipeline and lets it go on a thread of its
/// own (see [`tessera_webrtc::teardown::retire`]); [`PeerMedia::torn_down`] tells when that ended.
pub struct PeerMedia {
    /// Taken by `Drop` and handed to the teardown thread.
    pipeline: ManuallyDrop<gst::Pipeline>,
    /// Taken by `Drop` with the pipeline.
    webrtc: ManuallyDrop<gst::Element>,
    options: PeerOptions,
    /// The video source bin, once publishing.
    video_source: Mutex<Option<gst::Bin>>,
    /// Every source feeding webrtcbin (video and audio), for [`PeerMedia::stop_sources`].
    sources: Mutex<Vec<gst::Bin>>,
    /// Flash timing of flash/beep sources.
    marks: Arc<sources::MarkClock>,
    /// What arrived.
    pub received: Arc<Received>,
    /// Holds the sources until the connection is up.
    gate: Arc<sources::Gate>,
    /// Set once the pipeline is in NULL and let go.
    torn_down: watch::Sender<bool>,
    /// The video source following the server's `videoConstraints` (when the options say so),
    /// and the constraints last told.
    follow: Mutex<(Option<Follower>, Option<VideoConstraints>)>,
}

/// What a webrtcbin promise replies.
pub type PromiseReply = Result<Option<gst::Structure>, gst::PromiseError>;

/// A promise for a webrtcbin action signal and the receiver of its reply.
pub fn promise() -> (gst::Promise, oneshot::Receiver<PromiseReply>) {
    let (tx, rx) = oneshot::channel();
    let p = gst::Promise::with_change_func(move |reply| {
        let _ = tx.send(reply.map(|s| s.map(|s| s.to_owned())));
    });
    (p, rx)
}

impl PeerMedia {
    /// Builds the pipeline; local ICE candidates go to `outgoing`.
    pub fn new(options: PeerOptions, outgoing: mpsc::UnboundedSender<ClientMessage>) -> anyhow::Result<Self> {
        gst::init()?;
        let pipeline = gst::Pipeline::builder().name(format!("peer-{}", options.name)).build();
        let loopback = [IpAddr::V4(Ipv4Addr::LOCALHOST)];
        let ice = webrtc::IceSettings { addresses: &loopback, ..Default::default() };
        let webrtc = webrtc::new_webrtcbin("webrtcbin", JITTER_MS, &ice)?;
        // ECDSA, as browsers: the server must shake hands with what browsers present.
        dtls_cert::use_ecdsa_certificate(&webrtc)?;
        pipeline.add(&webrtc)?;
        webrtc.connect("on-ice-candidate", false, move |args| {
            let mline = args[1].get::<u32>().unwrap_or(0);
            let candidate = args[2].get::<String>().unwrap_or_default();
            let _ = outgoing.send(ClientMessage::Ice { candidate, sdp_mid: None, sdp_m_line_index: Some(mline) });
            None
        });
        // Every transceiver the offer creates accepts only this peer's one codec of its kind, so
        // our answer accepts nothing else, as a device that decodes only that would.
        // Preferences also make the answer independent of whether caps already flowed (an
        // appsrc has none until its first buffer).
        let (video_codec, audio_codec) = (options.video_codec, options.audio_codec);
        webrtc.connect("on-new-transceiver", false, move |args| {
            if let Ok(transceiver) = args[1].get::<gst_webrtc::WebRTCRTPTransceiver>() {
                let codec = match transceiver.property::<gst_webrtc::WebRTCKind>("kind") {
                    gst_webrtc::WebRTCKind::Video => Some(video_codec),
                    gst_webrtc::WebRTCKind::Audio => Some(audio_codec),
                    _ => None,
                };
                if let Some(codec) = codec {
                    transceiver.set_codec_preferences(Some(&Codec::offer_caps(&[codec])));
                }
            }
            None
        });
        let received = Arc::new(Received::default());
        let sink_state = received.clone();
        let decode = options.decode;
        let pipeline_weak = pipeline.downgrade();
        webrtc.connect_pad_added(move |_, pad| {
            if pad.direction() != gst::PadDirection::Src {
                return;
            }
            let Some(pipeline) = pipeline_weak.upgrade() else { return };
            let result = if decode {
                receive_chain(&pipeline, pad, sink_state.clone())
            } else {
                super::rtp::count_chain(&pipeline, pad, &sink_state)
            };
            if let Err(e) = result {
                tracing::error!("test peer cannot decode incoming stream: {e:#}");
            }
        });
        let messages = received.clone();
        webrtc.connect("on-data-channel", false, move |args| {
            if let Ok(channel) = args[1].get::<gst_webrtc::WebRTCDataChannel>() {
                let messages = messages.clone();
                channel.connect_on_message_string(move |_, text| {
                    if let Some(text) = text {
                        messages.record_channel_message(text);
                    }
                });
            }
            None
        });
        let state = received.clone();
        let pipeline_weak = pipeline.downgrade();
        let gate = Arc::new(sources::Gate::default());
        let opener = gate.clone();
        webrtc.connect_notify(Some("connection-state"), move |webrtc, _| {
            let s = webrtc.property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state");
            if s == gst_webrtc::WebRTCPeerConnectionState::Connected {
                state.mark_connected();
                if let Some(pipeline) = pipeline_weak.upgrade() {
                    opener.open(pipeline.upcast_ref());
                }
            }
        });
        let state = received.clone();
        webrtc.connect_notify(Some("ice-connection-state"), move |webrtc, _| {
            use gst_webrtc::WebRTCICEConnectionState as Ice;
            let s = webrtc.property::<Ice>("ice-connection-state");
            if matches!(s, Ice::Connected | Ice::Completed) {
                state.mark_ice_connected();
            }
        });
        pipeline.set_state(gst::State::Playing)?;
        let marks = Arc::default();
        Ok(Self {
            pipeline: ManuallyDrop::new(pipeline),
            webrtc: ManuallyDrop::new(webrtc),
            options,
            video_source: Mutex::new(None),
            sources: Mutex::default(),
            marks,
            received,
            gate,
            torn_down: watch::channel(false).0,
            follow: Mutex::default(),
        })
    }

    /// Applies the server's offer, starts our sources (publisher), and returns our answer.
    /// The caller sends the answer, then calls [`PeerMedia::set_local`].
    pub async fn answer(&self, sdp: &str) -> anyhow::Result<gst_webrtc::WebRTCSessionDescription> {
        let sdp =
            gst_sdp::SDPMessage::parse_buffer(sdp.as_bytes()).map_err(|_| anyhow!("server offer does not parse"))?;
        // Which m-line carries which kind: an audio-only room offers audio first.
        let index_of = |kind: &str| sdp.medias().position(|m| m.media() == Some(kind));
        let (video_mline, audio_mline) = (index_of("video"), index_of("audio"));
        let offer = gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Offer, sdp);
        let (p, rx) = promise();
        self.webrtc.emit_by_name::<()>("set-remote-description", &[&offer, &p]);
        if let Ok(Some(s)) = rx.await.context("set-remote-description dropped")?
            && s.has_field("error")
        {
            bail!("server offer rejected: {s}");
        }
        if self.options.role == Role::Publisher {
            self.start_sources(video_mline, audio_mline)?;
        }
        let (p, rx) = promise();
        self.webrtc.emit_by_name::<()>("create-answer", &[&None::<gst::Structure>, &p]);
        let reply = rx.await.context("create-answer dropped")?.map_err(|e| anyhow!("create-answer: {e:?}"))?;
        let reply = reply.context("create-answer gave nothing")?;
        let answer = reply
            .get::<gst_webrtc::WebRTCSessionDescription>("answer")
            .with_context(|| format!("no answer in {reply}"))?;
        // 1.22's own fingerprint of our certificate is wrong (see `dtls_cert`).
        Ok(dtls_cert::with_certificate_fingerprint(&answer)?)
    }

    /// Sets our answer as the local description; ICE candidates start flowing.
    pub fn set_local(&self, answer: &gst_webrtc::WebRTCSessionDescription) {
        self.webrtc.emit_by_name::<()>("set-local-description", &[answer, &None::<gst::Promise>]);
    }

    /// Adds one of the server's ICE candidates.
    pub fn add_candidate(&self, mline: u32, candidate: &str) {
        self.webrtc.emit_by_name::<()>("add-ice-candidate", &[&mline, &candidate]);
    }

    /// Links the video and audio sources to the transceivers the offer created (m-line 0 is
    /// video, 1 is audio, as the server always offers).
    /// Links our sources to the offer's video and audio m-lines; a kind the server did not
    /// offer is not sent.
    fn start_sources(&self, video_mline: Option<usize>, audio_mline: Option<usize>) -> anyhow::Result<()> {
        let marks = &self.marks;
        let mut chains = Vec::new();
        if let (Some(v), Some(mline)) = (&self.options.video, video_mline) {
            chains.push((mline, true, sources::video(v, marks, self.options.video_codec)?));
        }
        if let (Some(a), Some(mline)) = (&self.options.audio, audio_mline) {
            chains.push((mline, false, sources::audio(a, marks, self.options.audio_codec)?));
        }
        for (mline, is_video, source) in chains {
            let sink = self
                .webrtc
                .request_pad_simple(&format!("sink_{mline}"))
                .with_context(|| format!("requesting sink_{mline}"))?;
            let transceiver: gst_webrtc::WebRTCRTPTransceiver = sink.property("transceiver");
            transceiver.set_direction(gst_webrtc::WebRTCRTPTransceiverDirection::Sendrecv);
            self.pipeline.add(&source.bin)?;
            source.bin.static_pad("src").context("source has no src")?.link(&sink)?;
            source.bin.sync_state_with_parent()?;
            if is_video {
                *self.video_source.lock().unwrap() = Some(source.bin.clone());
                self.set_follower(&source);
            }
            self.sources.lock().unwrap().push(source.bin.clone());
            self.gate.admit(source);
        }
        if self.received.connected_at().is_some() {
            self.gate.open(self.pipeline.upcast_ref());
        }
        Ok(())
    }

    /// Follows the server's `videoConstraints` (unless the options say not to): now if the
    /// video source runs, else once it starts.
    pub fn follow(&self, c: VideoConstraints) {
        let mut follow = self.follow.lock().unwrap();
        follow.1 = Some(c);
        if let Some(follower) = &follow.0 {
            follower.apply(&c);
        }
    }

    fn set_follower(&self, source: &sources::Source) {
        use super::VideoSource;
        if !self.options.follow_constraints {
            return;
        }
        let follower = match (&self.options.video, source.rung()) {
            (Some(VideoSource::Solid(v) | VideoSource::Flash(v)), _) => {
                Follower::Live { bin: source.bin.clone(), source: Size::new(v.width, v.height) }
            }
            (Some(VideoSource::Ladder(ladder)), Some(rung)) => Follower::Ladder { ladder: ladder.clone(), rung },
            _ => return,
        };
        let mut follow = self.follow.lock().unwrap();
        if let Some(c) = &follow.1 {
            follower.apply(c);
        }
        follow.0 = Some(follower);
    }

    /// When each flash of a [`super::VideoSource::Flash`] source was captured.
    pub fn flash_times(&self) -> Vec<Instant> {
        self.marks.flash_times()
    }

    /// Every flash of a [`super::VideoSource::Flash`] source, with its number.
    pub fn flashes(&self) -> Vec<sources::Flash> {
        self.marks.flashes()
    }

    /// Stops the video source (no more video RTP; audio goes on).
    pub fn stop_video(&self) {
        if let Some(bin) = self.video_source.lock().unwrap().as_ref() {
            // Locked, or the pipeline raises it again (see `stop_sources`).
            bin.set_locked_state(true);
            if let Err(e) = tessera_webrtc::teardown::stop(bin.upcast_ref()) {
                tracing::warn!("video source did not stop: {e}");
            }
        }
    }

    /// Stops every source: no more RTP of either kind, while the connection (ICE, DTLS, RTCP)
    /// and the WebSocket stay up, as when a sender's capture or network path stalls.
    ///
    /// The sources' state is locked first. Without that, the pipeline set them back to its own
    /// state whenever it completed a state change of its own (a receive bin added as the
    /// composite's pads appear): under load, buffers reached webrtcbin again in 3 of 10 runs,
    /// and pausing the whole pipeline instead left the server decoding the peer's video in 2 of
    /// 8.
    pub fn stop_sources(&self) {
        for bin in self.sources.lock().unwrap().iter() {
            bin.set_locked_state(true);
            if let Err(e) = tessera_webrtc::teardown::stop(bin.upcast_ref()) {
                tracing::warn!("source did not stop: {e}");
            }
        }
    }

    /// Asks the server for a keyframe of the composite, as a decoder that lost the picture
    /// would: an upstream force-key-unit event into webrtcbin's receive path, which its RTP
    /// session sends as RTCP FIR (`all_headers`) or PLI. False when no video is received yet.
    pub fn request_keyframe(&self, all_headers: bool) -> bool {
        let video = self.webrtc.src_pads().into_iter().find(|pad| {
            pad.current_caps()
                .and_then(|c| c.structure(0).and_then(|s| s.get::<String>("media").ok()))
                .is_some_and(|m| m == "video")
        });
        let event = gst_video::UpstreamForceKeyUnitEvent::builder().all_headers(all_headers).build();
        video.is_some_and(|pad| pad.send_event(event))
    }

    /// The pipeline (for tests that inspect or disturb it).
    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }
}

impl PeerMedia {
    /// Becomes true once the pipeline was stopped and let go, after `self` is dropped.
    pub fn torn_down(&self) -> watch::Receiver<bool> {
        self.torn_down.subscribe()
    }
}

impl Drop for PeerMedia {
    fn drop(&mut self) {
        // SAFETY: taken once, here, and never used again.
        let (pipeline, webrtc) =
            unsafe { (ManuallyDrop::take(&mut self.pipeline), ManuallyDrop::take(&mut self.webrtc)) };
        self.follow.get_mut().unwrap().0.take();
        let mut parts: Vec<gst::Object> = vec![webrtc.upcast()];
        parts.extend(self.video_source.get_mut().unwrap().take().map(|b| b.upcast()));
        parts.extend(std::mem::take(self.sources.get_mut().unwrap()).into_iter().map(|b| b.upcast()));
        let name = self.options.name.clone();
        let torn_down = self.torn_down.clone();
        tessera_webrtc::teardown::retire(&name.clone(), pipeline, parts, move |result| {
            if let Err(e) = result {
                tracing::warn!(peer = %name, "test peer pipeline did not stop cleanly: {e}");
            }
            torn_down.send_replace(true);
        });
    }
}

/// Decodes one incoming stream into an appsink that records it in `received`.
fn receive_chain(pipeline: &gst::Pipeline, pad: &gst::Pad, received: Arc<Received>) -> anyhow::Result<()> {
    let caps = pad.current_caps().context("incoming pad without caps")?;
    let s = caps.structure(0).context("incoming caps are empty")?;
    let encoding = s.get::<&str>("encoding-name").unwrap_or_default();
    let codec = Codec::from_encoding_name(encoding).with_context(|| format!("unexpected codec {encoding}"))?;
    let bin = receive_bin(codec, received.clone())?;
    super::rtp::count_packets(&bin.static_pad("sink").unwrap(), received, codec.is_video());
    pipeline.add(&bin)?;
    bin.sync_state_with_parent()?;
    pad.link(&bin.static_pad("sink").unwrap())?;
    Ok(())
}

/// A bin that depayloads, decodes and records RTP of `codec` into `received`; its ghost
/// `sink` pad takes the RTP.
pub(super) fn receive_bin(codec: Codec, received: Arc<Received>) -> anyhow::Result<gst::Bin> {
    let video_sink = "appsink name=sink sync=false max-buffers=2 drop=true caps=video/x-raw,format=I420";
    let audio_sink = format!("audioconvert ! audioresample ! appsink name=sink sync=false caps={MIX_AUDIO_CAPS}");
    let desc = match codec {
        Codec::Vp8 => format!("rtpvp8depay request-keyframe=true wait-for-keyframe=true ! vp8dec ! {video_sink}"),
        Codec::H264 => format!(
            "rtph264depay request-keyframe=true wait-for-keyframe=true ! h264parse ! avdec_h264 \
             ! videoconvert ! {video_sink}"
        ),
        Codec::Opus => format!("rtpopusdepay ! opusdec plc=true ! {audio_sink}"),
        Codec::Pcmu => format!("rtppcmudepay ! mulawdec ! {audio_sink}"),
        Codec::Pcma => format!("rtppcmadepay ! alawdec ! {audio_sink}"),
    };
    let desc = desc.as_str();
    let bin = gst::parse::bin_from_description(desc, true)?;
    let sink = bin.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    let video = codec.is_video();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if video {
                    received.record_video(&sample)
                } else {
                    received.record_audio(&sample)
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok(bin)
}
