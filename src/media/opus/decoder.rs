//! `tesseraopusdec`: Opus packets in, S16LE mono 48 kHz out (the mix's format, so no convert or
//! resample follows it). Lost packets (gaps from the jitter buffer) are concealed by libopus,
//! in steps of 2.5 ms as `opusdec` does. No in-band FEC: using it means holding every packet
//! back one packet (20 ms) in case the next one carries the lost one's copy, and a mix that
//! waits 20 ms for late input has no use for a copy that comes 20 ms later.

use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::subclass::prelude::*;
use gst_audio::prelude::*;
use gst_audio::subclass::prelude::*;

use super::libopus::{self, MAX_FRAME, RATE};

/// libopus conceals in multiples of this.
const PLC_STEP: gst::ClockTime = gst::ClockTime::from_nseconds(2_500_000);
/// The longest gap concealed in one go; a longer one is left as a gap.
const MAX_CONCEAL: gst::ClockTime = gst::ClockTime::from_mseconds(120);

#[derive(Default)]
struct State {
    decoder: Option<libopus::Decoder>,
    /// The last packet's duration, for a gap that says none.
    last: Option<gst::ClockTime>,
    /// Where each frame is decoded before it is copied out.
    pcm: Vec<i16>,
    /// Missing time not concealed yet (below [`PLC_STEP`]), nanoseconds (may be negative after
    /// rounding up).
    leftover: i64,
}

#[derive(Default)]
pub struct OpusDecoder {
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for OpusDecoder {
    const NAME: &'static str = "TesseraOpusDecoder";
    type Type = super::OpusDecoder;
    type ParentType = gst_audio::AudioDecoder;
}

impl ObjectImpl for OpusDecoder {
    fn constructed(&self) {
        self.parent_constructed();
        // Gaps come in as empty frames with a duration.
        self.obj().set_plc_aware(true);
    }
}
impl GstObjectImpl for OpusDecoder {}

impl ElementImpl for OpusDecoder {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Tessera Opus decoder",
                "Codec/Decoder/Audio",
                "Decodes Opus to S16LE mono 48 kHz with libopus's single-stream API",
                "Tessera",
            )
        });
        Some(&META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            super::templates(&gst::Caps::builder("audio/x-opus").build(), &super::super::mixengine::pcm_caps())
        });
        TEMPLATES.as_ref()
    }
}

impl AudioDecoderImpl for OpusDecoder {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
        Ok(())
    }

    fn set_format(&self, _caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let decoder = libopus::Decoder::new().map_err(|e| gst::loggable_error!(gst::CAT_RUST, "{e}"))?;
        *self.state.lock().unwrap() = State { decoder: Some(decoder), ..State::default() };
        let info = gst_audio::AudioInfo::builder(gst_audio::AudioFormat::S16le, RATE, 1)
            .build()
            .map_err(|e| gst::loggable_error!(gst::CAT_RUST, "{e}"))?;
        self.obj().set_output_format(&info).map_err(|e| gst::loggable_error!(gst::CAT_RUST, "output format: {e:?}"))
    }

    /// Any Opus stream, mono or stereo: libopus downmixes to the one channel out. (The base
    /// class would ask downstream and accept only as many channels as go out.)
    fn caps(&self, filter: Option<&gst::Caps>) -> gst::Caps {
        let template = self.obj().sink_pad().pad_template_caps();
        filter.map_or(template.clone(), |f| f.intersect_with_mode(&template, gst::CapsIntersectMode::First))
    }

    fn flush(&self, _hard: bool) {
        let mut state = self.state.lock().unwrap();
        state.decoder = libopus::Decoder::new().ok();
        state.leftover = 0;
    }

    fn handle_frame(&self, buffer: Option<&gst::Buffer>) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Nothing held back: draining has nothing to give.
        let Some(buffer) = buffer else { return Ok(gst::FlowSuccess::Ok) };
        let obj = self.obj();
        let mut guard = self.state.lock().unwrap();
        let state = &mut *guard;
        let samples = if buffer.size() == 0 { state.concealed(buffer.duration()) } else { MAX_FRAME };
        if samples == 0 {
            drop(guard);
            return obj.finish_frame(None, 1);
        }
        state.pcm.resize(samples, 0);
        let decoded = match state.decoder.as_mut() {
            None => return Err(gst::FlowError::NotNegotiated),
            Some(decoder) if buffer.size() == 0 => decoder.conceal(&mut state.pcm),
            Some(decoder) => {
                let packet = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                decoder.decode(&packet, &mut state.pcm)
            }
        };
        match decoded {
            Ok(n) => {
                if buffer.size() > 0 {
                    state.last = gst::ClockTime::SECOND.mul_div_floor(n as u64, u64::from(RATE));
                }
                let bytes: Vec<u8> = state.pcm[..n].iter().flat_map(|s| s.to_le_bytes()).collect();
                drop(guard);
                obj.finish_frame(Some(gst::Buffer::from_mut_slice(bytes)), 1)
            }
            Err(e) => {
                drop(guard);
                gst_audio::audio_decoder_error!(obj, 1, gst::StreamError::Decode, ["{e}"])?;
                obj.finish_frame(None, 1)
            }
        }
    }
}

impl State {
    /// Samples to conceal for a gap of `duration` (the last packet's, or 20 ms, if it says
    /// none), rounded to libopus's 2.5 ms steps; the rest is carried to the next gap.
    fn concealed(&mut self, duration: Option<gst::ClockTime>) -> usize {
        let missing = duration
            .filter(|d| !d.is_zero())
            .or(self.last)
            .unwrap_or(gst::ClockTime::from_mseconds(20))
            .min(MAX_CONCEAL);
        let missing = missing.nseconds() as i64 + self.leftover;
        let step = PLC_STEP.nseconds() as i64;
        let aligned = ((missing + step / 2) / step) * step;
        self.leftover = missing - aligned;
        if aligned < step {
            return 0;
        }
        (aligned as u64 * u64::from(RATE) / 1_000_000_000) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_concealed_in_steps_of_2_5_ms_and_the_rest_carried() {
        let mut state = State::default();
        let ms = gst::ClockTime::from_mseconds;
        assert_eq!(state.concealed(Some(ms(20))), 960, "a lost 20 ms packet");
        assert_eq!(state.concealed(None), 960, "no duration: 20 ms until a packet said otherwise");
        state.last = Some(ms(10));
        assert_eq!(state.concealed(None), 480, "no duration: the last packet's");
        // 1 ms is below a step: carried, and added to the next gap (3 ms → 2.5 ms, 0.5 left).
        assert_eq!(state.concealed(Some(ms(1))), 0);
        assert_eq!(state.concealed(Some(ms(2))), 120);
        assert_eq!(state.leftover, 500_000);
        assert_eq!(state.concealed(Some(ms(10_000))), 5760, "capped at 120 ms (120.5 with the carry)");
        assert_eq!(state.leftover, 500_000);
    }
}
