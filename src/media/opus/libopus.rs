//! The few calls of libopus's single-stream API that Tessera makes, with each decoder's and
//! encoder's state behind a safe owner.
//!
//! GStreamer's `opusdec` and `opusenc` use the multistream API, whose every decode and encode
//! asks the size of its decoders again. In Debian's libopus 1.3.1 (built with custom modes)
//! that runs CPUID several times per frame; in a virtual machine each CPUID traps to the
//! hypervisor. Measured on the benchmark machine (`python3` and ctypes, 5000 frames of a
//! 20 ms mono CELT packet): `opus_multistream_decode` 106 µs a frame, `opus_decode` 33 µs.
//! Linked against the runtime library (`libopus.so.0`, which GStreamer's Opus plugin already
//! needs), so no development package is required.

use std::ffi::{c_int, c_uchar};
use std::ptr::NonNull;

#[repr(C)]
struct OpusDecoder {
    _private: [u8; 0],
}

#[repr(C)]
struct OpusEncoder {
    _private: [u8; 0],
}

#[link(name = "libopus.so.0", kind = "dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    fn opus_encoder_create(fs: i32, channels: c_int, application: c_int, error: *mut c_int) -> *mut OpusEncoder;
    fn opus_encode(st: *mut OpusEncoder, pcm: *const i16, frame_size: c_int, data: *mut c_uchar, max: i32) -> i32;
    fn opus_encoder_ctl(st: *mut OpusEncoder, request: c_int, ...) -> c_int;
    fn opus_encoder_destroy(st: *mut OpusEncoder);
    fn opus_decoder_create(fs: i32, channels: c_int, error: *mut c_int) -> *mut OpusDecoder;
    fn opus_decode(
        st: *mut OpusDecoder,
        data: *const c_uchar,
        len: i32,
        pcm: *mut i16,
        frame_size: c_int,
        decode_fec: c_int,
    ) -> c_int;
    fn opus_decoder_destroy(st: *mut OpusDecoder);
}

/// The sample rate everything here runs at.
pub const RATE: u32 = 48_000;
/// The longest Opus packet, in samples at [`RATE`] (120 ms).
pub const MAX_FRAME: usize = 5_760;

/// A libopus error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("libopus error {0}")]
pub struct OpusError(pub i32);

/// One mono decoder at 48 kHz (a stereo stream is downmixed by libopus).
#[derive(Debug)]
pub struct Decoder(NonNull<OpusDecoder>);

// SAFETY: the decoder state is plain memory owned by this value; libopus keeps no global state
// tied to a thread, and `&mut self` serialises every call.
unsafe impl Send for Decoder {}

impl Decoder {
    /// A fresh decoder.
    pub fn new() -> Result<Self, OpusError> {
        let mut error = 0;
        // SAFETY: valid arguments; the result is checked for null.
        let st = unsafe { opus_decoder_create(RATE as i32, 1, &mut error) };
        NonNull::new(st).map(Self).ok_or(OpusError(error))
    }

    /// Decodes `packet` into `pcm` (room for up to [`MAX_FRAME`] samples); returns the samples
    /// written.
    pub fn decode(&mut self, packet: &[u8], pcm: &mut [i16]) -> Result<usize, OpusError> {
        let len = i32::try_from(packet.len()).map_err(|_| OpusError(-1))?;
        // SAFETY: the pointers and lengths come from live slices; one channel, so `pcm.len()`
        // samples fit.
        let n = unsafe { opus_decode(self.0.as_ptr(), packet.as_ptr(), len, pcm.as_mut_ptr(), pcm.len() as c_int, 0) };
        usize::try_from(n).map_err(|_| OpusError(n))
    }

    /// Conceals `pcm.len()` lost samples (a multiple of 2.5 ms) from the decoder's state.
    pub fn conceal(&mut self, pcm: &mut [i16]) -> Result<usize, OpusError> {
        // SAFETY: a null packet asks libopus for concealment of `pcm.len()` samples.
        let n = unsafe { opus_decode(self.0.as_ptr(), std::ptr::null(), 0, pcm.as_mut_ptr(), pcm.len() as c_int, 0) };
        usize::try_from(n).map_err(|_| OpusError(n))
    }
}

/// `OPUS_APPLICATION_RESTRICTED_LOWDELAY`: CELT only (see pipelines/opus-encoder.txt).
const RESTRICTED_LOWDELAY: c_int = 2051;
const SET_BITRATE: c_int = 4002;
const SET_VBR: c_int = 4006;
const SET_PACKET_LOSS_PERC: c_int = 4014;
const SET_COMPLEXITY: c_int = 4010;
const GET_LOOKAHEAD: c_int = 4027;

/// One mono CELT-only encoder at 48 kHz, constant bitrate, as `opusenc audio-type=restricted-lowdelay`
/// with its defaults (full band, no DTX or FEC) but the complexity.
#[derive(Debug)]
pub struct Encoder(NonNull<OpusEncoder>);

// SAFETY: as for `Decoder`.
unsafe impl Send for Encoder {}

impl Encoder {
    /// A fresh encoder at `bitrate` bit/s and `complexity` (0–10), expecting `loss` percent of
    /// packets lost.
    pub fn new(bitrate: i32, loss: i32, complexity: i32) -> Result<Self, OpusError> {
        let mut error = 0;
        // SAFETY: valid arguments; the result is checked for null.
        let st = unsafe { opus_encoder_create(RATE as i32, 1, RESTRICTED_LOWDELAY, &mut error) };
        let encoder = NonNull::new(st).map(Self).ok_or(OpusError(error))?;
        encoder.set(SET_VBR, 0)?;
        encoder.set(SET_BITRATE, bitrate)?;
        encoder.set(SET_PACKET_LOSS_PERC, loss)?;
        encoder.set(SET_COMPLEXITY, complexity)?;
        Ok(encoder)
    }

    fn set(&self, request: c_int, value: i32) -> Result<(), OpusError> {
        // SAFETY: every request used here takes one opus_int32.
        let r = unsafe { opus_encoder_ctl(self.0.as_ptr(), request, value) };
        if r == 0 { Ok(()) } else { Err(OpusError(r)) }
    }

    /// Samples the encoder's output lags its input (2.5 ms for CELT at 48 kHz).
    pub fn lookahead(&self) -> Result<usize, OpusError> {
        let mut samples: i32 = 0;
        // SAFETY: `GET_LOOKAHEAD` writes one opus_int32 through the pointer.
        let r = unsafe { opus_encoder_ctl(self.0.as_ptr(), GET_LOOKAHEAD, &mut samples as *mut i32) };
        if r == 0 { usize::try_from(samples).map_err(|_| OpusError(-1)) } else { Err(OpusError(r)) }
    }

    /// Encodes one frame of `pcm` (2.5 to 60 ms of samples) into `packet`; returns its length.
    pub fn encode(&mut self, pcm: &[i16], packet: &mut [u8]) -> Result<usize, OpusError> {
        let max = i32::try_from(packet.len()).unwrap_or(i32::MAX);
        // SAFETY: the pointers and lengths come from live slices; one channel.
        let n = unsafe { opus_encode(self.0.as_ptr(), pcm.as_ptr(), pcm.len() as c_int, packet.as_mut_ptr(), max) };
        usize::try_from(n).map_err(|_| OpusError(n))
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: created by `opus_encoder_create`, destroyed once.
        unsafe { opus_encoder_destroy(self.0.as_ptr()) }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: created by `opus_decoder_create`, destroyed once.
        unsafe { opus_decoder_destroy(self.0.as_ptr()) }
    }
}
