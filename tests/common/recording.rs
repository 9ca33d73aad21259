//! Checking recordings with real tools: the GStreamer Discoverer, and decoding the file back
//! to frames and samples.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use gst::prelude::*;
use gst_pbutils::prelude::*;
use tessera::client::Frame;

/// What the Discoverer says about a file.
#[derive(Debug)]
pub struct Discovered {
    pub duration: Option<Duration>,
    pub video: Vec<String>,
    pub audio: Vec<String>,
}

/// Runs the GStreamer Discoverer on `path`.
pub fn discover(path: &Path) -> anyhow::Result<Discovered> {
    gst::init()?;
    let discoverer = gst_pbutils::Discoverer::new(gst::ClockTime::from_seconds(10))?;
    let uri = gst::glib::filename_to_uri(path, None)?;
    let info = discoverer.discover_uri(&uri).with_context(|| format!("discovering {}", path.display()))?;
    let codec = |s: &gst_pbutils::DiscovererStreamInfo| {
        s.caps().and_then(|c| c.structure(0).map(|st| st.name().to_string())).unwrap_or_default()
    };
    Ok(Discovered {
        duration: info.duration().map(|d| Duration::from_nanos(d.nseconds())),
        video: info.video_streams().iter().map(|s| codec(s.upcast_ref())).collect(),
        audio: info.audio_streams().iter().map(|s| codec(s.upcast_ref())).collect(),
    })
}

/// Decoded audio: 48 kHz mono chunks, each with its own timestamp.
pub struct Audio {
    pub chunks: Vec<(Duration, Vec<i16>)>,
}

impl Audio {
    /// All samples back to back (for tone measurements).
    pub fn samples(&self) -> Vec<i16> {
        self.chunks.iter().flat_map(|(_, c)| c.iter().copied()).collect()
    }

    /// Every sample with its own time (chunk timestamp + position).
    pub fn timed(&self) -> impl Iterator<Item = (Duration, i16)> + '_ {
        self.chunks.iter().flat_map(|(t, c)| {
            c.iter().enumerate().map(move |(i, s)| (*t + Duration::from_nanos(i as u64 * 1_000_000_000 / 48_000), *s))
        })
    }
}

/// Decodes a WebM file: every video frame goes to `on_frame` with its timestamp; returns the
/// audio.
pub fn decode(path: &Path, mut on_frame: impl FnMut(Duration, &Frame)) -> anyhow::Result<Audio> {
    gst::init()?;
    let desc = format!(
        "filesrc location={} ! matroskademux name=d \
         d.video_0 ! queue ! vp8dec ! appsink name=v sync=false caps=video/x-raw,format=I420 \
         d.audio_0 ! queue ! opusdec ! audioconvert ! audioresample \
           ! appsink name=a sync=false caps=audio/x-raw,format=S16LE,rate=48000,channels=1",
        path.display()
    );
    let pipeline = gst::parse::launch(&desc)?.downcast::<gst::Pipeline>().unwrap();
    let vsink = pipeline.by_name("v").unwrap().downcast::<gst_app::AppSink>().unwrap();
    let asink = pipeline.by_name("a").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing)?;
    // Pull audio on its own thread so neither branch starves the demuxer.
    let audio = std::thread::spawn(move || {
        let mut chunks = Vec::new();
        while let Ok(sample) = asink.pull_sample() {
            let Some(buffer) = sample.buffer() else { continue };
            let t = Duration::from_nanos(buffer.pts().map_or(0, |t| t.nseconds()));
            let map = buffer.map_readable().unwrap();
            chunks.push((t, map.chunks_exact(2).map(|p| i16::from_le_bytes([p[0], p[1]])).collect()));
        }
        Audio { chunks }
    });
    while let Ok(sample) = vsink.pull_sample() {
        let (Some(buffer), Some(caps)) = (sample.buffer_owned(), sample.caps()) else { continue };
        let info = gst_video::VideoInfo::from_caps(caps)?;
        let pts = Duration::from_nanos(buffer.pts().map_or(0, |t| t.nseconds()));
        on_frame(pts, &Frame::new(buffer, info));
    }
    let audio = audio.join().expect("audio thread");
    let bus = pipeline.bus().unwrap();
    let error = bus.pop_filtered(&[gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null)?;
    if let Some(msg) = error
        && let gst::MessageView::Error(e) = msg.view()
    {
        anyhow::bail!("decoding {}: {}", path.display(), e.error());
    }
    Ok(audio)
}
