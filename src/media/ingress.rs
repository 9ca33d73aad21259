//! Ingress: a publisher's incoming RTP stream → decoded raw video or audio.
//!
//! Built inside the publisher's bin when webrtcbin exposes a receive pad. Decoding runs in the
//! jitter buffer's streaming thread, so each publisher decodes on its own thread.

use anyhow::Context;
use gst::prelude::*;

use super::codecs::MIX_AUDIO_CAPS;
use crate::ids::ParticipantId;

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

/// What kind of stream a webrtcbin receive pad carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// VP8 video.
    Vp8,
    /// Opus audio.
    Opus,
}

/// Classifies a receive pad by its caps (negotiated, or else queried), with a description for
/// error messages when it is not a kind we decode.
pub fn classify(pad: &gst::Pad) -> Result<StreamKind, String> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let s = caps.structure(0).ok_or("a stream without caps")?;
    let media = s.get::<&str>("media").unwrap_or("?");
    let encoding = s.get::<&str>("encoding-name").unwrap_or("?").to_ascii_uppercase();
    match (media, encoding.as_str()) {
        ("video", "VP8") => Ok(StreamKind::Vp8),
        ("audio", "OPUS") => Ok(StreamKind::Opus),
        _ => Err(format!("an unsupported {media}/{encoding} stream")),
    }
}

