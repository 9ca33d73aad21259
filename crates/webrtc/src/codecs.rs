//! The codecs Tessera negotiates, with their fixed payload types.
//!
//! The server always offers, so these payload types are what every peer uses: the transceivers'
//! codec preferences and the client library's payloaders read them here; the server's
//! payloaders in `pipelines/*.txt` spell the same numbers (a unit test in `src/pipelines.rs`
//! checks).

/// RTP payload type of VP8 video.
pub const VP8_PT: u32 = 96;
/// RTP payload type of Opus audio.
pub const OPUS_PT: u32 = 111;
/// The raw audio format mixed inside a room: 48 kHz mono S16.
pub const MIX_AUDIO_CAPS: &str = "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved";

/// Codec preferences of the video transceiver: VP8 with NACK, PLI and FIR feedback.
pub fn vp8_caps() -> gst::Caps {
    gst::Caps::builder("application/x-rtp")
        .field("media", "video")
        .field("encoding-name", "VP8")
        .field("payload", VP8_PT as i32)
        .field("clock-rate", 90_000i32)
        .field("rtcp-fb-nack", true)
        .field("rtcp-fb-nack-pli", true)
        .field("rtcp-fb-ccm-fir", true)
        .build()
}

/// Codec preferences of the audio transceiver: Opus with in-band FEC.
pub fn opus_caps() -> gst::Caps {
    gst::Caps::builder("application/x-rtp")
        .field("media", "audio")
        .field("encoding-name", "OPUS")
        .field("payload", OPUS_PT as i32)
        .field("clock-rate", 48_000i32)
        .field("encoding-params", "2")
        .field("minptime", "10")
        .field("useinbandfec", "1")
        .build()
}
