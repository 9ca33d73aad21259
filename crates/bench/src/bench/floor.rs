//! The floor: a bare `gst-launch-1.0` pipeline doing a room's media work without WebRTC.
//! N decoders of one 360p VP8 + Opus WebM file → a compositor placing them as Tessera's grid
//! does → the composite's VP8 encoder and an Opus encoder with the settings of
//! `pipelines/video-mix.txt` and `pipelines/audio-mix.txt` → sinks synced to the clock.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use gst::prelude::*;

use tessera::config::Config;
use tessera::pipelines::{OPUS_ENCODER, VP8_ENCODER};
use tessera_client::EncodedClip;
use tessera_protocol::layout::{self, Size};

/// The launch description for `publishers` inputs of `file` (each publisher's video is
/// `source` in size) with `config`'s canvas, frame rate and bitrates.
pub fn description(publishers: usize, file: &Path, source: Size, config: &Config) -> anyhow::Result<String> {
    let canvas = config.composite.canvas.0;
    let vp8enc = element(VP8_ENCODER, "vp8enc").context("no vp8enc in vp8-encoder.txt")?;
    let opusenc = stock_opusenc()?;
    let mut pads = String::new();
    let mut inputs = String::new();
    for (i, cell) in layout::grid(publishers, canvas).into_iter().enumerate() {
        let r = layout::fit(cell, source, (1, 1));
        pads +=
            &format!(" sink_{i}::xpos={} sink_{i}::ypos={} sink_{i}::width={} sink_{i}::height={}", r.x, r.y, r.w, r.h);
        inputs += &format!(
            " filesrc location={file} ! matroskademux name=d{i} \
              d{i}.video_0 ! queue ! vp8dec ! mix.sink_{i} \
              d{i}.audio_0 ! queue ! opusdec ! audioconvert ! audioresample ! amix.sink_{i}",
            file = file.display()
        );
    }
    Ok(format!(
        "compositor name=mix background=black{pads} \
         ! video/x-raw,format=I420,width={w},height={h},framerate={fps}/1,pixel-aspect-ratio=1/1 \
         ! {vp8enc} target-bitrate={vbps} \
         ! fpsdisplaysink name=fps video-sink=fakesink text-overlay=false sync=true \
         audiomixer name=amix ! audio/x-raw,format=S16LE,rate=48000,channels=1 \
         ! {opusenc} bitrate={abps} ! fakesink sync=true{inputs}",
        w = canvas.width,
        h = canvas.height,
        fps = config.composite.fps,
        vbps = config.composite.video_bitrate * 1000,
        abps = config.composite.audio_bitrate * 1000,
    ))
}

/// The room's Opus encoder settings on GStreamer's own `opusenc`: the floor is bare GStreamer.
/// `tesseraopusenc` is `opusenc audio-type=restricted-lowdelay frame-size=20` through libopus's
/// single-stream API (src/media/opus); the floor keeps the stock element and its multistream
/// calls, so the floor's audio costs what GStreamer's own elements cost.
fn stock_opusenc() -> anyhow::Result<String> {
    let ours = element(OPUS_ENCODER, "tesseraopusenc").context("no tesseraopusenc in opus-encoder.txt")?;
    Ok(ours.replacen("tesseraopusenc", "opusenc audio-type=restricted-lowdelay frame-size=20", 1))
}

/// The first element made by `factory` in a `pipelines/` fragment, without its name.
pub(super) fn element(fragment: &str, factory: &str) -> Option<String> {
    let text: String = fragment.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join(" ");
    text.split('!')
        .map(str::trim)
        .find(|e| e.split_whitespace().next() == Some(factory))
        .map(|e| e.split_whitespace().filter(|t| !t.starts_with("name=")).collect::<Vec<_>>().join(" "))
}

/// Writes `seconds` of `video` and `audio` (each looped from its start) into a WebM file.
pub fn write_webm(video: &EncodedClip, audio: &EncodedClip, seconds: u32, path: &Path) -> anyhow::Result<()> {
    let pipeline = gst::parse::launch(&format!(
        "webmmux name=mux ! filesink location={} appsrc name=v format=time ! mux.video_0 \
         appsrc name=a format=time ! mux.audio_0",
        path.display()
    ))?
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let total = Duration::from_secs(seconds.into());
    let mut feeders = Vec::new();
    for (name, clip) in [("v", video), ("a", audio)] {
        let src = pipeline.by_name(name).unwrap().downcast::<gst_app::AppSrc>().unwrap();
        src.set_caps(Some(&clip.caps));
        src.set_max_bytes(0);
        let frames: Vec<gst::Buffer> = (0..)
            .map(|i: u32| (i, clip.frame_duration * i))
            .take_while(|(_, t)| *t < total)
            .map(|(i, t)| {
                let mut b = clip.frames[i as usize % clip.frames.len()].copy();
                let b_mut = b.get_mut().unwrap();
                b_mut.set_pts(gst::ClockTime::from_nseconds(t.as_nanos() as u64));
                b_mut.set_dts(gst::ClockTime::NONE);
                b_mut.set_duration(gst::ClockTime::from_nseconds(clip.frame_duration.as_nanos() as u64));
                b
            })
            .collect();
        feeders.push((src, frames));
    }
    pipeline.set_state(gst::State::Playing)?;
    // Interleave the two streams by time, as a muxer wants them.
    for (src, frames) in &feeders {
        for b in frames {
            src.push_buffer(b.clone()).context("feeding the muxer")?;
        }
        src.end_of_stream()?;
    }
    let bus = pipeline.bus().unwrap();
    let result = match bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error])
    {
        Some(m) if m.type_() == gst::MessageType::Eos => Ok(()),
        Some(m) => Err(anyhow::anyhow!("writing {}: {m:?}", path.display())),
        None => Err(anyhow::anyhow!("writing {} timed out", path.display())),
    };
    pipeline.set_state(gst::State::Null)?;
    result
}

