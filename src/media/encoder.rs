//! An encoder of a mix's raw output: one per codec per mix, however many receivers take it.
//!
//! Each is a bin parsed from `pipelines/*-encoder.txt`, added inside its mix's bin and fed by
//! a pad of the mix's `raw` tee. It ends in an `encoded` tee whose pads feed the payloaders
//! ([`super::egress`]) and recorders, as ghost pads on the mix's bin.

use anyhow::{Context, anyhow};
use gst::prelude::*;
use tessera_webrtc::codecs::Codec;

use super::ghost;
use super::mixer::{MIN_KEYFRAME_INTERVAL, parse_fragment};
use crate::config::Config;
use crate::pipelines;

/// One codec's encoder inside a mix's bin.
#[derive(Debug)]
pub struct Encoder {
    /// What it encodes to.
    pub codec: Codec,
    /// The encoder's bin, a child of the mix's bin.
    bin: gst::Bin,
    /// The `raw` tee's request pad feeding it.
    feed: gst::Pad,
    /// Hands the encoded frames to payloaders and recorders.
    encoded: gst::Element,
    /// The encoder element itself (bitrate, keyframe settings).
    pub(super) element: gst::Element,
}

fn fragment(codec: Codec) -> (&'static str, &'static str) {
    match codec {
        Codec::Vp8 => (pipelines::VP8_ENCODER, "vp8enc"),
        Codec::H264 => (pipelines::H264_ENCODER, "x264enc"),
        Codec::Opus => (pipelines::OPUS_ENCODER, "opusenc"),
        Codec::Pcmu => (pipelines::PCMU_ENCODER, "mulawenc"),
        Codec::Pcma => (pipelines::PCMA_ENCODER, "alawenc"),
    }
}

/// Whether this server can encode `codec`: H.264 output is optional. x264 is GPL and comes
/// from gstreamer1.0-plugins-ugly, which a distributor may leave out (docs/interop.md); the
/// server then sends VP8 only and still decodes H.264 publishers (avdec_h264, gst-libav).
pub(crate) fn available(codec: Codec) -> bool {
    gst::ElementFactory::find(fragment(codec).1).is_some()
}

/// The element, and the Debian package that brings it, for an encoder that is missing.
pub(crate) fn missing_element(codec: Codec) -> String {
    match codec {
        Codec::H264 => "x264enc (gstreamer1.0-plugins-ugly)".to_owned(),
        other => fragment(other).1.to_owned(),
    }
}

impl Encoder {
    /// Builds `codec`'s encoder inside `mix`, starts it and feeds it from `raw` (a tee in
    /// `mix`). Undoes its own work on failure.
    pub fn attach(mix: &gst::Bin, raw: &gst::Element, codec: Codec, config: &Config) -> anyhow::Result<Self> {
        let (text, name) = fragment(codec);
        // Its first element's sink pad, the only one unlinked, becomes the bin's `sink`.
        let bin = parse_fragment(text, true)?;
        bin.set_property("name", format!("encoder-{}", codec.encoding_name().to_ascii_lowercase()));
        let element = bin.by_name(name).ok_or_else(|| anyhow!("{codec} encoder fragment has no {name}"))?;
        let encoded = bin.by_name("encoded").ok_or_else(|| anyhow!("{codec} encoder fragment has no tee"))?;
        configure(&element, codec, config);
        let sink = bin.static_pad("sink").context("encoder fragment takes no input")?;
        mix.add(&bin)?;
        let started = bin.sync_state_with_parent().map_err(anyhow::Error::from).and_then(|_| {
            let feed = raw.request_pad_simple("src_%u").context("requesting a raw tee pad")?;
            match feed.link(&sink) {
                Ok(_) => Ok(feed),
                Err(e) => {
                    raw.release_request_pad(&feed);
                    Err(e.into())
                }
            }
        });
        match started {
            Ok(feed) => Ok(Self { codec, bin, feed, encoded, element }),
            Err(e) => {
                let _ = tessera_webrtc::teardown::stop(bin.upcast_ref());
                let _ = mix.remove(&bin);
                Err(e)
            }
        }
    }

    /// Cuts the encoder's feed, stops it and removes it from `mix`. Its outputs must be
    /// released first.
    pub fn detach(self, mix: &gst::Bin, raw: &gst::Element) {
        raw.release_request_pad(&self.feed);
        if let Err(e) = tessera_webrtc::teardown::stop(self.bin.upcast_ref()) {
            tracing::warn!(codec = %self.codec, "encoder did not stop cleanly: {e}");
        }
        let _ = mix.remove(&self.bin);
    }

    /// A new output of the encoded frames: a ghost on `mix` of an `encoded` tee pad, named
    /// `name`. A failing output (a recorder on a full disk) costs only itself: its flow errors
    /// never reach the tee, which would otherwise stop the encoder and every receiver with it.
    pub fn add_output(&self, mix: &gst::Bin, name: &str) -> anyhow::Result<gst::GhostPad> {
        // Two ghosts: the tee is inside the encoder's bin, which is inside the mix's bin.
        let inner =
            ghost::request_isolated(&self.bin, &self.encoded, "src_%u", name, format!("{} to {name}", self.codec))?;
        ghost::expose(mix, inner.upcast_ref(), name).inspect_err(|_| ghost::release(&self.bin, &self.encoded, &inner))
    }

    /// Releases an output; the tee stops pushing into it before it is removed.
    pub fn remove_output(&self, mix: &gst::Bin, output: &gst::GhostPad) {
        if let Some(inner) = output.target().and_then(|t| t.downcast::<gst::GhostPad>().ok()) {
            ghost::release(&self.bin, &self.encoded, &inner);
        }
        let _ = output.set_target(None::<&gst::Pad>);
        let _ = output.set_active(false);
        let _ = mix.remove_pad(output);
    }

    /// How many outputs the encoder feeds.
    pub fn outputs(&self) -> usize {
        self.encoded.src_pads().len()
    }
}

/// Sets what depends on the configuration: bitrates, and for video the shortest time between
/// two forced keyframes (receivers' requests within it share one keyframe).
pub(super) fn configure(element: &gst::Element, codec: Codec, config: &Config) {
    let video_kbps = config.composite.video_bitrate;
    match codec {
        Codec::Vp8 => {
            element.set_property("target-bitrate", (video_kbps as i32).saturating_mul(1000));
            element.set_property("min-force-key-unit-interval", MIN_KEYFRAME_INTERVAL.as_nanos() as u64);
        }
        Codec::H264 => {
            element.set_property("bitrate", video_kbps);
            element.set_property("min-force-key-unit-interval", MIN_KEYFRAME_INTERVAL.as_nanos() as u64);
        }
        Codec::Opus => {
            element.set_property("bitrate", (config.composite.audio_bitrate as i32).saturating_mul(1000));
            element.set_property("complexity", config.composite.audio_complexity as i32);
        }
        Codec::Pcmu | Codec::Pcma => {}
    }
}
