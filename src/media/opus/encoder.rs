//! `tesseraopusenc`: S16LE mono 48 kHz in, 20 ms CELT-only Opus frames out, as
//! `opusenc audio-type=restricted-lowdelay frame-size=20` does (constant bitrate; complexity
//! 10 unless set), with libopus's single-stream API. Output times match `opusenc`'s: the first frame is
//! shortened by the encoder's look-ahead (and says so in a clipping meta), so every frame is
//! stamped with the time its sound came in.
//!
//! An encoder told who hears it ([`super::OpusEncoder::set_heard`]) skips the frames nobody
//! hears: the room's shared encode of the full mix while every listener talks and no viewer or
//! recording takes it. It keeps the last [`WARMUP_FRAMES`] it skipped and encodes them, output
//! dropped, before the next frame someone hears, so its state is where a steady encoder's
//! would be and the listener's decoder hears no seam. Output times are unchanged: a skipped
//! frame is still counted as consumed input. The look-ahead is taken off the stream's first
//! frame, skipped or not, so a first output after skipped frames carries no clipping meta.

use std::collections::VecDeque;
use std::sync::{LazyLock, Mutex, OnceLock};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_audio::prelude::*;
use gst_audio::subclass::prelude::*;

use super::libopus::{self, RATE};

/// Samples per frame: 20 ms.
const FRAME: usize = 960;
/// The largest packet one frame may take (Opus's own limit is 1275 bytes).
const MAX_PACKET: usize = 1500;

/// Frames an encoder is given, output dropped, before it takes over from another encoder or
/// from its own silence, so that its state starts where a steady encoder's would be.
pub const WARMUP_FRAMES: usize = 3;

/// Whether anyone hears the frame being encoded (asked once per frame, in the streaming thread).
pub type Heard = Box<dyn Fn() -> bool + Send + Sync>;

#[derive(Debug, Clone, Copy)]
struct Settings {
    bitrate: i32,
    loss: i32,
    complexity: i32,
}

impl Default for Settings {
    fn default() -> Self {
        Self { bitrate: 64_000, loss: 0, complexity: 10 }
    }
}

#[derive(Default)]
struct State {
    encoder: Option<libopus::Encoder>,
    /// Look-ahead samples still to take off the first frame's duration.
    pending_lookahead: usize,
    pcm: Vec<i16>,
    /// Where each frame is encoded before it is copied out at its size.
    packet: Vec<u8>,
    /// The last frames skipped because nobody heard them, oldest first.
    skipped: VecDeque<Vec<i16>>,
}

#[derive(Default)]
pub struct OpusEncoder {
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Who hears it, set once; unset: every frame is encoded. Read on every frame, so no lock.
    pub(super) heard: OnceLock<Heard>,
}

#[glib::object_subclass]
impl ObjectSubclass for OpusEncoder {
    const NAME: &'static str = "TesseraOpusEncoder";
    type Type = super::OpusEncoder;
    type ParentType = gst_audio::AudioEncoder;
}

impl ObjectImpl for OpusEncoder {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecInt::builder("bitrate")
                    .nick("Bitrate")
                    .blurb("Constant bitrate, bit/s (applies from the next start)")
                    .minimum(4_000)
                    .maximum(650_000)
                    .default_value(Settings::default().bitrate)
                    .build(),
                glib::ParamSpecInt::builder("packet-loss-percentage")
                    .nick("Loss percentage")
                    .blurb("Packets expected lost, percent")
                    .minimum(0)
                    .maximum(100)
                    .default_value(0)
                    .build(),
                glib::ParamSpecInt::builder("complexity")
                    .nick("Complexity")
                    .blurb("Encoder complexity, 0-10: CPU for quality (applies from the next start)")
                    .minimum(0)
                    .maximum(10)
                    .default_value(Settings::default().complexity)
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "bitrate" => settings.bitrate = value.get().expect("type checked upstream"),
            "packet-loss-percentage" => settings.loss = value.get().expect("type checked upstream"),
            "complexity" => settings.complexity = value.get().expect("type checked upstream"),
            _ => unreachable!("no property {}", pspec.name()),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "bitrate" => settings.bitrate.to_value(),
            "packet-loss-percentage" => settings.loss.to_value(),
            "complexity" => settings.complexity.to_value(),
            _ => unreachable!("no property {}", pspec.name()),
        }
    }
}
impl GstObjectImpl for OpusEncoder {}

