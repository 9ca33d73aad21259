//! The few calls of libopus's single-stream API that Tessera makes, with the decoder's state
//! behind a safe owner.
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

#[link(name = "libopus.so.0", kind = "dylib", modifiers = "+verbatim")]
unsafe extern "C" {
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

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: created by `opus_decoder_create`, destroyed once.
        unsafe { opus_decoder_destroy(self.0.as_ptr()) }
    }
}
