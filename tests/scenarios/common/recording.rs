//! Checking recordings with real tools: the GStreamer Discoverer, and decoding the file back
//! to frames and samples.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use gst::prelude::*;
use gst_pbutils::prelude::*;
use tessera_client::Frame;

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

/// How long decoding a recording may take before it is reported as stuck.
const DECODE_LIMIT: Duration = Duration::from_secs(60);

/// Decodes a WebM file: every video frame goes to `on_frame` with its timestamp; returns the
/// audio. Fails with the pipeline's error, or after [`DECODE_LIMIT`] if the file never reaches
/// its end (a demuxer or decoder that stalls instead of posting an error), never hangs.
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
    let deadline = std::time::Instant::now() + DECODE_LIMIT;
    let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    pipeline.set_state(gst::State::Playing)?;
    // Pull audio on its own thread so neither branch starves the demuxer.
    let audio_stopped = stopped.clone();
    let audio = std::thread::spawn(move || {
        let mut chunks = Vec::new();
        while let Some(sample) = pull(&asink, deadline, &audio_stopped) {
            let Some(buffer) = sample.buffer() else { continue };
            let t = Duration::from_nanos(buffer.pts().map_or(0, |t| t.nseconds()));
            let map = buffer.map_readable().unwrap();
            chunks.push((t, map.chunks_exact(2).map(|p| i16::from_le_bytes([p[0], p[1]])).collect()));
        }
        Audio { chunks }
    });
    let bus = pipeline.bus().unwrap();
    let mut failure = None;
    loop {
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
            && let gst::MessageView::Error(e) = msg.view()
        {
            failure = Some(format!("{} ({:?})", e.error(), e.debug()));
            break;
        }
        match vsink.try_pull_sample(gst::ClockTime::from_mseconds(100)) {
            Some(sample) => {
                let (Some(buffer), Some(caps)) = (sample.buffer_owned(), sample.caps()) else { continue };
                let info = gst_video::VideoInfo::from_caps(caps)?;
                let pts = Duration::from_nanos(buffer.pts().map_or(0, |t| t.nseconds()));
                on_frame(pts, &Frame::new(buffer, info));
            }
            None if vsink.is_eos() => break,
            None if std::time::Instant::now() > deadline => {
                failure = Some(format!("no end of stream within {DECODE_LIMIT:?}"));
                break;
            }
            None => {}
        }
    }
    if failure.is_none()
        && let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
        && let gst::MessageView::Error(e) = msg.view()
    {
        failure = Some(format!("{} ({:?})", e.error(), e.debug()));
    }
    // The audio thread ends at its own end of stream: its decoder may still be behind the
    // video's (stopping here cut up to a second of a file's audio). On a failure, stop it now.
    if failure.is_some() {
        stopped.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let audio = audio.join().expect("audio thread");
    pipeline.set_state(gst::State::Null)?;
    if let Some(why) = failure {
        anyhow::bail!("decoding {}: {why}", path.display());
    }
    Ok(audio)
}

/// The next sample of `sink`; `None` at its end, once `stopped`, or past `deadline`.
fn pull(
    sink: &gst_app::AppSink,
    deadline: std::time::Instant,
    stopped: &std::sync::atomic::AtomicBool,
) -> Option<gst::Sample> {
    loop {
        if let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) {
            return Some(sample);
        }
        if sink.is_eos() || std::time::Instant::now() > deadline || stopped.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
    }
}

/// Sends `head` (request line and headers, without the blank line; `Connection: close` is
/// added) and `body` exactly as given, for requests the typed client never makes: no
/// `Content-Length` (what `curl -X POST` sends), or a chunked body. Returns the status and the
/// JSON body (`Null` if none).
pub async fn raw_http(addr: std::net::SocketAddr, head: &str, body: &str) -> anyhow::Result<(u16, serde_json::Value)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n{body}").as_bytes()).await?;
    let mut raw = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut raw)).await??;
    let status = raw.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("no HTTP status")?;
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let json = body.find('{').and_then(|i| serde_json::from_str(&body[i..=body.rfind('}')?]).ok());
    Ok((status, json.unwrap_or(serde_json::Value::Null)))
}

/// A body in HTTP/1.1 chunked encoding, in two chunks.
pub fn chunked(body: &str) -> String {
    let (a, b) = body.split_at(body.len() / 2);
    format!("{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n", a.len(), b.len())
}

/// Checks that a listed recording carries every field the API documents, with sane values.
pub fn assert_listed(rec: &serde_json::Value, id: &str, room: &str, state: &str) {
    assert_eq!(rec["id"].as_str(), Some(id), "{rec}");
    assert_eq!(rec["room"].as_str(), Some(room), "{rec}");
    assert_eq!(rec["state"].as_str(), Some(state), "{rec}");
    let path = rec["path"].as_str().unwrap_or_else(|| panic!("a path: {rec}"));
    assert!(path.ends_with(".webm") || path.ends_with(".mkv"), "{rec}");
    let started = rec["startedAt"].as_str().unwrap_or_else(|| panic!("startedAt: {rec}"));
    let at = humantime::parse_rfc3339(started).unwrap_or_else(|e| panic!("startedAt {started:?}: {e}"));
    let age = std::time::SystemTime::now().duration_since(at).unwrap_or_default();
    assert!(age < Duration::from_secs(120), "started {age:?} ago: {rec}");
    assert!(rec["durationSecs"].as_f64().is_some_and(|d| d >= 0.0), "{rec}");
    assert_eq!(rec["bytes"].as_u64(), std::fs::metadata(path).ok().map(|m| m.len()), "bytes is the file's size: {rec}");
    assert!(rec["droppedVideoFrames"].as_u64().is_some() && rec["droppedAudioFrames"].as_u64().is_some(), "{rec}");
}
