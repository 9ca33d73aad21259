//! Opus through libopus's single-stream API (see [`libopus`] for why not GStreamer's
//! elements): `tesseraopusdec` decodes each publisher's voice to the mix's format, and
//! `tesseraopusenc` encodes the mixes (pipelines/opus-encoder.txt).

mod decoder;
mod encoder;
pub(super) mod libopus;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

pub use encoder::WARMUP_FRAMES;

glib::wrapper! {
    /// The decoder element.
    pub struct OpusDecoder(ObjectSubclass<decoder::OpusDecoder>)
        @extends gst_audio::AudioDecoder, gst::Element, gst::Object;
}

glib::wrapper! {
    /// The encoder element.
    pub struct OpusEncoder(ObjectSubclass<encoder::OpusEncoder>)
        @extends gst_audio::AudioEncoder, gst::Element, gst::Object;
}

impl OpusEncoder {
    /// Asks `heard` before each frame whether anyone hears it, and skips the frames nobody
    /// does (see the [`encoder`] module). Set once: a second call is refused.
    pub fn set_heard(&self, heard: impl Fn() -> bool + Send + Sync + 'static) -> anyhow::Result<()> {
        self.imp().heard.set(Box::new(heard)).map_err(|_| anyhow::anyhow!("{} already knows who hears it", self.name()))
    }
}

/// An always `sink` and `src` pad template with these caps (both elements have exactly these).
fn templates(sink: &gst::Caps, src: &gst::Caps) -> Vec<gst::PadTemplate> {
    use gst::{PadDirection::*, PadPresence::Always};
    vec![
        gst::PadTemplate::new("sink", Sink, Always, sink).expect("valid template"),
        gst::PadTemplate::new("src", Src, Always, src).expect("valid template"),
    ]
}

/// Registers `tesseraopusdec` and `tesseraopusenc` with GStreamer (once per process).
pub fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (name, kind) in
            [("tesseraopusdec", OpusDecoder::static_type()), ("tesseraopusenc", OpusEncoder::static_type())]
        {
            if let Err(e) = gst::Element::register(None, name, gst::Rank::NONE, kind) {
                tracing::error!("registering {name}: {e}");
            }
        }
    });
}

#[cfg(test)]
mod tests;
