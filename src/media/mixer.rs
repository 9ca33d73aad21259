//! The shared mixers of a room: the composite video chain here, the audio mix in
//! [`super::audio_mix`].
//!
//! Each is a bin parsed from a fixed launch string in `pipelines/`; per-participant inputs are
//! request pads on its compositor or engine, exposed as ghost pads on the bin, and each
//! codec's encoder runs once per mix ([`Encoders`], [`super::encoder`]).

use std::collections::BTreeMap;

use anyhow::{Context, anyhow};
use gst::prelude::*;
use tessera_webrtc::codecs::Codec;

use super::encoder::Encoder;
use super::ghost;
use crate::config::Config;
use crate::ids::ParticipantId;
use crate::layout::Rect;

use crate::pipelines::VIDEO_MIX;

/// The shortest time between two forced keyframes of the composite. Newcomers and receivers'
/// PLIs within this window share one keyframe, so a burst of joins never floods the room with
/// keyframes; a newcomer waits at most this long (plus transit) for its first frame, which keeps
/// it under 1 s.
pub const MIN_KEYFRAME_INTERVAL: std::time::Duration = std::time::Duration::from_millis(800);

/// Parses a `pipelines/*.txt` fragment (lines starting with `#` are comments) into a bin,
/// ghosting its unlinked pads when `ghost_unlinked` is set.
pub fn parse_fragment(text: &str, ghost_unlinked: bool) -> anyhow::Result<gst::Bin> {
    super::mixengine::register();
    super::opus::register();
    let desc: String = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join(" ");
    gst::parse::bin_from_description(&desc, ghost_unlinked).context("parsing pipeline fragment")
}

pub(super) fn child(bin: &gst::Bin, name: &str) -> anyhow::Result<gst::Element> {
    bin.by_name(name).ok_or_else(|| anyhow!("fragment has no element named {name}"))
}

/// Stamps each composite frame with the middle of the time its pictures come from.
///
/// For the output frame at time T, the compositor takes each input's next frame that starts
/// before T plus one canvas frame, so a picture is composited up to a whole canvas frame (33 ms
/// at 30 fps) before its own time, half a frame on average. Stamped at T, the video led the
/// audio by that much, in recordings and for every viewer. Half a frame later the error is at
/// most half a frame either way.
fn centre_frame_times(src: &gst::Pad, fps: u32) {
    let half = gst::ClockTime::from_nseconds(500_000_000 / u64::from(fps.max(1)));
    src.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(buffer) = info.buffer_mut() {
            let buffer = buffer.make_mut();
            if let Some(pts) = buffer.pts() {
                buffer.set_pts(pts + half);
            }
            if let Some(dts) = buffer.dts() {
                buffer.set_dts(dts + half);
            }
        }
        gst::PadProbeReturn::Ok
    });
}

/// The encoders of one mix, by codec, and the `raw` tee feeding them.
#[derive(Debug)]
pub(super) struct Encoders {
    /// The mix's raw output.
    raw: gst::Element,
    /// Running encoders.
    by_codec: BTreeMap<Codec, Encoder>,
}

impl Encoders {
    pub(super) fn new(bin: &gst::Bin) -> anyhow::Result<Self> {
        Ok(Self { raw: child(bin, "raw")?, by_codec: BTreeMap::new() })
    }

    /// The running encoder of `codec`, built (and started) if there is none yet.
    pub(super) fn ensure(&mut self, mix: &gst::Bin, codec: Codec, config: &Config) -> anyhow::Result<&Encoder> {
        if !self.by_codec.contains_key(&codec) {
            let encoder = Encoder::attach(mix, &self.raw, codec, config)?;
            tracing::info!(mix = %mix.name(), %codec, "encoder started");
            self.by_codec.insert(codec, encoder);
        }
        Ok(&self.by_codec[&codec])
    }

    pub(super) fn get(&self, codec: Codec) -> Option<&Encoder> {
        self.by_codec.get(&codec)
    }

