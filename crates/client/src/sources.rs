//! What a test peer publishes: each source is a bin ending in its RTP payloader.
//!
//! Besides solid colours, tones and pre-encoded clips, a *flash* video and a *beep* audio
//! source mark the same instants on both streams, for A/V sync checks: every second (from the
//! second second on) the picture turns white and a tone sounds for 100 ms. Both follow one grid
//! anchored at the first video frame's running time, so they coincide exactly at the source.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::Context;
use gst::prelude::*;

use super::clip::{self, EncodedClip};
use super::{AudioSource, VideoSource};
use tessera_webrtc::codecs::{Codec, H264_PT, OPUS_PT, PCMA_PT, PCMU_PT, VP8_PT};

/// How often the flash/beep marks happen.
pub const MARK_PERIOD: gst::ClockTime = gst::ClockTime::from_seconds(1);
/// How long each mark lasts.
pub const MARK_LENGTH: gst::ClockTime = gst::ClockTime::from_mseconds(100);

/// The running time the marks are counted from (the first video frame's; 0 = not yet), and
/// each flash's number and capture time.
#[derive(Debug, Default)]
pub struct MarkClock(AtomicU64, std::sync::Mutex<Vec<Flash>>);

/// One flash of a [`super::VideoSource::Flash`] source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flash {
    /// Its number: periods since the first frame (the first flash is 1). The flash carries it
    /// in its picture ([`flash_code`]), so a watcher knows which flash it saw.
    pub number: u64,
    /// When its first white frame was made.
    pub at: std::time::Instant,
}

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
        self.1.lock().unwrap().iter().map(|f| f.at).collect()
    }

    /// Every flash so far, oldest first.
    pub fn flashes(&self) -> Vec<Flash> {
        self.1.lock().unwrap().clone()
    }

    /// The number of the mark running time `t` lies in, if any (never during the first period).
    fn mark(&self, t: u64) -> Option<u64> {
        let o = self.origin()?;
        let (period, since) = (MARK_PERIOD.nseconds(), t.checked_sub(o)?);
        (since >= period && since % period < MARK_LENGTH.nseconds()).then_some(since / period)
    }

    /// Whether running time `t` lies inside a mark.
    fn marked(&self, t: u64) -> bool {
        self.mark(t).is_some()
    }
}

/// Where a flash carries its code: a band across the picture from 10 % to 30 % of its height
/// (clear of the speaker border above and of the name label and badge below), cut into
/// [`CODE_CELLS`] cells; the centre, which watchers test for brightness, stays white.
pub const CODE_BAND: (f64, f64) = (0.10, 0.30);
/// Cells of the code band: 7 bits of the flash number and an even-parity bit.
pub const CODE_CELLS: u32 = 8;

/// The cells of flash `number`'s code, white (`true`) or black, left to right: bits 0–6 of
/// the number, then a parity bit that makes the count of white cells even.
pub fn flash_code(number: u64) -> [bool; CODE_CELLS as usize] {
    let mut cells = [false; CODE_CELLS as usize];
    for (bit, cell) in cells.iter_mut().take(7).enumerate() {
        *cell = number >> bit & 1 == 1;
    }
    cells[7] = cells[..7].iter().filter(|c| **c).count() % 2 == 1;
    cells
}

/// The flash number (mod 128) that `cells` carry, or `None` when the parity does not hold.
pub fn read_flash_code(cells: [bool; CODE_CELLS as usize]) -> Option<u8> {
    if cells.iter().filter(|c| **c).count() % 2 != 0 {
        return None;
    }
    Some(cells[..7].iter().enumerate().map(|(bit, c)| u8::from(*c) << bit).sum())
}

/// Where a live picture is fitted to the server's `videoConstraints` (see `constraints.rs`):
/// scaled (passthrough until told a size) and its frame rate capped (nothing dropped until
/// told a rate).
const FIT: &str = "videoscale name=fit-scale ! capsfilter name=fit ! videorate name=fit-rate drop-only=true";

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

/// Holds a peer's sources until its connection is up, as a browser sends nothing before:
/// generated ones behind their valve ([`open_gates`]), pre-encoded clips not yet replaying.
#[derive(Default)]
pub struct Gate(std::sync::Mutex<GateState>);

#[derive(Default)]
struct GateState {
    open: bool,
    waiting: Vec<Source>,
}

