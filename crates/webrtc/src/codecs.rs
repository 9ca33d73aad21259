//! The codecs Tessera negotiates: the WebRTC mandatory-to-implement set, VP8 and H.264 for
//! video, Opus, PCMU and PCMA (G.711) for audio.
//!
//! When the server offers (its own `/ws` protocol) these payload types are the ones every peer
//! uses: the transceivers' codec preferences and the client library's payloaders read them
//! here. When a client offers (WHIP, WHEP) its payload types win, so the preferences for an
//! answer leave them out ([`Codec::answer_caps`]).

use std::fmt;

/// RTP payload type of VP8 video.
pub const VP8_PT: u32 = 96;
/// RTP payload type of H.264 video (constrained baseline, packetization mode 1).
pub const H264_PT: u32 = 102;
/// RTP payload type of Opus audio.
pub const OPUS_PT: u32 = 111;
/// RTP payload type of PCMU (G.711 µ-law), static.
pub const PCMU_PT: u32 = 0;
/// RTP payload type of PCMA (G.711 A-law), static.
pub const PCMA_PT: u32 = 8;
/// The raw audio format mixed inside a room: 48 kHz mono S16.
pub const MIX_AUDIO_CAPS: &str = "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved";
/// The H.264 profile offered and sent: constrained baseline, level 3.1, which every WebRTC
/// receiver decodes (hardware decoders included).
pub const H264_PROFILE_LEVEL_ID: &str = "42e01f";

/// A codec Tessera receives and sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Codec {
    /// VP8 video.
    Vp8,
    /// H.264 video.
    H264,
    /// Opus audio.
    Opus,
    /// G.711 µ-law audio.
    Pcmu,
    /// G.711 A-law audio.
    Pcma,
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encoding_name())
    }
}

impl Codec {
    /// The video codecs in the order the server prefers them (VP8 first: the composite is
    /// always encoded in VP8, for recordings, so VP8 receivers cost no extra encoder).
    pub const VIDEO: [Codec; 2] = [Codec::Vp8, Codec::H264];
    /// The audio codecs in the server's order of preference.
    pub const AUDIO: [Codec; 3] = [Codec::Opus, Codec::Pcmu, Codec::Pcma];

    /// The SDP / RTP caps encoding name.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Vp8 => "VP8",
            Codec::H264 => "H264",
            Codec::Opus => "OPUS",
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// Whether it is a video codec.
    pub fn is_video(self) -> bool {
        matches!(self, Codec::Vp8 | Codec::H264)
    }

    /// The codec with this encoding name (any case), if Tessera handles it.
    pub fn from_encoding_name(name: &str) -> Option<Codec> {
        [Codec::Vp8, Codec::H264, Codec::Opus, Codec::Pcmu, Codec::Pcma]
            .into_iter()
            .find(|c| c.encoding_name().eq_ignore_ascii_case(name))
    }

    /// The payload type the server offers it with.
    pub fn offer_pt(self) -> u32 {
        match self {
            Codec::Vp8 => VP8_PT,
            Codec::H264 => H264_PT,
            Codec::Opus => OPUS_PT,
            Codec::Pcmu => PCMU_PT,
            Codec::Pcma => PCMA_PT,
        }
    }

    fn clock_rate(self) -> i32 {
        match self {
            Codec::Vp8 | Codec::H264 => 90_000,
            Codec::Opus => 48_000,
            Codec::Pcmu | Codec::Pcma => 8_000,
        }
    }

    /// The codec's caps structure without a payload type: what an answer to someone else's
    /// offer accepts. Video asks for NACK, PLI and FIR feedback; H.264 only in packetization
    /// mode 1 (any profile is decoded).
    fn structure(self) -> gst::Structure {
        let media = if self.is_video() { "video" } else { "audio" };
        let mut s = gst::Structure::builder("application/x-rtp")
            .field("media", media)
            .field("encoding-name", self.encoding_name())
            .field("clock-rate", self.clock_rate())
            .build();
        match self {
            Codec::Vp8 | Codec::H264 => {
                s.set("rtcp-fb-nack", true);
                s.set("rtcp-fb-nack-pli", true);
                s.set("rtcp-fb-ccm-fir", true);
                if self == Codec::H264 {
                    s.set("packetization-mode", "1");
                }
            }
            Codec::Opus => {
                s.set("encoding-params", "2");
            }
            Codec::Pcmu | Codec::Pcma => {}
        }
        s
    }

    /// Caps for an answer to a client's offer: these codecs, whatever payload types the offer
    /// gave them.
    pub fn answer_caps(codecs: &[Codec]) -> gst::Caps {
        let mut caps = gst::Caps::new_empty();
        let caps_mut = caps.get_mut().expect("new caps are writable");
        for codec in codecs {
            caps_mut.append_structure(codec.structure());
        }
        caps
    }

    /// Caps for the server's offer: these codecs at their fixed payload types, with the
    /// parameters the server sends them with.
    pub fn offer_caps(codecs: &[Codec]) -> gst::Caps {
        let mut caps = gst::Caps::new_empty();
        let caps_mut = caps.get_mut().expect("new caps are writable");
        for codec in codecs {
            let mut s = codec.structure();
            s.set("payload", codec.offer_pt() as i32);
            match codec {
                Codec::H264 => {
                    s.set("profile-level-id", H264_PROFILE_LEVEL_ID);
                    s.set("level-asymmetry-allowed", "1");
                }
                Codec::Opus => {
                    s.set("minptime", "10");
                    // No `useinbandfec`: `tesseraopusdec` conceals a loss instead of waiting a
                    // packet for its redundancy (src/media/opus/decoder.rs), so a sender's FEC
                    // would be bits nobody decodes.
                    // Asks the other side to send nothing while it is silent (Opus DTX, RFC
                    // 7587): a listener then costs no receive, decrypt or decode.
                    s.set("usedtx", "1");
                }
                _ => {}
            }
            caps_mut.append_structure(s);
        }
        caps
    }
}

/// Codec preferences of a VP8-only video transceiver.
pub fn vp8_caps() -> gst::Caps {
    Codec::offer_caps(&[Codec::Vp8])
}

/// Codec preferences of an Opus-only audio transceiver.
pub fn opus_caps() -> gst::Caps {
    Codec::offer_caps(&[Codec::Opus])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_caps_carry_the_fixed_payload_types_and_answer_caps_none() {
        gst::init().unwrap();
        let offer = Codec::offer_caps(&Codec::AUDIO);
        let pts: Vec<i32> = offer.iter().map(|s| s.get::<i32>("payload").unwrap()).collect();
        assert_eq!(pts, [111, 0, 8]);
        let answer = Codec::answer_caps(&Codec::VIDEO);
        assert!(answer.iter().all(|s| !s.has_field("payload")));
        assert_eq!(answer.size(), 2);
        assert_eq!(Codec::from_encoding_name("opus"), Some(Codec::Opus));
        assert_eq!(Codec::from_encoding_name("VP9"), None);
    }
}
