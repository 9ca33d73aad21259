//! Pre-encoded media for load generation: encode a clip once, then replay it into any number
//! of peers at real-time pace, so publishers cost almost nothing to simulate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

    /// `seconds` of silence, Opus in 20 ms frames: a participant who listens.
    pub fn opus_silent(seconds: u32) -> anyhow::Result<Arc<Self>> {
        let desc = format!(
            "audiotestsrc wave=silence samplesperbuffer=960 num-buffers={} \
             ! audio/x-raw,rate=48000,channels=1 ! opusenc bitrate=32000 frame-size=20 ! appsink name=sink sync=false",
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
pub fn play(clip: Arc<EncodedClip>, appsrc: gst_app::AppSrc) {
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
            let mut index = 0usize;
            for tick in 1u32.. {
                let Some(src) = weak.upgrade() else { return };
                if restart.swap(false, Ordering::Relaxed) {
                    index = 0;
                }
                let mut buffer = clip.frames[index % clip.frames.len()].copy();
                // The appsrc stamps it with the running time of its push (`do-timestamp`), but only
                // where no timestamp is left: a DTS kept from the clip's own encode made every packet
                // claim a capture time up to seconds off, and the receivers' lip sync delayed the
                // other stream to match.
                let b = buffer.get_mut().unwrap();
                b.set_pts(gst::ClockTime::NONE);
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