impl Gate {
    /// Starts `source` once the gate is open (at once if it is).
    pub fn admit(&self, source: Source) {
        let mut state = self.0.lock().unwrap();
        if state.open {
            source.started();
        } else {
            state.waiting.push(source);
        }
    }

    /// Opens the valves under `bin` and starts every source waiting.
    pub fn open(&self, bin: &gst::Bin) {
        let waiting = {
            let mut state = self.0.lock().unwrap();
            state.open = true;
            std::mem::take(&mut state.waiting)
        };
        open_gates(bin);
        for source in waiting {
            source.started();
        }
    }
}

/// A source bin, plus the clip to start replaying once it runs.
pub struct Source {
    /// The bin; its ghost `src` pad carries RTP.
    pub bin: gst::Bin,
    /// For clip sources: the appsrc, its clips (one, or a ladder's rungs) and which one plays.
    clip: Option<(gst_app::AppSrc, Vec<Arc<EncodedClip>>, Arc<AtomicUsize>)>,
}

impl Source {
    /// Starts whatever must run after the bin is linked and playing.
    pub fn started(self) {
        if let Some((appsrc, clips, rung)) = self.clip {
            clip::play_rungs(clips, rung, appsrc);
        }
    }

    /// Which rung of a ladder source plays (set it to switch).
    pub fn rung(&self) -> Option<Arc<AtomicUsize>> {
        self.clip.as_ref().map(|(_, _, rung)| rung.clone())
    }
}

fn parse(desc: &str) -> anyhow::Result<gst::Bin> {
    gst::parse::bin_from_description(desc, true).with_context(|| format!("building {desc}"))
}

fn with_clip(desc: &str, c: &Arc<EncodedClip>) -> anyhow::Result<Source> {
    with_clips(desc, vec![c.clone()], 0)
}

/// A clip source replaying `clips[first]` until told another rung.
fn with_clips(desc: &str, clips: Vec<Arc<EncodedClip>>, first: usize) -> anyhow::Result<Source> {
    let bin = parse(desc)?;
    let appsrc = bin.by_name("clip").context("clip source")?.downcast::<gst_app::AppSrc>().expect("an appsrc");
    clip::prepare(&appsrc, clips.get(first).context("no clip")?);
    Ok(Source { bin, clip: Some((appsrc, clips, Arc::new(AtomicUsize::new(first)))) })
}