    /// Stops `codec`'s encoder if it feeds nothing any more (`keep` is never stopped).
    pub(super) fn stop_idle(&mut self, mix: &gst::Bin, codec: Codec, keep: Option<Codec>) {
        if Some(codec) == keep || self.by_codec.get(&codec).is_none_or(|e| e.outputs() > 0) {
            return;
        }
        if let Some(encoder) = self.by_codec.remove(&codec) {
            encoder.detach(mix, &self.raw);
            tracing::info!(mix = %mix.name(), %codec, "encoder stopped: nobody receives it");
        }
    }
}

/// The composite: one compositor, one VP8 encoder for the whole room (receivers and
/// recordings), and an H.264 encoder while someone receives H.264 only.
#[derive(Debug)]
pub struct VideoMix {
    /// The bin, a child of the room pipeline; its encoders' outputs are ghost pads on it.
    pub bin: gst::Bin,
    /// The compositor, whose request pads are the publishers' inputs.
    compositor: gst::Element,
    /// VP8 always; H.264 on demand.
    encoders: Encoders,
    /// Frames composited and encoded, for `/metrics` (none with `--media-metrics false`).
    pub counters: Option<std::sync::Arc<super::composite_stats::CompositeCounters>>,
    /// How often the composite was late and skipped ahead.
    pub late: std::sync::Arc<super::late_frames::LateFrames>,
}