/// Builds the decode chain for `pad` (a webrtcbin receive pad of `kind`) inside `bin`, links it
/// and starts it. The caller unblocks `pad` afterwards.
pub fn build(bin: &gst::Bin, id: ParticipantId, pad: &gst::Pad, kind: StreamKind) -> anyhow::Result<Decoded> {
    match kind {
        StreamKind::Vp8 => vp8(bin, id, pad),
        StreamKind::Opus => opus(bin, id, pad),
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
    let sink = gst::GhostPad::builder_with_target(&chain[0].static_pad("sink").unwrap())?
        .name("sink")
        .chain_function(move |pad, parent, buffer| super::ghost::chain_absorbing(pad, parent, buffer, &warned, &name))
        .build();
    sub.add_pad(&sink)?;
    let src = gst::GhostPad::with_target(&chain[chain.len() - 1].static_pad("src").unwrap())?;
    sub.add_pad(&src)?;
    bin.add(&sub)?;
    sub.sync_state_with_parent()?;
    pad.link(&sink)?;
    Ok(src)
}

fn vp8(bin: &gst::Bin, id: ParticipantId, pad: &gst::Pad) -> anyhow::Result<Decoded> {
    let depay = make("rtpvp8depay", "vp8depay", id)?;
    depay.set_property("request-keyframe", true);
    depay.set_property("wait-for-keyframe", true);
    let dec = make("vp8dec", "vp8dec", id)?;
    dec.set_property("max-errors", MAX_VIDEO_ERRORS);
    // VP8 is BT.601 whatever the resolution; 1.22's vp8dec labels HD as BT.709, which would
    // make the compositor convert colour matrices on every frame.
    let colour = make("capssetter", "colorimetry", id)?;
    colour.set_property("caps", gst::Caps::builder("video/x-raw").field("colorimetry", "bt601").build());
    let decoded = start_chain(bin, pad, &[depay, dec, colour], format!("ingress-video-{id}"))?;
    let what = format!("{id}'s video into the compositor");
    let src = super::ghost::expose_isolated(bin, decoded.upcast_ref(), "video_out", what)?;
    Ok(Decoded::Video { src })
}

fn opus(bin: &gst::Bin, id: ParticipantId, pad: &gst::Pad) -> anyhow::Result<Decoded> {
    let depay = make("rtpopusdepay", "opusdepay", id)?;
    let dec = make("opusdec", "opusdec", id)?;
    dec.set_property("plc", true);
    dec.set_property("use-inband-fec", true);
    dec.set_property("max-errors", MAX_AUDIO_ERRORS);
    let convert = make("audioconvert", "audioconvert", id)?;
    let resample = make("audioresample", "audioresample", id)?;
    let caps = make("capsfilter", "audiocaps", id)?;
    caps.set_property("caps", MIX_AUDIO_CAPS.parse::<gst::Caps>()?);
    let tee = make("tee", "audio-tee", id)?;
    tee.set_property("allow-not-linked", true);
    let decoded = start_chain(bin, pad, &[depay, dec, convert, resample, caps], format!("ingress-audio-{id}"))?;
    follow_timestamp_steps(pad, &decoded);
    bin.add(&tee)?;
    tee.sync_state_with_parent()?;
    decoded.link(&tee.static_pad("sink").unwrap())?;
    Ok(Decoded::Audio { tee })
}

/// How long a new audio stream's timestamps are followed closely: the jitter buffer learns the
/// sender's timing (clock skew against the arrival times) over its first seconds.
const LEARNING: gst::ClockTime = gst::ClockTime::from_seconds(10);
/// While learning, how far (ms) the timestamps may move from a contiguous stream before the
/// mixers follow them.
const LEARNING_TOLERANCE_MS: i64 = 10;

/// Makes the mixers follow the timestamps of this publisher's audio where they move for lip
/// sync, as the compositor follows its video's.
///
/// `audiomixer` places each input's buffers back to back and ignores a timestamp that moved
/// by less than its alignment threshold (40 ms) for good, and by more for `discont-wait`
/// (1 s), so that ordinary jitter never makes it skip or repeat audio. But a new stream's
/// timestamps move on purpose, and the compositor follows the video's at once:
/// - When RTCP sender reports arrive, rtpbin lines up audio and video by changing one jitter
///   buffer's `ts-offset`, a step of up to a few hundred ms; the jitter buffer flags the first
///   packet after it `RESYNC` (depayloader and decoder drop that flag).
/// - In its first seconds the jitter buffer learns the sender's timing: when the first packets
///   came in a burst (as when a sender's media waited for DTLS), it maps the stream up to about
///   150 ms earlier over a second or two.
///
/// Measured before this: up to 150 ms between a flash and its beep in a publisher's first
/// seconds (`tests/scenarios/recording_av_sync.rs`). Marking a decoded buffer `DISCONT` makes
/// every mixer resync this one input at once. That is done for the packet after each `RESYNC`
/// one (rtpbin sets `ts-offset` on several streams in turn, and one packet may leave between
/// two settings with an offset that is gone the next moment), and during [`LEARNING`] for a
/// buffer that, like its predecessor, lies more than [`LEARNING_TOLERANCE_MS`] off where the
/// mixers expect it, and by about the same amount. Steady jitter afterwards never resyncs the
/// input. The packets and their decoded buffers pass on one streaming thread, in order.
fn follow_timestamp_steps(rtp: &gst::Pad, decoded: &gst::GhostPad) {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let stepped = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stepped.clone();
    let after_resync = AtomicBool::new(false);
    rtp.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if info.buffer().is_some_and(|b| b.flags().contains(gst::BufferFlags::RESYNC)) {
            after_resync.store(true, Relaxed);
        } else if after_resync.swap(false, Relaxed) {
            flag.store(true, Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
    let follow = std::sync::Mutex::new(Follow::default());
    decoded.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let Some(buffer) = info.buffer_mut() else { return gst::PadProbeReturn::Ok };
        let (Some(pts), Some(duration)) = (buffer.pts(), buffer.duration()) else { return gst::PadProbeReturn::Ok };
        if follow.lock().unwrap().resync(pts, duration, stepped.swap(false, Relaxed)) {
            buffer.make_mut().set_flags(gst::BufferFlags::DISCONT);
        }
        gst::PadProbeReturn::Ok
    });
}

/// Where the mixers place a stream: back to back since its last resync.
#[derive(Debug, Default)]
struct Follow {
    /// The stream's first timestamp.
    first: Option<gst::ClockTime>,
    /// Where the mixers expect the next buffer.
    expected: Option<gst::ClockTime>,
    /// How far (ns) the previous buffer lay off where it was expected.
    previous_off: i64,
}

impl Follow {
    /// Whether the mixers must resync at the buffer `pts..pts + duration`: `stepped` (after a
    /// lip-sync step), or a confirmed move while learning.
    fn resync(&mut self, pts: gst::ClockTime, duration: gst::ClockTime, stepped: bool) -> bool {
        let first = *self.first.get_or_insert(pts);
        let expected = self.expected.unwrap_or(pts);
        let off = pts.nseconds() as i64 - expected.nseconds() as i64;
        let tolerance = LEARNING_TOLERANCE_MS * 1_000_000;
        let confirmed = pts.saturating_sub(first) < LEARNING
            && off.abs() > tolerance
            && self.previous_off.abs() > tolerance
            && off.signum() == self.previous_off.signum()
            && (off - self.previous_off).abs() < tolerance;
        let resync = stepped || confirmed;
        self.expected = Some(if resync { pts } else { expected } + duration);
        self.previous_off = if resync { 0 } else { off };
        resync
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: gst::ClockTime = gst::ClockTime::MSECOND;

    /// Feeds 10 ms buffers whose timestamps move by `step(i)` ms each; returns the indices
    /// resynced and the largest distance (ms) between a buffer and where it was mixed.
    fn run(n: u64, start: u64, step: impl Fn(u64) -> f64, stepped: impl Fn(u64) -> bool) -> (Vec<u64>, f64) {
        let mut f = Follow::default();
        let (mut pts, mut mixed, mut resyncs, mut worst) = (start as f64, start as f64, Vec::new(), 0f64);
        for i in 0..n {
            pts += 10.0 + step(i);
            mixed += 10.0;
            let t = gst::ClockTime::from_nseconds((pts * 1e6) as u64);
            if f.resync(t, 10 * MS, stepped(i)) {
                resyncs.push(i);
                mixed = pts;
            }
            worst = worst.max((pts - mixed).abs());
        }
        (resyncs, worst)
    }

    #[test]
    fn a_learning_stream_is_followed_within_the_tolerance() {
        // The jitter buffer maps 100 ms earlier over 40 buffers, as measured after a burst.
        let (resyncs, worst) = run(300, 1000, |i| if (10..50).contains(&i) { -2.5 } else { 0.0 }, |_| false);
        assert!((5..=9).contains(&resyncs.len()), "{resyncs:?}");
        assert!(worst <= 15.0, "mixed up to {worst} ms off");
    }

    #[test]
    fn a_lone_odd_timestamp_is_not_followed() {
        // One buffer 778 ms off (rtpbin between two ts-offset settings), the rest in line.
        let (resyncs, _) = run(
            100,
            1000,
            |i| match i {
                20 => 778.0,
                21 => -778.0,
                _ => 0.0,
            },
            |_| false,
        );
        assert_eq!(resyncs, Vec::<u64>::new());
    }

    #[test]
    fn lip_sync_steps_are_followed_at_once_and_only_they_after_learning() {
        // 20 s of 10 ms buffers drifting 3 ms a second for 9 s, then 8 ms more at 12 s (after
        // learning: left to the mixer), and a 27 ms lip-sync step at 15 s, flagged.
        let step = |i| match i {
            0..900 => 0.03,
            1200 => 8.0,
            1500 => 27.0,
            _ => 0.0,
        };
        let (resyncs, worst) = run(2000, 1000, step, |i| i == 1501);
        println!("resynced at {resyncs:?}, mixed up to {worst:.1} ms off");
        assert!(resyncs.iter().any(|i| *i < 900), "the learning drift is followed: {resyncs:?}");
        assert_eq!(resyncs.iter().filter(|i| **i >= 900).copied().collect::<Vec<_>>(), vec![1501]);
        assert!(worst < 10.0 + 8.0 + 27.0 + 0.1, "{worst}");
    }
}
