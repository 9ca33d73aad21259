//! Ingress: a publisher's incoming RTP stream (VP8 or H.264; Opus, PCMU or PCMA) → decoded
//! raw video or audio.
//!
//! Built inside the publisher's bin when webrtcbin exposes a receive pad. Decoding runs in the
//! jitter buffer's streaming thread, so each publisher decodes on its own thread.

use anyhow::Context;
use gst::prelude::*;

use super::size_guard::SizeRule;
use crate::ids::ParticipantId;
use tessera_webrtc::codecs::{Codec, MIX_AUDIO_CAPS};

/// A decoded stream ready to be linked to the mixers.
#[derive(Debug)]
pub enum Decoded {
    /// Raw video; `src` is a ghost pad on the publisher's bin.
    Video {
        /// Ghost src pad on the publisher's bin.
        src: gst::GhostPad,
    },
    /// Raw mixer-format audio behind a tee whose src pads feed the mixes.
    Audio {
        /// The tee, inside the publisher's bin.
        tee: gst::Element,
    },
}

/// Consecutive undecodable video frames (about 1 s) after which a publisher's stream is treated
/// as broken. 1.22 decoders default to ignoring errors forever, leaving a frozen tile.
const MAX_VIDEO_ERRORS: i32 = 30;
/// Consecutive undecodable 20 ms audio packets (1 s) after which the stream is broken.
const MAX_AUDIO_ERRORS: i32 = 50;

fn make(kind: &str, role: &str, id: ParticipantId) -> anyhow::Result<gst::Element> {
    gst::ElementFactory::make(kind).name(format!("{role}-{id}")).build().with_context(|| format!("creating {kind}"))
}

/// Classifies a receive pad by its caps (negotiated, or else queried): the codec it carries,
/// or a description for error messages when it is not one we decode.
pub fn classify(pad: &gst::Pad) -> Result<Codec, String> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let s = caps.structure(0).ok_or("a stream without caps")?;
    let media = s.get::<&str>("media").unwrap_or("?");
    let encoding = s.get::<&str>("encoding-name").unwrap_or("?").to_ascii_uppercase();
    match Codec::from_encoding_name(&encoding) {
        Some(codec) if codec.is_video() == (media == "video") => Ok(codec),
        _ => Err(format!("an unsupported {media}/{encoding} stream")),
    }
}

/// Builds the decode chain for `pad` (a webrtcbin receive pad carrying `codec`) inside `bin`,
/// links it and starts it. The caller unblocks `pad` afterwards.
pub fn build(
    bin: &gst::Bin,
    id: ParticipantId,
    pad: &gst::Pad,
    codec: Codec,
    sizes: SizeRule,
) -> anyhow::Result<Decoded> {
    match codec {
        Codec::Vp8 | Codec::H264 => video(bin, id, pad, codec, sizes),
        Codec::Opus | Codec::Pcmu | Codec::Pcma => audio(bin, id, pad, codec),
    }
}

/// Starts `chain` (depayloader first) in its own bin `name` inside `bin`, fed by `pad`;
/// returns the bin's src pad. The bin's sink ghost turns a flow error from the chain into a
/// dropped buffer (warned once): webrtcbin stops the participant's whole transport, audio and
/// video, on a flow error from any of its receive pads. The audio chain was seen returning one,
/// without posting why, while a neighbour joined or left. Errors a decoder posts (a broken
/// stream) still remove the participant.
fn start_chain(bin: &gst::Bin, pad: &gst::Pad, chain: &[gst::Element], name: String) -> anyhow::Result<gst::GhostPad> {
    let sub = gst::Bin::builder().name(&name).build();
    sub.add_many(chain)?;
    gst::Element::link_many(chain)?;
    let warned = std::sync::atomic::AtomicBool::new(false);
    let target = chain[0].static_pad("sink").expect("depayloaders take input");
    let sink = gst::GhostPad::builder(gst::PadDirection::Sink)
        .name("sink")
        .chain_function(move |pad, parent, buffer| super::ghost::chain_absorbing(pad, parent, buffer, &warned, &name))
        .build();
    super::ghost::install(&sub, &sink, &target)?;
    let src =
        super::ghost::expose(&sub, &chain[chain.len() - 1].static_pad("src").expect("chains end in output"), "src")?;
    bin.add(&sub)?;
    sub.sync_state_with_parent()?;
    pad.link(&sink)?;
    Ok(src)
}

