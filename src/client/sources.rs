//! What a test peer publishes: each source is a bin ending in its RTP payloader.
//!
//! Besides solid colours, tones and pre-encoded clips, a *flash* video and a *beep* audio
//! source mark the same instants on both streams, for A/V sync checks: every second (from the
//! second second on) the picture turns white and a tone sounds for 100 ms. Both follow one grid
//! anchored at the first video frame's running time, so they coincide exactly at the source.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use gst::prelude::*;

use super::clip::{self, EncodedClip};
use super::{AudioSource, VideoSource};
use crate::media::codecs::{OPUS_PT, VP8_PT};

/// How often the flash/beep marks happen.
pub const MARK_PERIOD: gst::ClockTime = gst::ClockTime::from_seconds(1);
/// How long each mark lasts.
pub const MARK_LENGTH: gst::ClockTime = gst::ClockTime::from_mseconds(100);

/// The running time the marks are counted from (the first video frame's; 0 = not yet), and
/// when each flash was captured.
#[derive(Debug, Default)]
pub struct MarkClock(AtomicU64, std::sync::Mutex<Vec<std::time::Instant>>);

impl MarkClock {
    fn origin(&self) -> Option<u64> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            t => Some(t - 1),
        }
    }

    fn set_origin(&self, pts: u64) {
        let _ = self.0.compare_exchange(0, pts + 1, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// When each flash's first white frame was made (capture time, for latency).
    pub fn flash_times(&self) -> Vec<std::time::Instant> {
        self.1.lock().unwrap().clone()
    }

    /// Whether running time `t` lies inside a mark (never during the first period).
    fn marked(&self, t: u64) -> bool {
        self.origin().is_some_and(|o| {
            t >= o + MARK_PERIOD.nseconds() && (t - o) % MARK_PERIOD.nseconds() < MARK_LENGTH.nseconds()
        })
    }
}

/// Holds a generated source's raw media until the connection is up (see [`open_gates`]).
const GATE: &str = "valve name=gate drop=true drop-mode=forward-sticky-events";

/// Lets the generated sources under `bin` through to their encoders.
///
/// A test peer's sources run from its answer, while webrtcbin holds RTP back until DTLS is up
/// and then sends the backlog in a burst. Browsers send nothing before that, and a burst is
/// not what a receiver sees from them: its jitter buffer then spends seconds learning the
/// stream's timing, moving audio and video apart by tens of ms at a time. So the raw media is
/// dropped until the connection is up, and each encoder's first frame (a keyframe) is captured
/// when it can be sent.
pub fn open_gates(bin: &gst::Bin) {
    for element in bin.iterate_recurse().into_iter().flatten() {
        if element.name() == "gate" && element.has_property("drop") {
            element.set_property("drop", false);
        }
    }
}

/// A source bin, plus the clip to start replaying once it runs.
pub struct Source {
    /// The bin; its ghost `src` pad carries RTP.
    pub bin: gst::Bin,
    /// For clip sources: the appsrc and its clip.
    clip: Option<(gst_app::AppSrc, Arc<EncodedClip>)>,
}

impl Source {
    /// Starts whatever must run after the bin is linked and playing.
    pub fn started(self) {
        if let Some((appsrc, c)) = self.clip {
            clip::play(c, appsrc);
        }
    }
}

fn parse(desc: &str) -> anyhow::Result<gst::Bin> {
    gst::parse::bin_from_description(desc, true).with_context(|| format!("building {desc}"))
}

fn with_clip(desc: &str, c: &Arc<EncodedClip>) -> anyhow::Result<Source> {
    let bin = parse(desc)?;
    let appsrc = bin.by_name("clip").context("clip source")?.downcast::<gst_app::AppSrc>().expect("an appsrc");
    clip::prepare(&appsrc, c);
    Ok(Source { bin, clip: Some((appsrc, c.clone())) })
}

/// The video source bin for `source`.
pub fn video(source: &VideoSource, marks: &Arc<MarkClock>) -> anyhow::Result<Source> {
    let pay = format!("rtpvp8pay pt={VP8_PT} picture-id-mode=15-bit mtu=1200");
    let encode = "vp8enc deadline=1 cpu-used=16 threads=1 end-usage=cbr target-bitrate=300000 \
                  lag-in-frames=0 keyframe-max-dist=600 error-resilient=default";
    let (spec, argb) = match source {
        VideoSource::Clip(c) => return with_clip(&format!("appsrc name=clip ! {pay}"), c),
        VideoSource::Solid(v) => {
            let [r, g, b] = v.rgb;
            (v, 0xff00_0000u32 | (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b))
        }
        VideoSource::Flash(v) => (v, 0xff00_0000),
    };
    let bin = parse(&format!(
        "videotestsrc is-live=true pattern=solid-color foreground-color={argb} \
         ! video/x-raw,format=I420,width={},height={},framerate={}/1 ! identity name=mark ! {GATE} ! {encode} ! {pay}",
        spec.width, spec.height, spec.fps
    ))?;
    if matches!(source, VideoSource::Flash(_)) {
        let marks = marks.clone();
        let pad = bin.by_name("mark").unwrap().static_pad("src").unwrap();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let Some(pts) = info.buffer().and_then(|b| b.pts()) else { return gst::PadProbeReturn::Ok };
            marks.set_origin(pts.nseconds());
            if marks.marked(pts.nseconds()) {
                let frame = pad.current_caps().and_then(|c| gst_video::VideoInfo::from_caps(&c).ok()).map(|i| i.fps());
                let period = frame.map_or(33_333_333, |f| 1_000_000_000 * f.denom() as u64 / f.numer().max(1) as u64);
                if !marks.marked(pts.nseconds().saturating_sub(period)) {
                    marks.1.lock().unwrap().push(std::time::Instant::now());
                }
                let caps = pad.current_caps();
                let vinfo = caps.and_then(|c| gst_video::VideoInfo::from_caps(&c).ok());
                if let (Some(vinfo), Some(buffer)) = (vinfo, info.buffer_mut()) {
                    paint_white(buffer.make_mut(), &vinfo);
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
    Ok(Source { bin, clip: None })
}

/// Fills an I420 frame with studio white.
fn paint_white(buffer: &mut gst::BufferRef, info: &gst_video::VideoInfo) {
    if let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, info) {
        for (plane, value) in [(0, 235u8), (1, 128), (2, 128)] {
            if let Ok(data) = frame.plane_data_mut(plane) {
                data.fill(value);
            }
        }
    }
}

/// The audio source bin for `source`.
pub fn audio(source: &AudioSource, marks: &Arc<MarkClock>) -> anyhow::Result<Source> {
    let pay = format!("rtpopuspay pt={OPUS_PT}");
    let (freq, volume) = match source {
        AudioSource::Clip(c) => return with_clip(&format!("appsrc name=clip ! {pay}"), c),
        AudioSource::Tone(f) => (*f, 0.3),
        AudioSource::ToneAt { hz, volume } => (*hz, *volume),
        AudioSource::Beep(f) => (*f, 0.5),
    };
    let bin = parse(&format!(
        "audiotestsrc is-live=true wave=sine freq={freq} volume={volume} samplesperbuffer=480 \
         ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! identity name=mark ! {GATE} \
         ! opusenc bitrate=32000 frame-size=10 ! {pay}"
    ))?;
    if matches!(source, AudioSource::Beep(_)) {
        let marks = marks.clone();
        let pad = bin.by_name("mark").unwrap().static_pad("src").unwrap();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let Some(buffer) = info.buffer_mut() else { return gst::PadProbeReturn::Ok };
            let Some(pts) = buffer.pts() else { return gst::PadProbeReturn::Ok };
            let buffer = buffer.make_mut();
            if let Ok(mut map) = buffer.map_writable() {
                // Silence outside the marks, sample by sample.
                for (i, sample) in map.chunks_exact_mut(2).enumerate() {
                    let t = pts.nseconds() + i as u64 * 1_000_000_000 / 48_000;
                    if !marks.marked(t) {
                        sample.copy_from_slice(&[0, 0]);
                    }
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
    Ok(Source { bin, clip: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_fall_on_whole_seconds_after_the_first() {
        let marks = MarkClock::default();
        assert!(!marks.marked(5_000_000_000), "no origin yet");
        marks.set_origin(2_000_000_000);
        marks.set_origin(9_000_000_000); // the first frame wins
        assert!(!marks.marked(2_050_000_000), "not during the first period");
        assert!(marks.marked(3_000_000_000));
        assert!(marks.marked(3_099_000_000));
        assert!(!marks.marked(3_100_000_000));
        assert!(marks.marked(7_050_000_000));
        assert!(!marks.marked(7_500_000_000));
    }
}
