//! Opus through libopus's single-stream API (see [`libopus`] for why not GStreamer's
//! elements): `tesseraopusdec` decodes each publisher's voice to the mix's format.

mod decoder;
pub(super) mod libopus;

use gst::glib;
use gst::prelude::*;

glib::wrapper! {
    /// The decoder element.
    pub struct OpusDecoder(ObjectSubclass<decoder::OpusDecoder>)
        @extends gst_audio::AudioDecoder, gst::Element, gst::Object;
}

/// Registers `tesseraopusdec` with GStreamer (once per process).
pub fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = gst::Element::register(None, "tesseraopusdec", gst::Rank::NONE, OpusDecoder::static_type()) {
            tracing::error!("registering tesseraopusdec: {e}");
        }
    });
}

#[cfg(test)]
mod tests;