/// The video source bin for `source`.
pub fn video(source: &VideoSource, marks: &Arc<MarkClock>, codec: Codec) -> anyhow::Result<Source> {
    let (encode, pay) = match codec {
        Codec::H264 => (
            "x264enc name=encoder tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max=600 bitrate=300 \
             ! video/x-h264,profile=constrained-baseline",
            format!("rtph264pay pt={H264_PT} config-interval=-1 aggregate-mode=zero-latency mtu=1200"),
        ),
        _ => (
            "vp8enc name=encoder deadline=1 cpu-used=16 threads=1 end-usage=cbr target-bitrate=300000 \
             lag-in-frames=0 keyframe-max-dist=600 error-resilient=default",
            format!("rtpvp8pay pt={VP8_PT} picture-id-mode=15-bit mtu=1200"),
        ),
    };
    let (spec, argb) = match source {
        VideoSource::Clip(c) if codec == Codec::Vp8 => return with_clip(&format!("appsrc name=clip ! {pay}"), c),
        VideoSource::Ladder(l) if codec == Codec::Vp8 => {
            return with_clips(&format!("appsrc name=clip ! {pay}"), l.rungs.clone(), l.rungs.len().saturating_sub(1));
        }
        VideoSource::Clip(_) | VideoSource::Ladder(_) => {
            anyhow::bail!("clips are VP8; a {codec} publisher sends live video")
        }
        VideoSource::Solid(v) => {
            let [r, g, b] = v.rgb;
            (v, 0xff00_0000u32 | (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b))
        }
        VideoSource::Flash(v) => (v, 0xff00_0000),
    };
    let bin = parse(&format!(
        "videotestsrc is-live=true pattern=solid-color foreground-color={argb} \
         ! video/x-raw,format=I420,width={},height={},framerate={}/1 ! identity name=mark ! {GATE} ! {FIT} ! {encode} ! {pay}",
        spec.width, spec.height, spec.fps
    ))?;
    if matches!(source, VideoSource::Flash(_)) {
        let marks = marks.clone();
        let pad = bin.by_name("mark").unwrap().static_pad("src").unwrap();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let Some(pts) = info.buffer().and_then(|b| b.pts()) else { return gst::PadProbeReturn::Ok };
            marks.set_origin(pts.nseconds());
            if let Some(number) = marks.mark(pts.nseconds()) {
                let frame = pad.current_caps().and_then(|c| gst_video::VideoInfo::from_caps(&c).ok()).map(|i| i.fps());
                let period = frame.map_or(33_333_333, |f| 1_000_000_000 * f.denom() as u64 / f.numer().max(1) as u64);
                if !marks.marked(pts.nseconds().saturating_sub(period)) {
                    marks.1.lock().unwrap().push(Flash { number, at: std::time::Instant::now() });
                }
                let caps = pad.current_caps();
                let vinfo = caps.and_then(|c| gst_video::VideoInfo::from_caps(&c).ok());
                if let (Some(vinfo), Some(buffer)) = (vinfo, info.buffer_mut()) {
                    paint_flash(buffer.make_mut(), &vinfo, number);
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
    Ok(Source { bin, clip: None })
}

/// Fills an I420 frame with studio white.
/// Paints a flash frame: white, with flash `number`'s code in the [`CODE_BAND`].
fn paint_flash(buffer: &mut gst::BufferRef, info: &gst_video::VideoInfo, number: u64) {
    let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, info) else { return };
    for (plane, value) in [(1, 128u8), (2, 128)] {
        if let Ok(data) = frame.plane_data_mut(plane) {
            data.fill(value);
        }
    }
    let (w, h, stride) = (info.width() as usize, info.height() as usize, info.stride()[0] as usize);
    let Ok(luma) = frame.plane_data_mut(0) else { return };
    luma.fill(235);
    let rows = (h as f64 * CODE_BAND.0) as usize..(h as f64 * CODE_BAND.1) as usize;
    for (i, white) in flash_code(number).into_iter().enumerate() {
        if white {
            continue;
        }
        let cols = w * i / CODE_CELLS as usize..w * (i + 1) / CODE_CELLS as usize;
        for row in rows.clone() {
            luma[row * stride + cols.start..row * stride + cols.end].fill(16);
        }
    }
}

/// The audio source bin for `source`.
pub fn audio(source: &AudioSource, marks: &Arc<MarkClock>, codec: Codec) -> anyhow::Result<Source> {
    let (encode, pay) = match codec {
        Codec::Pcmu => {
            ("audioresample ! audio/x-raw,rate=8000 ! mulawenc".to_owned(), format!("rtppcmupay pt={PCMU_PT}"))
        }
        Codec::Pcma => {
            ("audioresample ! audio/x-raw,rate=8000 ! alawenc".to_owned(), format!("rtppcmapay pt={PCMA_PT}"))
        }
        // `dtx`: an empty Opus frame (DTX, from a silent clip) is not sent, as a browser does.
        _ => ("opusenc bitrate=32000 frame-size=10".to_owned(), format!("rtpopuspay pt={OPUS_PT} dtx=true")),
    };
    let (freq, volume) = match source {
        AudioSource::Clip(c) if codec == Codec::Opus => return with_clip(&format!("appsrc name=clip ! {pay}"), c),
        AudioSource::Clip(_) => anyhow::bail!("clips are Opus; a {codec} publisher sends a live tone"),
        AudioSource::Tone(f) => (*f, 0.3),
        AudioSource::ToneAt { hz, volume } => (*hz, *volume),
        AudioSource::Beep(f) => (*f, 0.5),
    };
    let bin = parse(&format!(
        "audiotestsrc is-live=true wave=sine freq={freq} volume={volume} samplesperbuffer=480 \
         ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! identity name=mark ! {GATE} \
         ! {encode} ! {pay}"
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
    fn a_flash_is_white_with_its_code_in_the_band() {
        gst::init().unwrap();
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 320, 180).build().unwrap();
        let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
        paint_flash(buffer.get_mut().unwrap(), &info, 5);
        let frame = super::super::Frame::new(buffer, info);
        assert!(frame.rgb_at(160, 90, 4).iter().all(|c| *c > 200), "centre {:?}", frame.rgb_at(160, 90, 4));
        let band = (180.0 * (CODE_BAND.0 + CODE_BAND.1) / 2.0) as u32;
        let cells: Vec<bool> = (0..CODE_CELLS).map(|i| frame.rgb_at(20 * (2 * i + 1), band, 4)[0] > 128).collect();
        assert_eq!(cells, flash_code(5));
    }

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
