//! A Janus AudioBridge participant: a `webrtcbin` that offers one Opus stream (a pre-encoded
//! clip, as Tessera's load publishers send) and counts the mix it gets back without decoding.
//! Janus answers only once the offer is complete, so this peer gathers every candidate first.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use gst::prelude::*;
use tokio::task::JoinHandle;

use super::janus::Janus;
use tessera_client::{AudioSource, EncodedClip, JITTER_MS, Received, count_chain, promise, sources};
use tessera_webrtc::{codecs, teardown, webrtcbin as webrtc};

/// How long to wait for ICE gathering to finish.
const GATHER_TIMEOUT: Duration = Duration::from_secs(10);
/// How often to tell Janus the session is alive.
const KEEPALIVE: Duration = Duration::from_secs(20);

/// One participant in the AudioBridge room. Dropping it stops its pipeline on a thread of its
/// own ([`teardown::retire`]).
pub struct JanusPeer {
    /// Taken by `Drop`.
    pipeline: Option<gst::Pipeline>,
    /// What came back (audio RTP packets).
    pub received: Arc<Received>,
    keepalive: JoinHandle<()>,
}

impl JanusPeer {
    /// Offers, joins the bench room through `janus` and applies the answer.
    pub async fn join(janus: Arc<Janus>, name: &str, clip: &Arc<EncodedClip>) -> anyhow::Result<Self> {
        let pipeline = gst::Pipeline::builder().name(format!("janus-{name}")).build();
        let webrtc = webrtc::new_webrtcbin("webrtcbin", JITTER_MS, &webrtc::IceSettings::default())?;
        let source = sources::audio(&AudioSource::Clip(clip.clone()), &Arc::default(), tessera_client::Codec::Opus)?;
        pipeline.add_many([source.bin.upcast_ref(), &webrtc])?;
        let sink = webrtc.request_pad_simple("sink_%u").context("webrtcbin sink")?;
        let transceiver: gst_webrtc::WebRTCRTPTransceiver = sink.property("transceiver");
        transceiver.set_codec_preferences(Some(&codecs::opus_caps()));
        transceiver.set_direction(gst_webrtc::WebRTCRTPTransceiverDirection::Sendrecv);
        source.bin.static_pad("src").context("source pad")?.link(&sink)?;
        let received = Arc::new(Received::default());
        let counts = received.clone();
        let weak = pipeline.downgrade();
        webrtc.connect_pad_added(move |_, pad| {
            if let Some(pipeline) = weak.upgrade()
                && let Err(e) = count_chain(&pipeline, pad, &counts)
            {
                tracing::error!("janus peer cannot count its mix: {e:#}");
            }
        });
        pipeline.set_state(gst::State::Playing)?;
        source.started();
        // Built now so that an early return below tears the pipeline down.
        let mut peer = Self { pipeline: Some(pipeline), received, keepalive: tokio::spawn(async {}) };

        let offer = create_offer(&webrtc).await?;
        let handle = janus.attach().await?;
        let answer = janus.join(handle, name, &offer).await?;
        let sdp =
            gst_sdp::SDPMessage::parse_buffer(answer.as_bytes()).map_err(|_| anyhow!("janus answer does not parse"))?;
        let answer = gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Answer, sdp);
        let (p, rx) = promise();
        webrtc.emit_by_name::<()>("set-remote-description", &[&answer, &p]);
        if let Ok(Some(s)) = rx.await.context("set-remote-description dropped")?
            && s.has_field("error")
        {
            bail!("janus answer rejected: {s}");
        }
        let session = handle.0;
        peer.keepalive = tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEEPALIVE).await;
                if let Err(e) = janus.keepalive(session).await {
                    tracing::warn!("janus keepalive failed: {e:#}");
                }
            }
        });
        Ok(peer)
    }
}

impl Drop for JanusPeer {
    fn drop(&mut self) {
        self.keepalive.abort();
        if let Some(pipeline) = self.pipeline.take() {
            teardown::retire("janus-peer", pipeline, Vec::new(), |result| {
                if let Err(e) = result {
                    tracing::warn!("janus peer pipeline did not stop cleanly: {e}");
                }
            });
        }
    }
}

/// Creates an offer, applies it locally and waits until every candidate is in it.
async fn create_offer(webrtc: &gst::Element) -> anyhow::Result<String> {
    let (p, rx) = promise();
    webrtc.emit_by_name::<()>("create-offer", &[&None::<gst::Structure>, &p]);
    let reply = rx.await.context("create-offer dropped")?.map_err(|e| anyhow!("create-offer: {e:?}"))?;
    let offer = reply
        .context("create-offer gave nothing")?
        .get::<gst_webrtc::WebRTCSessionDescription>("offer")
        .context("no offer")?;
    let (p, rx) = promise();
    webrtc.emit_by_name::<()>("set-local-description", &[&offer, &p]);
    rx.await.context("set-local-description dropped")?.map_err(|e| anyhow!("set-local-description: {e:?}"))?;
    let deadline = tokio::time::Instant::now() + GATHER_TIMEOUT;
    while webrtc.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state")
        != gst_webrtc::WebRTCICEGatheringState::Complete
    {
        if tokio::time::Instant::now() > deadline {
            bail!("ICE gathering did not complete within {GATHER_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let local = webrtc.property::<gst_webrtc::WebRTCSessionDescription>("local-description");
    local.sdp().as_text().context("local description as text")
}