impl VideoMix {
    /// Builds the chain for `config`'s canvas, frame rate and bitrate.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let bin = parse_fragment(VIDEO_MIX, false)?;
        bin.set_property("name", "video-mix");
        let compositor = child(&bin, "compositor")?;
        super::mix_latency::unbounded_upstream_latency(&compositor, super::mix_latency::mix_wait(config));
        compositor.set_property("latency", 0u64);
        compositor.set_property("min-upstream-latency", super::mix_latency::mix_wait(config).nseconds());
        let canvas = gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", config.composite.canvas.0.width as i32)
            .field("height", config.composite.canvas.0.height as i32)
            .field("framerate", gst::Fraction::new(config.composite.fps as i32, 1))
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            // VP8 is BT.601; pin it so no input's label (1.22 vp8dec calls HD BT.709) shifts colours.
            .field("colorimetry", "bt601")
            .build();
        child(&bin, "canvas")?.set_property("caps", &canvas);
        let background = gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", 16)
            .field("height", 16)
            .field("framerate", gst::Fraction::new(config.composite.fps as i32, 1))
            .build();
        child(&bin, "background-caps")?.set_property("caps", &background);
        let late = super::late_frames::keep_on_time(&compositor, super::mix_latency::mix_wait(config));
        centre_frame_times(&compositor.static_pad("src").expect("compositor has a src pad"), config.composite.fps);
        let mut encoders = Encoders::new(&bin)?;
        let vp8 = &encoders.ensure(&bin, Codec::Vp8, config)?.element;
        let watch = super::composite_stats::CompositeCounters::watch;
        let counters = config.metrics.media.then(|| watch(&compositor, vp8));
        Ok(Self { bin, compositor, encoders, counters, late })
    }

    /// The compositor's source pad.
    pub(super) fn mixer_src(&self) -> gst::Pad {
        self.compositor.static_pad("src").expect("compositor has a src pad")
    }

    /// Adds a compositor input for `participant`, hidden until placed.
    pub fn add_input(&self, participant: ParticipantId) -> anyhow::Result<gst::GhostPad> {
        let pad = ghost::request(&self.bin, &self.compositor, "sink_%u", &format!("video-{participant}"))?;
        self.place(&pad, None);
        Ok(pad)
    }

    /// Moves and scales an input to `rect` at stacking order `z`, or hides it (`None`).
    pub fn place(&self, input: &gst::GhostPad, at: Option<(Rect, u32)>) {
        let Some(pad) = input.target() else { return };
        match at {
            Some((rect, z)) => {
                pad.set_property("xpos", rect.x as i32);
                pad.set_property("ypos", rect.y as i32);
                pad.set_property("width", rect.w as i32);
                pad.set_property("height", rect.h as i32);
                pad.set_property("zorder", z);
                pad.set_property("alpha", 1.0f64);
            }
            None => pad.set_property("alpha", 0.0f64),
        }
    }

    /// A new output of the raw composite (I420 at the canvas size), named `name`.
    pub fn add_raw_output(&self, name: &str) -> anyhow::Result<gst::GhostPad> {
        ghost::request(&self.bin, &self.encoders.raw, "src_%u", name)
    }

    /// Releases an output of [`VideoMix::add_raw_output`].
    pub fn remove_raw_output(&self, output: &gst::GhostPad) {
        ghost::release(&self.bin, &self.encoders.raw, output);
    }

    /// A new still-image input (label, badge, placeholder, border strip), hidden.
    pub(super) fn add_overlay(&self, name: &str) -> anyhow::Result<super::overlay::Overlay> {
        super::overlay::Overlay::new(&self.bin, &self.compositor, name)
    }

    /// Removes a still-image input.
    pub(super) fn remove_overlay(&self, overlay: super::overlay::Overlay) {
        overlay.remove(&self.bin, &self.compositor);
    }

    /// Releases an input; its upstream must already be stopped.
    pub fn remove_input(&self, input: &gst::GhostPad) {
        ghost::release(&self.bin, &self.compositor, input);
    }

    /// Lets the next VP8 keyframe request through at once (`immediate`), or restores the
    /// [`MIN_KEYFRAME_INTERVAL`] that merges receivers' requests. A new recording needs its
    /// first keyframe now, not up to 0.8 s later.
    pub fn set_immediate_keyframes(&self, immediate: bool) {
        let interval = if immediate { 0 } else { MIN_KEYFRAME_INTERVAL.as_nanos() as u64 };
        if let Some(vp8) = self.encoders.get(Codec::Vp8) {
            vp8.element.set_property("min-force-key-unit-interval", interval);
        }
    }

    /// A new output of the composite encoded in `codec` (whose encoder starts if it is not
    /// running), named `name`; see [`Encoder::add_output`].
    pub fn add_encoded_output(&mut self, codec: Codec, name: &str, config: &Config) -> anyhow::Result<gst::GhostPad> {
        let output = self.encoders.ensure(&self.bin, codec, config)?.add_output(&self.bin, name);
        if output.is_err() {
            self.encoders.stop_idle(&self.bin, codec, Some(Codec::Vp8));
        }
        output
    }

    /// Releases an output of `codec`; an encoder other than VP8 stops with its last output.
    pub fn remove_encoded_output(&mut self, codec: Codec, output: &gst::GhostPad) {
        if let Some(encoder) = self.encoders.get(codec) {
            encoder.remove_output(&self.bin, output);
        }
        self.encoders.stop_idle(&self.bin, codec, Some(Codec::Vp8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in `pipelines/` parses, and each named element the code looks up exists.
    #[test]
    fn every_pipeline_fragment_parses() {
        gst::init().unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            parse_fragment(&text, true).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            seen += 1;
        }
        assert!(seen >= 8);
        let config = Config::default();
        let mut video = VideoMix::new(&config).unwrap();
        assert!(video.compositor.property::<bool>("force-live"));
        // Encoders start with their first output and stop with their last, except the main one.
        let h264 = video.add_encoded_output(Codec::H264, "h264-out", &config).unwrap();
        assert!(video.encoders.get(Codec::H264).is_some());
        video.remove_encoded_output(Codec::H264, &h264);
        assert!(video.encoders.get(Codec::H264).is_none());
        let vp8 = video.add_encoded_output(Codec::Vp8, "vp8-out", &config).unwrap();
        video.remove_encoded_output(Codec::Vp8, &vp8);
        assert!(video.encoders.get(Codec::Vp8).is_some(), "VP8 runs for recordings");
    }
}