/// A running floor pipeline.
pub struct Floor {
    child: Child,
    /// (when, frames rendered so far) from fpsdisplaysink's reports.
    rendered: Arc<Mutex<Vec<(Instant, u64)>>>,
}

impl Floor {
    /// Starts `gst-launch-1.0` with `description`.
    pub fn start(description: &str, log: PathBuf) -> anyhow::Result<Self> {
        let mut child = crate::loadgen::child::die_with_parent(&mut Command::new("gst-launch-1.0"))
            .arg("-v")
            .args(description.split_whitespace())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting gst-launch-1.0")?;
        let stdout = child.stdout.take().unwrap();
        let rendered = Arc::new(Mutex::new(Vec::new()));
        let sink = rendered.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // ".../GstFPSDisplaySink:fps: last-message = rendered: 152, dropped: 0, current: 30.00, average: 30.00"
                let count = line.split("rendered: ").nth(1).and_then(|r| r.split(',').next()?.trim().parse().ok());
                if let Some(count) = count {
                    sink.lock().unwrap().push((Instant::now(), count));
                }
            }
        });
        Ok(Self { child, rendered })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Frames per second rendered between `from` and `to`; fails when the pipeline stopped.
    pub fn fps(&mut self, from: Instant, to: Instant) -> anyhow::Result<f64> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the floor pipeline exited: {status}");
        }
        let r = self.rendered.lock().unwrap();
        let first = r.iter().find(|(t, _)| *t >= from);
        let last = r.iter().rev().find(|(t, _)| *t <= to);
        match (first, last) {
            (Some(a), Some(b)) if b.0 > a.0 => Ok((b.1 - a.1) as f64 / b.0.duration_since(a.0).as_secs_f64()),
            _ => bail!("the floor pipeline reported no frame counts"),
        }
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The floor with `n` publishers of `file`: its CPU, memory and frame rate over the plan's window.
pub(super) fn measure(n: usize, file: &Path, plan: &super::Plan, dir: &Path) -> anyhow::Result<super::FloorRun> {
    let desc =
        description(n, file, tessera_protocol::layout::Size::new(640, 360), &tessera::config::Config::default())?;
    let mut floor = Floor::start(&desc, dir.join(format!("floor-{n}.log")))?;
    std::thread::sleep(Duration::from_secs(plan.warmup));
    let (t0, s0) = (Instant::now(), crate::loadgen::ProcSample::read(Some(floor.pid()))?);
    std::thread::sleep(Duration::from_secs(plan.window));
    let (t1, s1) = (Instant::now(), crate::loadgen::ProcSample::read(Some(floor.pid()))?);
    let secs = t1.duration_since(t0).as_secs_f64();
    Ok(super::FloorRun {
        publishers: n,
        cpu_cores: s0.cores_until(&s1, secs),
        rss_mib: s1.rss_mib,
        fps: floor.fps(t0, t1)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_settings_come_from_the_fragments() {
        let vp8 = element(VP8_ENCODER, "vp8enc").unwrap();
        assert!(vp8.starts_with("vp8enc deadline=1 cpu-used=-6 threads=1") && !vp8.contains("name="), "{vp8}");
        assert!(!vp8.contains("tee"), "{vp8}");
        let opus = stock_opusenc().unwrap();
        assert!(opus.starts_with("opusenc audio-type=restricted-lowdelay frame-size=20 packet-loss"), "{opus}");
        assert!(element(VP8_ENCODER, "nonexistent").is_none());
    }

    #[test]
    fn the_floor_pipeline_parses() {
        gst::init().unwrap();
        let desc = description(4, Path::new("/nonexistent.webm"), Size::new(640, 360), &Config::default()).unwrap();
        assert!(desc.contains("sink_3::xpos=640 sink_3::ypos=360 sink_3::width=640 sink_3::height=360"), "{desc}");
        gst::parse::launch(&desc).unwrap();
    }
}