fn video(bin: &gst::Bin, id: ParticipantId, pad: &gst::Pad, codec: Codec, sizes: SizeRule) -> anyhow::Result<Decoded> {
    let chain = match codec {
        Codec::H264 => {
            let depay = make("rtph264depay", "h264depay", id)?;
            depay.set_property("request-keyframe", true);
            depay.set_property("wait-for-keyframe", true);
            // The parser reads the size from the SPS, so the size guard sees it before the
            // decoder allocates anything.
            let parse = make("h264parse", "h264parse", id)?;
            super::size_guard::guard(&parse, sizes);
            let dec = make("avdec_h264", "h264dec", id)?;
            dec.set_property("max-errors", MAX_VIDEO_ERRORS);
            vec![depay, parse, dec]
        }
        _ => {
            let depay = make("rtpvp8depay", "vp8depay", id)?;
            depay.set_property("request-keyframe", true);
            depay.set_property("wait-for-keyframe", true);
            super::size_guard::guard(&depay, sizes);
            let dec = make("vp8dec", "vp8dec", id)?;
            dec.set_property("max-errors", MAX_VIDEO_ERRORS);
            vec![depay, dec]
        }
    };
    // The canvas is BT.601 whatever the resolution; 1.22's vp8dec labels HD as BT.709 (and an
    // H.264 stream may say anything), which would make the compositor convert colour matrices
    // on every frame.
    let colour = make("capssetter", "colorimetry", id)?;
    colour.set_property("caps", gst::Caps::builder("video/x-raw").field("colorimetry", "bt601").build());
    let chain: Vec<gst::Element> = chain.into_iter().chain([colour]).collect();
    let decoded = start_chain(bin, pad, &chain, format!("ingress-video-{id}"))?;
    let what = format!("{id}'s video into the compositor");
    let src = super::ghost::expose_isolated(bin, decoded.upcast_ref(), "video_out", what)?;
    Ok(Decoded::Video { src })
}

fn audio(bin: &gst::Bin, id: ParticipantId, pad: &gst::Pad, codec: Codec) -> anyhow::Result<Decoded> {
    let caps = make("capsfilter", "audiocaps", id)?;
    caps.set_property("caps", MIX_AUDIO_CAPS.parse::<gst::Caps>()?);
    let chain = match codec {
        // Resampled once, here, into the mix's format (8 kHz G.711 up to 48 kHz).
        Codec::Pcmu | Codec::Pcma => {
            let (depay, dec) =
                if codec == Codec::Pcmu { ("rtppcmudepay", "mulawdec") } else { ("rtppcmadepay", "alawdec") };
            let convert = [make("audioconvert", "audioconvert", id)?, make("audioresample", "audioresample", id)?];
            [make(depay, depay, id)?, make(dec, dec, id)?].into_iter().chain(convert).chain([caps]).collect::<Vec<_>>()
        }
        // Decoded straight into the mix's format (media/opus: libopus's single-stream API).
        _ => {
            super::opus::register();
            let dec = make("tesseraopusdec", "opusdec", id)?;
            dec.set_property("plc", true);
            dec.set_property("max-errors", MAX_AUDIO_ERRORS);
            vec![make("rtpopusdepay", "opusdepay", id)?, dec, caps]
        }
    };
    let tee = make("tee", "audio-tee", id)?;
    tee.set_property("allow-not-linked", true);
    let decoded = start_chain(bin, pad, &chain, format!("ingress-audio-{id}"))?;
    super::audio_timing::follow_timestamp_steps(pad, &decoded);
    bin.add(&tee)?;
    tee.sync_state_with_parent()?;
    decoded.link(&tee.static_pad("sink").unwrap())?;
    Ok(Decoded::Audio { tee })
}
