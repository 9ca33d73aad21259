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
        let (bin, encoded) = isolated_tee(text, codec)?;
        bin.set_property("name", format!("encoder-{}", codec.encoding_name().to_ascii_lowercase()));
        let element = bin.by_name(name).ok_or_else(|| anyhow!("{codec} encoder fragment has no {name}"))?;
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

/// The fragment `text` in a bin of its own, `encode`, whose output reaches the `encoded` tee
/// through an isolated link ([`ghost::expose_isolated`]), both in a bin with the fragment's
/// input as its `sink`. A frame the encoder cannot hand on (the tee refuses the first segment
/// while its only output is being released, as when a receiver leaves while the encoder it
/// started pushes its first frame) then costs that frame. Without it the failure reached the
/// encoder's streaming thread: the `raw` tee that feeds every encoder of the mix (and the
/// mixer behind it) read it, or, in a fragment starting with a queue (H.264), the queue
/// stopped its thread and that encoder for good.
fn isolated_tee(text: &str, codec: Codec) -> anyhow::Result<(gst::Bin, gst::Element)> {
    let encode = parse_fragment(text, false)?;
    encode.set_property("name", "encode");
    let encoded = encode.by_name("encoded").ok_or_else(|| anyhow!("{codec} encoder fragment has no tee"))?;
    encode.remove(&encoded)?;
    let input = encode.find_unlinked_pad(gst::PadDirection::Sink).context("encoder fragment takes no input")?;
    ghost::expose(&encode, &input, "sink")?;
    let output = encode.find_unlinked_pad(gst::PadDirection::Src).context("encoder fragment has no output")?;
    let output = ghost::expose_isolated(&encode, &output, "src", format!("the {codec} encoder's output"))?;
    let bin = gst::Bin::new();
    bin.add_many([encode.upcast_ref(), &encoded])?;
    output.link(&encoded.static_pad("sink").context("tees take input")?)?;
    ghost::expose(&bin, &encode.static_pad("sink").context("exposed above")?, "sink")?;
    Ok((bin, encoded))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An encoder started for one receiver who leaves at once: the `encoded` tee's only output
    /// is flushing (being released) when the encoder pushes its first frame, so the tee refuses
    /// the segment. The mix's `raw` tee, which feeds every encoder, must not see a failure, and
    /// the encoder must go on once its tee works again.
    #[test]
    fn a_push_an_encoder_fails_stays_out_of_the_mix() {
        gst::init().unwrap();
        let caps = gst::Caps::builder("audio/x-raw")
            .field("format", "S16LE")
            .field("rate", 48_000)
            .field("channels", 1)
            .field("layout", "interleaved")
            .build();
        let pipeline = gst::Pipeline::new();
        let mix = gst::Bin::builder().name("mix").build();
        let raw = gst::ElementFactory::make("tee").name("raw").property("allow-not-linked", true).build().unwrap();
        mix.add(&raw).unwrap();
        let input = ghost::expose(&mix, &raw.static_pad("sink").unwrap(), "sink").unwrap();
        let sink = gst_app::AppSink::builder().sync(false).async_(false).build();
        pipeline.add_many([mix.upcast_ref::<gst::Element>(), sink.upcast_ref()]).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let encoder = Encoder::attach(&mix, &raw, Codec::Pcmu, &Config::default()).unwrap();
        let output = encoder.add_output(&mix, "out").unwrap();
        output.link(&sink.static_pad("sink").unwrap()).unwrap();
        // The release's first step, as `tee` takes it: its pad stops taking data and events.
        let tee_pad = output.target().and_then(|t| t.downcast::<gst::GhostPad>().ok()).and_then(|g| g.target());
        let tee_pad = tee_pad.expect("the output reaches a pad of the encoded tee");
        tee_pad.set_active(false).unwrap();
        assert!(input.send_event(gst::event::StreamStart::new("test")));
        assert!(input.send_event(gst::event::Caps::new(&caps)));
        assert!(input.send_event(gst::event::Segment::new(&gst::FormattedSegment::<gst::ClockTime>::new())));
        let frame = |ms: u64| {
            let mut buffer = gst::Buffer::with_size(1920).unwrap();
            buffer.get_mut().unwrap().set_pts(gst::ClockTime::from_mseconds(ms));
            buffer
        };
        assert_eq!(input.chain(frame(0)), Ok(gst::FlowSuccess::Ok), "the raw tee saw the encoder's failure");
        let isolated = encoder.bin.by_name("encode").and_then(|e| e.static_pad("src")).unwrap();
        assert!(isolated.last_flow_result().is_err(), "the tee never refused: the test raced nothing");
        tee_pad.set_active(true).unwrap();
        assert_eq!(input.chain(frame(20)), Ok(gst::FlowSuccess::Ok));
        let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(5));
        assert!(sample.is_some(), "the encoder's output never came once its tee worked again");
        pipeline.set_state(gst::State::Null).unwrap();
    }
}
