//! Pre-encoded media for load generation: encode a clip once, then replay it into any number
//! of peers at real-time pace, so publishers cost almost nothing to simulate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use gst::prelude::*;

/// An encoded elementary stream held in memory.
#[derive(Debug)]
pub struct EncodedClip {
    /// Caps of the encoded stream (`video/x-vp8` or `audio/x-opus`).
    pub caps: gst::Caps,
    /// The encoded frames in order; frame 0 is a keyframe.
    pub frames: Vec<gst::Buffer>,
    /// Duration of one frame.
    pub frame_duration: Duration,
}

impl EncodedClip {
    /// `seconds` of colour bars scrolling sideways (every macroblock changes, like a moving
    /// camera) at `width`x`height`@`fps`, VP8 at `kbps`, with a single keyframe at the start
    /// (a loop restarts on it).
    pub fn vp8(width: u32, height: u32, fps: u32, seconds: u32, kbps: u32) -> anyhow::Result<Arc<Self>> {
        let desc = format!(
            "videotestsrc pattern=smpte horizontal-speed=4 num-buffers={} ! video/x-raw,format=I420,width={width},height={height},framerate={fps}/1 \
             ! vp8enc deadline=1 cpu-used=4 threads=2 end-usage=cbr target-bitrate={} lag-in-frames=0 \
               keyframe-max-dist=100000 error-resilient=default ! appsink name=sink sync=false",
            fps * seconds,
            kbps * 1000
        );
        Self::encode(&desc, Duration::from_secs(1) / fps)
    }

    /// `seconds` of a sine tone at `freq` Hz, Opus in 20 ms frames.
    pub fn opus(freq: f64, seconds: u32) -> anyhow::Result<Arc<Self>> {
        let desc = format!(
            "audiotestsrc wave=sine freq={freq} volume=0.3 samplesperbuffer=960 num-buffers={} \
             ! audio/x-raw,rate=48000,channels=1 ! opusenc bitrate=32000 frame-size=20 ! appsink name=sink sync=false",
            seconds * 50
        );
        Self::encode(&desc, Duration::from_millis(20))
    }

    /// `seconds` of a talker who pauses: each second, `freq` Hz for 500 ms (at -10 dBFS),
    /// then silence, Opus in 20 ms frames with DTX (see [`Self::opus_silent`]): the last
    /// 300 ms of each pause are not sent at all.
    pub fn opus_bursts(freq: f64, seconds: u32) -> anyhow::Result<Arc<Self>> {
        let periods = (freq / 2.0).round() as u32;
        let desc = format!(
            "audiotestsrc wave=ticks freq={freq} sine-periods-per-tick={periods} tick-interval=1000000000 volume=0.3 \
             samplesperbuffer=960 num-buffers={} ! audio/x-raw,rate=48000,channels=1 \
             ! opusenc bitrate=32000 frame-size=20 dtx=true ! appsink name=sink sync=false",
            seconds * 50
        );
        Self::encode(&desc, Duration::from_millis(20))
    }

    /// `seconds` of silence, Opus in 20 ms frames with DTX: a participant who listens, as a
    /// browser sends it when the other side's SDP asks for DTX (`usedtx=1`, as Tessera's
    /// offer does). After the first 200 ms, one frame in 20 carries comfort noise (3 bytes);
    /// the others are empty (1 byte), and the payloader does not send those (`dtx=true`).
    pub fn opus_silent(seconds: u32) -> anyhow::Result<Arc<Self>> {
        let desc = format!(
            "audiotestsrc wave=silence samplesperbuffer=960 num-buffers={} \
             ! audio/x-raw,rate=48000,channels=1 ! opusenc bitrate=32000 frame-size=20 dtx=true \
             ! appsink name=sink sync=false",
            seconds * 50
        );
        Self::encode(&desc, Duration::from_millis(20))
    }

    fn encode(desc: &str, frame_duration: Duration) -> anyhow::Result<Arc<Self>> {
        gst::init()?;
        let pipeline = gst::parse::launch(desc)?.downcast::<gst::Pipeline>().expect("a pipeline");
        let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
        pipeline.set_state(gst::State::Playing)?;
        let mut frames = Vec::new();
        let mut caps = None;
        while let Ok(sample) = sink.pull_sample() {
            caps = caps.or_else(|| sample.caps_owned());
            frames.push(sample.buffer_owned().context("sample without buffer")?);
        }
        pipeline.set_state(gst::State::Null)?;
        if frames.is_empty() {
            bail!("encoding produced nothing: {desc}");
        }
        Ok(Arc::new(Self { caps: caps.context("no caps")?, frames, frame_duration }))
    }
}

impl EncodedClip {
    /// The picture size its caps give (video clips).
    pub fn size(&self) -> Option<(u32, u32)> {
        let s = self.caps.structure(0)?;
        Some((s.get::<i32>("width").ok()? as u32, s.get::<i32>("height").ok()? as u32))
    }
}