impl ElementImpl for OpusEncoder {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Tessera Opus encoder",
                "Codec/Encoder/Audio",
                "Encodes S16LE mono 48 kHz to 20 ms CELT-only Opus with libopus's single-stream API",
                "Tessera",
            )
        });
        Some(&META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> =
            LazyLock::new(|| super::templates(&super::super::mixengine::pcm_caps(), &opus_caps()));
        TEMPLATES.as_ref()
    }
}

/// What goes out: one mono Opus stream (what `opusenc` says, less its Ogg stream headers;
/// `rtpopuspay` and `webmmux` need none).
fn opus_caps() -> gst::Caps {
    gst::Caps::builder("audio/x-opus")
        .field("rate", RATE as i32)
        .field("channels", 1)
        .field("channel-mapping-family", 0)
        .build()
}

impl AudioEncoderImpl for OpusEncoder {
    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
        Ok(())
    }

    fn set_format(&self, _info: &gst_audio::AudioInfo) -> Result<(), gst::LoggableError> {
        let Settings { bitrate, loss, complexity } = *self.settings.lock().unwrap();
        let fail = |e: libopus::OpusError| gst::loggable_error!(gst::CAT_RUST, "{e}");
        let encoder = libopus::Encoder::new(bitrate, loss, complexity).map_err(fail)?;
        let lookahead = encoder.lookahead().map_err(fail)?;
        *self.state.lock().unwrap() =
            State { encoder: Some(encoder), pending_lookahead: lookahead, ..State::default() };
        let obj = self.obj();
        // One frame in, one frame out, 20 ms each (what `opusenc` reports).
        let frame = gst::ClockTime::from_mseconds(20);
        obj.set_latency(frame, Some(frame));
        obj.set_frame_samples_min(FRAME as i32);
        obj.set_frame_samples_max(FRAME as i32);
        obj.set_frame_max(1);
        obj.set_output_format(&opus_caps()).map_err(|e| gst::loggable_error!(gst::CAT_RUST, "output format: {e:?}"))
    }

    fn handle_frame(&self, buffer: Option<&gst::Buffer>) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Draining: the look-ahead's last 2.5 ms stay in the encoder.
        let Some(buffer) = buffer else { return Ok(gst::FlowSuccess::Ok) };
        let heard = self.heard.get().is_none_or(|heard| heard());
        let obj = self.obj();
        let mut guard = self.state.lock().unwrap();
        let state = &mut *guard;
        let Some(encoder) = state.encoder.as_mut() else { return Err(gst::FlowError::NotNegotiated) };
        let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
        let samples = map.len() / 2;
        // A short last frame (draining) is padded with silence.
        state.pcm.clear();
        state.pcm.extend(map.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])));
        state.pcm.resize(FRAME, 0);
        let trim = state.pending_lookahead.min(samples);
        state.pending_lookahead -= trim;
        if !heard {
            let mut kept =
                if state.skipped.len() == WARMUP_FRAMES { state.skipped.pop_front() } else { None }.unwrap_or_default();
            kept.clone_from(&state.pcm);
            state.skipped.push_back(kept);
            drop(guard);
            return obj.finish_frame(None, (samples - trim) as i32);
        }
        state.packet.resize(MAX_PACKET, 0);
        // Back from skipping: the skipped frames' sound goes through the encoder's state.
        for frame in state.skipped.drain(..) {
            if let Err(e) = encoder.encode(&frame, &mut state.packet) {
                gst::warning!(gst::CAT_RUST, imp = self, "warming up: {e}");
            }
        }
        let encoded = encoder.encode(&state.pcm, &mut state.packet);
        let len = match encoded {
            Ok(len) => len,
            Err(e) => {
                drop(guard);
                gst::element_imp_error!(self, gst::StreamError::Encode, ["{e}"]);
                return Err(gst::FlowError::Error);
            }
        };
        // Its own allocation of its own size: payloaders and RTP histories keep this memory.
        let packet = state.packet[..len].to_vec();
        drop(guard);
        let mut out = gst::Buffer::from_mut_slice(packet);
        if trim > 0 {
            let meta = gst::format::Default::from_u64(trim as u64);
            gst_audio::AudioClippingMeta::add(
                out.get_mut().ok_or(gst::FlowError::Error)?,
                meta,
                gst::format::Default::ZERO,
            );
        }
        obj.finish_frame(Some(out), (samples - trim) as i32)
    }
}