/// One scene pre-encoded at several sizes, smallest first: a publisher following the server's
/// `videoConstraints` replays the smallest that still fills its tile, as a browser scales its
/// camera down (`scaleResolutionDownBy`).
#[derive(Debug)]
pub struct ClipLadder {
    /// The clips, smallest first.
    pub rungs: Vec<Arc<EncodedClip>>,
}

impl ClipLadder {
    /// [`EncodedClip::vp8`] at each of `sizes` (any order), each at `kbps` scaled from the
    /// largest by its share of the area to the power 0.75 (as the server scales `maxBitrate`).
    pub fn vp8(sizes: &[(u32, u32)], fps: u32, seconds: u32, kbps: u32) -> anyhow::Result<Arc<Self>> {
        let mut sizes = sizes.to_vec();
        sizes.sort_by_key(|(w, h)| w * h);
        let &(w, h) = sizes.last().context("a ladder needs a size")?;
        let largest = f64::from(w * h);
        let rungs = sizes
            .iter()
            .map(|&(rw, rh)| {
                let rate = f64::from(kbps) * (f64::from(rw * rh) / largest).powf(0.75);
                EncodedClip::vp8(rw, rh, fps, seconds, rate.round() as u32)
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Arc::new(Self { rungs }))
    }

    /// The rung to replay under `c`: the smallest whose picture is at least what the largest
    /// one scales to in `c`'s box; the largest when nothing else is.
    pub fn rung_for(&self, c: &tessera_protocol::VideoConstraints) -> usize {
        let top = self.rungs.len().saturating_sub(1);
        let Some((w, h)) = self.rungs.get(top).and_then(|r| r.size()) else { return top };
        let need = c.fit(tessera_protocol::layout::Size::new(w, h));
        self.rungs
            .iter()
            .position(|r| r.size().is_some_and(|(rw, rh)| rw >= need.width && rh >= need.height))
            .unwrap_or(top)
    }
}

/// Configures `appsrc` for `clip`: caps, time format, live, timestamped on push. Call before
/// the appsrc leaves the NULL state; these are read when it starts.
pub fn prepare(appsrc: &gst_app::AppSrc, clip: &EncodedClip) {
    appsrc.set_caps(Some(&clip.caps));
    appsrc.set_format(gst::Format::Time);
    appsrc.set_is_live(true);
    appsrc.set_do_timestamp(true);
}

/// Replays a clip into a [`prepare`]d, started `appsrc` from its own thread until the appsrc
/// goes away. An upstream keyframe request (PLI from the server) restarts the clip at its
/// keyframe.
///
/// The clip played is the one `rung` names among `clips`: when `rung` changes, the replay goes
/// on from the new clip's keyframe, with its caps.
pub fn play_rungs(clips: Vec<Arc<EncodedClip>>, rung: Arc<AtomicUsize>, appsrc: gst_app::AppSrc) {
    let restart = Arc::new(AtomicBool::new(false));
    let flag = restart.clone();
    appsrc.static_pad("src").unwrap().add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
        if let Some(gst::PadProbeData::Event(ev)) = &info.data
            && gst_video::UpstreamForceKeyUnitEvent::parse(ev).is_ok()
        {
            flag.store(true, Ordering::Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
    let weak = appsrc.downgrade();
    drop(appsrc);
    std::thread::Builder::new()
        .name("clip-player".into())
        .spawn(move || {
            let start = Instant::now();
            let (mut index, mut playing) = (0usize, rung.load(Ordering::Relaxed).min(clips.len() - 1));
            // The running time of the first frame: the others are stamped on the schedule from
            // it, as a capture clock stamps a camera's or a microphone's frames.
            let mut first: Option<gst::ClockTime> = None;
            for tick in 1u32.. {
                let Some(src) = weak.upgrade() else { return };
                if restart.swap(false, Ordering::Relaxed) {
                    index = 0;
                }
                let wanted = rung.load(Ordering::Relaxed).min(clips.len() - 1);
                if wanted != playing {
                    playing = wanted;
                    src.set_caps(Some(&clips[playing].caps));
                    index = 0;
                }
                let clip = &clips[playing];
                let mut buffer = clip.frames[index % clip.frames.len()].copy();
                // Stamped on the schedule, not when this thread got to push it: a push late by a
                // busy machine then arrives late, as a packet delayed on the network does, instead
                // of claiming a later capture time (a timestamp step the server follows, cutting
                // 10–20 ms out of the talker's audio: `tests/scenarios/dtx.rs`). Before the clock
                // runs, the appsrc stamps it when pushed (`do-timestamp`). The clip's own DTS goes:
                // it made every packet claim a capture time up to seconds off, and the receivers'
                // lip sync delayed the other stream to match.
                if first.is_none() {
                    first = src.current_running_time();
                }
                let b = buffer.get_mut().unwrap();
                b.set_pts(
                    first.map(|t| {
                        t + gst::ClockTime::from_nseconds((clip.frame_duration * (tick - 1)).as_nanos() as u64)
                    }),
                );
                b.set_dts(gst::ClockTime::NONE);
                if src.push_buffer(buffer).is_err() {
                    return;
                }
                drop(src);
                index += 1;
                let due = start + clip.frame_duration * tick;
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        })
        .expect("spawning clip player");
}
